package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/bli/atmgw/sim/cards"
	"github.com/bli/atmgw/sim/load"
	"github.com/bli/atmgw/sim/progress"
)

func loadCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, fs, err := parseLoadFlags(args, stdout)
	if err != nil {
		return err
	}
	if err := ensureDefaultCards(fs, o.cardFile, stderr); err != nil {
		return err
	}
	if o.cfg.Cards, err = o.readCards(); err != nil {
		return err
	}
	var line *progress.Line
	if o.showProgress || isTerminal(stderr) {
		o.cfg.OnStart = func(c *load.Collector) { line = startLoadProgress(stderr, c, o.cfg.Count, o.cfg.Duration) }
	}
	res, err := load.Run(ctx, o.cfg)
	if line != nil {
		line.Stop()
	}
	if err != nil {
		return loadRunError(err)
	}
	return o.report(res, stdout, stderr)
}

// loadOpts are the flags of atmsim load: the run's configuration and what
// to do around it.
type loadOpts struct {
	cfg          load.Config // without its cards
	cardFile     string
	cardsExpect  string
	maxCards     int
	jsonOut      string
	svgOut       string
	showProgress bool
	noSave       bool
}

// parseLoadFlags reads and checks the flags of atmsim load.
func parseLoadFlags(args []string, stdout io.Writer) (*loadOpts, *cmdFlags, error) {
	fs := newFlags("load", stdout, "[flags]")
	gateway := fs.String("gateway", "127.0.0.1:8583", "gateway `host:port`")
	conns := fs.Int("connections", 4, "connections, each signed on as one institution")
	insts := fs.String("institution", "700", "institution(s) to sign on as, comma-separated: connections take them in turn")
	macKeys := fs.String("mac-key", "", "MAC key(s): 32 hex digits for every institution, or INST=HEX,INST=HEX")
	cardFile := fs.String("card-file", defaultCardFile, "card `file` (JSON), e.g. the cards.json of atmsim gen; ATCs are saved back")
	cardsExpect := fs.String("cards-expect", "", "use only the cards whose expected answer for the service is this `code` (e.g. 00)")
	maxCards := fs.Int("max-cards", 0, "use at most this many cards per run (0: all that match)")
	service := fs.String("service", "pension", "pension, insurance or mix (alternating)")
	rate := fs.Float64("rate", 0, "target requests per second in all (open loop); 0: as fast as the gateway answers (closed loop)")
	window := fs.Int("window", 8, "outstanding requests per connection at most")
	duration := fs.Duration("duration", 10*time.Second, "how long to send (0 with --count: until the count is sent)")
	count := fs.Int64("count", 0, "stop after sending this many requests (0: --duration decides)")
	timeout := fs.Duration("timeout", 5*time.Second, "a request unanswered this long counts as timed out")
	interval := fs.Duration("interval", time.Second, "resolution of the series in the JSON and the plot")
	jsonOut := fs.String("json", "", "write the report as JSON to this `file`")
	svgOut := fs.String("svg", "", "write a plot of throughput and latency over time to this SVG `file`")
	terminal := fs.String("terminal", "LD", "terminal id prefix (connection i is PREFIX + i, 8 characters)")
	showProgress := fs.Bool("progress", false, "draw a progress line on stderr even when it is not a terminal")
	noSave := fs.Bool("no-save", false, "do not write the cards' ATCs back to the card file")
	tlsf := addTLSFlags(fs)
	if err := parse(fs, args, 0); err != nil {
		return nil, nil, err
	}
	tlsConf, err := tlsf.config()
	if err != nil {
		return nil, nil, usageErr("%v", err)
	}
	var institutions []string
	for _, s := range strings.Split(*insts, ",") {
		s = strings.TrimSpace(s)
		if !digits(s, 1, 11) {
			return nil, nil, usageErr("--institution %q: want 1 to 11 digits", s)
		}
		institutions = append(institutions, s)
	}
	keys, err := parseKeys(*macKeys, institutions)
	if err != nil {
		return nil, nil, usageErr("--mac-key: %v", err)
	}
	switch *service {
	case "pension", "insurance", "mix":
	default:
		return nil, nil, usageErr("--service %q: want pension, insurance or mix", *service)
	}
	if *count < 0 || *duration < 0 || (*count == 0 && *duration == 0) {
		return nil, nil, usageErr("give a positive --duration or --count")
	}
	if *count > 0 && !flagSet(fs, "duration") {
		*duration = 0
	}
	if *conns < 1 || *window < 1 || *timeout <= 0 || *rate < 0 || *interval <= 0 {
		return nil, nil, usageErr("--connections, --window, --timeout and --interval must be positive, --rate not negative")
	}
	if *cardsExpect != "" && len(*cardsExpect) != 2 {
		return nil, nil, usageErr("--cards-expect %q: want a two-character response code", *cardsExpect)
	}
	return &loadOpts{
		cfg: load.Config{
			Gateway: *gateway, Connections: *conns, Institutions: institutions, MACKeys: keys,
			Service: *service, Rate: *rate, Window: *window, Duration: *duration,
			Count: *count, Timeout: *timeout, Interval: *interval, Terminal: *terminal, TLS: tlsConf,
		},
		cardFile: *cardFile, cardsExpect: *cardsExpect, maxCards: *maxCards,
		jsonOut: *jsonOut, svgOut: *svgOut, showProgress: *showProgress, noSave: *noSave,
	}, fs, nil
}

