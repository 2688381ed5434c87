package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: atmsim <command> [flags]

commands:
  inquiry   sign on and make one inquiry with a virtual chip card; show the screen and receipt
  consent   sign on and register (add, replace) or revoke a consent online (0302)
  script    run a scenario file (YAML) and report each step
  load      drive the gateway with many connections; report throughput and latency
  gen       generate large load files (the five files of atmgw load) and a card file
  demo-cards  write the demo card file (the embedded demo ledger's cards) to a file
  readers   list the PC/SC card readers (a build with -tags pcsc)
  vpcd      put a card of the card file into vsmartcard's virtual reader (vpcd)

Run 'atmsim <command> -h' for the flags of a command. Exit status 2 is a
mistake in the command line or its input files; see docs/simulator.md for
the others.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit statuses shared by the commands.
const (
	exitOK          = 0
	exitDeclined    = 1 // inquiry: answered with a code other than 00; script: a step failed
	exitUsage       = 2 // bad flags or bad input files
	exitUnreachable = 3 // no connection, connection lost, no answer in time
	exitSignOn      = 4 // the gateway refused the sign-on
	exitProtocol    = 5 // the answer breaks the contract (decoding, MAC, layout, fields)
	exitFailed      = 6 // load: accounting or run failure; gen: write failure
)

// exitError ends a command with a status and one line on stderr.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func fail(code int, format string, args ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, args...)}
}

func usageErr(format string, args ...any) error { return fail(exitUsage, format, args...) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "inquiry":
		err = inquiry(ctx, args[1:], stdout, stderr)
	case "consent":
		err = consentCmd(ctx, args[1:], stdout, stderr)
	case "script":
		err = script(ctx, args[1:], stdout, stderr)
	case "load":
		err = loadCmd(ctx, args[1:], stdout, stderr)
	case "gen":
		err = genCmd(ctx, args[1:], stdout, stderr)
	case "demo-cards":
		err = demoCards(args[1:], stdout)
	case "readers":
		err = readers(ctx, args[1:], stdout)
	case "vpcd":
		err = vpcdCmd(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "atmsim: unknown command %q (inquiry, consent, script, load, gen, demo-cards, readers, vpcd)\n", args[0])
		return exitUsage
	}
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintf(stderr, "atmsim %s: %s\n", args[0], ee.msg)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "atmsim %s: %s\n", args[0], err)
	return exitFailed
}

// newFlags makes a flag set that reports a bad flag in one line (by the
// caller) and prints its help to stdout on -h.
func newFlags(name string, stdout io.Writer, synopsis string) *cmdFlags {
	fs := flag.NewFlagSet("atmsim "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // a bad flag is one line (parse); -h prints the help (parse)
	cf := &cmdFlags{FlagSet: fs}
	cf.help = func() {
		var b bytes.Buffer
		fs.SetOutput(&b)
		fmt.Fprintf(&b, "usage: atmsim %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		stdout.Write(b.Bytes())
	}
	return cf
}

// cmdFlags is a command's flag set and its help printer.
type cmdFlags struct {
	*flag.FlagSet
	help func()
}

// parse parses flags; want is the number of positional arguments (-1: any).
func parse(fs *cmdFlags, args []string, want int) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.help()
			return err
		}
		return usageErr("%v (see -h)", err)
	}
	if want >= 0 && fs.NArg() != want {
		if fs.NArg() > want {
			return usageErr("unexpected argument %q (see -h)", fs.Arg(want))
		}
		return usageErr("missing argument (see -h)")
	}
	return nil
}

// flagSet reports whether a flag was given on the command line.
func flagSet(fs *cmdFlags, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}
