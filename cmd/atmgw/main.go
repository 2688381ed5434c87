// Command atmgw is the gateway daemon of the Bureau of Labor Insurance's ATM
// inquiry service, and its tools.
//
//	atmgw serve   [--config FILE] [--listen ADDR] [--database-url URL]
//	atmgw migrate [--config FILE] [--database-url URL]
//	atmgw load    [--config FILE] [--database-url URL] --dir DIR
//
// Without --config, the built-in example configuration is used (the six
// partners of partner interface v1); without a database URL, serve runs on
// the embedded demo ledger. ATMGW_DATABASE_URL, ATMGW_PAN_KEY and
// ATMGW_MAC_KEY_<institution> override the file; the flags override both.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/bli/atmgw/configs"
	"github.com/bli/atmgw/internal/config"
)

const usage = `usage: atmgw <command> [flags]

commands:
  serve     run the gateway (embedded demo ledger when no database URL is given)
  migrate   create or upgrade the PostgreSQL schema
  load      load the five export files of a directory into PostgreSQL
  version   print the version

Run 'atmgw <command> -h' for the flags of a command.
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stderr)
	case "migrate":
		err = migrate(ctx, args[1:], stdout, stderr)
	case "load":
		err = load(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "atmgw", version)
		return 0
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "atmgw: unknown command %q\n%s", args[0], usage)
		return 2
	}
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "atmgw %s: %s\n", args[0], ue.msg)
		return 2
	}
	var ee exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintf(stderr, "atmgw %s: %s\n", args[0], ee.msg)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "atmgw %s: %s\n", args[0], err)
	return 1
}

// exitError ends a command with a given status.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

// common are the flags that override the configuration file (every
// subcommand takes --config and --database-url; serve the others).
type common struct {
	configPath  string
	databaseURL string
	listen      string
	logLevel    string
	adminListen string
}

func newFlags(name string, c *common, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("atmgw "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.configPath, "config", "", "YAML configuration `file` (default: the built-in example with the six partners)")
	fs.StringVar(&c.databaseURL, "database-url", "", "PostgreSQL `URL` (overrides the file and ATMGW_DATABASE_URL)")
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// loadConfig reads the file (or the built-in example), applies environment
// and flag overrides, and resolves it.
func loadConfig(c *common) (*config.Settings, error) {
	var cfg *config.Config
	if c.configPath == "" {
		cfg = &config.Config{}
		if err := config.Parse(configs.Example, cfg); err != nil {
			return nil, fmt.Errorf("built-in config: %w", err)
		}
	} else {
		var err error
		if cfg, err = config.Load(c.configPath); err != nil {
			return nil, err
		}
	}
	if v := os.Getenv("ATMGW_DATABASE_URL"); v != "" {
		cfg.DatabaseURL = v
	}
	if v := os.Getenv("ATMGW_PAN_KEY"); v != "" {
		cfg.PANKey, cfg.PANKeyFile = v, ""
	}
	for i := range cfg.Partners {
		p := &cfg.Partners[i]
		if v := os.Getenv("ATMGW_MAC_KEY_" + p.Institution); v != "" {
			p.MACKey, p.MACKeyFile = v, ""
		}
	}
	if c.databaseURL != "" {
		cfg.DatabaseURL = c.databaseURL
	}
	if c.listen != "" {
		cfg.Listen = c.listen
	}
	if c.logLevel != "" {
		cfg.LogLevel = c.logLevel
	}
	if c.adminListen != "" {
		cfg.AdminListen = c.adminListen
	}
	s, err := cfg.Resolve()
	if err != nil {
		where := c.configPath
		if where == "" {
			where = "built-in config"
		}
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return s, nil
}
