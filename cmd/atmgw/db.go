package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/bli/atmgw/internal/app"
	"github.com/bli/atmgw/ledger/postgres"
)

func needDatabase(cfgURL string) error {
	if cfgURL == "" {
		return usageError{"no database: give --database-url, ATMGW_DATABASE_URL or database_url in the config file"}
	}
	return nil
}

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlags("migrate", &c, stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(&c)
	if err != nil {
		return err
	}
	if err := needDatabase(cfg.DatabaseURL); err != nil {
		return err
	}
	octx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := postgres.Open(octx, cfg.DatabaseURL, postgres.Options{MaxConns: 2})
	if err != nil {
		return err
	}
	defer st.Close()
	applied, err := postgres.Migrate(ctx, st.Pool())
	if err != nil {
		return err
	}
	if applied == 0 {
		fmt.Fprintln(stdout, "schema is up to date")
	} else {
		fmt.Fprintf(stdout, "applied %d migration(s)\n", applied)
	}
	return nil
}

func load(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlags("load", &c, stderr)
	dir := fs.String("dir", "", "`directory` holding persons.csv, pension_ledger.csv, insurance_events.csv, consents.csv and as_of.txt")
	progress := fs.Bool("progress", isTerminal(stderr), "show progress on stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usageError{"--dir is required"}
	}
	if st, err := os.Stat(*dir); err != nil || !st.IsDir() {
		return fmt.Errorf("--dir %s: not a directory", *dir)
	}
	cfg, err := loadConfig(&c)
	if err != nil {
		return err
	}
	if err := needDatabase(cfg.DatabaseURL); err != nil {
		return err
	}
	h, err := app.Hasher(cfg)
	if err != nil {
		return err
	}
	octx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := postgres.Open(octx, cfg.DatabaseURL, postgres.Options{MaxConns: 4})
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := postgres.Migrate(ctx, st.Pool()); err != nil {
		return err
	}
	var bar *progressBar
	var pf postgres.Progress
	if *progress {
		bar = newProgressBar(stderr)
		pf = bar.update
	}
	rep, err := postgres.Load(ctx, st.Pool(), *dir, h, pf)
	if bar != nil {
		bar.done()
	}
	if err != nil {
		return err
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(stderr, "%s:%d: %s\n", e.File, e.Line, e.Reason)
	}
	fmt.Fprint(stdout, rep.Summary())
	if n := len(rep.Errors); n > 0 {
		return exitError{code: 1, msg: fmt.Sprintf("%d row(s) refused (listed above); the good rows were loaded", n)}
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