// readCards reads the cards of the run: only those of its institutions
// (and expectation), read card by card so that a generated file of
// millions stays cheap.
func (o *loadOpts) readCards() ([]cards.Card, error) {
	f, err := os.Open(o.cardFile)
	if err != nil {
		return nil, usageErr("card file: %v", err)
	}
	service := o.cfg.Service
	var list []cards.Card
	errFull := errors.New("full")
	err = cards.Scan(f, func(c cards.Card) error {
		ok := false
		for _, in := range o.cfg.Institutions {
			if len(c.Institutions) > 0 && c.For(in) {
				ok = true
			}
		}
		if !ok {
			return nil
		}
		if o.cardsExpect != "" {
			svcs := []string{service}
			if service == "mix" {
				svcs = []string{cards.Pension, cards.Insurance}
			}
			for _, s := range svcs {
				if c.Expected(s) != o.cardsExpect {
					return nil
				}
			}
		}
		list = append(list, c)
		if o.maxCards > 0 && len(list) >= o.maxCards {
			return errFull
		}
		return nil
	})
	f.Close()
	if err != nil && !errors.Is(err, errFull) {
		return nil, usageErr("card file %s: %v", o.cardFile, err)
	}
	return list, nil
}

// startLoadProgress draws the progress line of a run on stderr: the share
// done (of count, else of total), what was sent and answered, the p99.
func startLoadProgress(stderr io.Writer, col *load.Collector, count int64, total time.Duration) *progress.Line {
	return progress.Start(stderr, 250*time.Millisecond, func() string {
		s := col.Snapshot(time.Now())
		frac := 0.0
		switch {
		case count > 0:
			frac = float64(s.Sent) / float64(count)
		case total > 0:
			frac = s.Elapsed.Seconds() / total.Seconds()
		}
		return fmt.Sprintf("load %s %5.1fs sent %d answered %d timed out %d in flight %d %s p99 %.2fms",
			progress.Bar(20, frac), s.Elapsed.Seconds(), s.Sent, s.Answered, s.TimedOut, s.InFlight,
			progress.Rate(float64(s.Answered)/max(s.Elapsed.Seconds(), 1e-3)), s.P99)
	})
}

// loadRunError is the exit of a run that could not start.
func loadRunError(err error) error {
	switch {
	case errors.Is(err, load.ErrConfig):
		return usageErr("%v", err)
	case errors.Is(err, load.ErrSignOn):
		return fail(exitSignOn, "%v", err)
	case errors.Is(err, load.ErrUnreachable):
		return fail(exitUnreachable, "%v", err)
	}
	return fail(exitFailed, "%v", err)
}

// report saves the cards' ATCs (unless --no-save), writes the report (text
// on stdout, --json, --svg) and fails when its accounting does not hold.
func (o *loadOpts) report(res *load.Result, stdout, stderr io.Writer) error {
	rep := res.Report
	if !o.noSave {
		if _, err := cards.UpdateATCs(o.cardFile, res.ATCs); err != nil {
			fmt.Fprintf(stderr, "atmsim load: saving the ATCs: %v\n", err)
		}
	}
	rep.WriteText(stdout)
	if o.jsonOut != "" {
		if err := cards.WriteAtomic(o.jsonOut, rep.WriteJSON); err != nil {
			return fail(exitFailed, "--json: %v", err)
		}
	}
	if o.svgOut != "" {
		if err := cards.WriteAtomic(o.svgOut, rep.WriteSVG); err != nil {
			return fail(exitFailed, "--svg: %v", err)
		}
	}
	if !rep.AccountingOK {
		return fail(exitFailed, "accounting mismatch: sent %d, answered %d, timed out %d", rep.Sent, rep.Answered, rep.TimedOut)
	}
	return nil
}

// parseKeys reads "HEX" (every institution) or "INST=HEX,INST=HEX".
func parseKeys(s string, institutions []string) (map[string][]byte, error) {
	keys := map[string][]byte{}
	if s == "" {
		return keys, nil
	}
	if !strings.Contains(s, "=") {
		k, err := parseKey(s)
		if err != nil {
			return nil, err
		}
		for _, in := range institutions {
			keys[in] = k
		}
		return keys, nil
	}
	for _, ent := range strings.Split(s, ",") {
		in, h, _ := strings.Cut(strings.TrimSpace(ent), "=")
		if !digits(in, 1, 11) {
			return nil, fmt.Errorf("%q: want INST=HEX", ent)
		}
		k, err := parseKey(h)
		if err != nil {
			return nil, fmt.Errorf("institution %s: %v", in, err)
		}
		keys[in] = k
	}
	return keys, nil
}
