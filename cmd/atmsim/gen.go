package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/bli/atmgw/sim/gen"
	"github.com/bli/atmgw/sim/progress"
)

func genCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("gen", stdout, "[flags] --dir DIR")
	dir := fs.String("dir", "", "output `directory` (created when missing)")
	persons := fs.Int("persons", 10000, "insured persons to generate")
	seed := fs.Uint64("seed", 1, "random seed: the same seed and flags give the same files")
	asOf := fs.String("as-of", gen.DefaultAsOf, "export date YYYY-MM-DD (as_of.txt)")
	years := fs.Int("years", gen.DefaultYears, "years of history before the as-of date")
	workers := fs.Int("workers", 0, "generating goroutines (default: the CPUs); does not change the output")
	showProgress := fs.Bool("progress", false, "draw a progress bar even when stderr is not a terminal")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if *dir == "" {
		return usageErr("--dir is required")
	}
	if *persons < 1 {
		return usageErr("--persons must be at least 1")
	}
	when, err := time.Parse(time.DateOnly, *asOf)
	if err != nil {
		return usageErr("--as-of %q: want YYYY-MM-DD", *asOf)
	}
	var done atomic.Int64
	var line *progress.Line
	start := time.Now()
	if *showProgress || isTerminal(stderr) {
		line = progress.Start(stderr, 250*time.Millisecond, func() string {
			n := done.Load()
			el := time.Since(start).Seconds()
			rate := float64(n) / max(el, 1e-3)
			eta := ""
			if n > 0 {
				eta = fmt.Sprintf(" ETA %s", (time.Duration(float64(int64(*persons)-n)/rate) * time.Second).Round(time.Second))
			}
			return fmt.Sprintf("gen %s %d/%d persons %s%s", progress.Bar(30, float64(n)/float64(*persons)), n, *persons, progress.Rate(rate), eta)
		})
	}
	sum, err := gen.Generate(ctx, gen.Options{
		Dir: *dir, Persons: *persons, Seed: *seed, AsOf: when, Years: *years, Workers: *workers,
		Progress: func(n int) { done.Store(int64(n)) },
	})
	if line != nil {
		line.Stop()
	}
	if err != nil {
		return fail(exitFailed, "%v", err)
	}
	el := time.Since(start)
	fmt.Fprintf(stdout, "atmsim gen: %d persons, %d pension rows, %d insurance events, %d consents, %d cards (%.0f MB) in %s into %s\n",
		sum.Persons, sum.PensionRows, sum.InsuranceRows, sum.Consents, sum.Cards, float64(sum.Bytes)/1e6, el.Round(time.Millisecond), *dir)
	return nil
}

// isTerminal reports whether w is a terminal (a progress bar is drawn only
// there, unless asked for).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && progress.IsTerminal(f)
}
