package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/sim"
	"github.com/bli/atmgw/sim/cards"
)

// ensureDefaultCards creates the default card file from the demo cards
// when no --card-file was given and it does not exist yet.
func ensureDefaultCards(fs *cmdFlags, path string, stderr io.Writer) error {
	if flagSet(fs, "card-file") {
		return nil
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := cards.Demo().Save(path); err != nil {
		return usageErr("creating %s: %v", path, err)
	}
	fmt.Fprintf(stderr, "atmsim: created %s from the demo cards (it keeps their ATCs)\n", path)
	return nil
}

// DefaultCardFile is where the inquiry command keeps its cards when no
// --card-file is given: created from the demo cards on first use, so that
// the ATCs survive between runs.
const defaultCardFile = "atmsim-cards.json"

func inquiry(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("inquiry", stdout, "[flags]")
	gateway := fs.String("gateway", "127.0.0.1:8583", "gateway `host:port`")
	institution := fs.String("institution", "", "institution code (DE32) to sign on as (default: the card's first institution)")
	terminal := fs.String("terminal", "", "terminal id (DE41, 8 characters; default ATM<inst>01)")
	service := fs.String("service", "pension", "pension (380000) or insurance (390000)")
	cardFile := fs.String("card-file", defaultCardFile, "card `file` (JSON); the default one is created from the demo cards when missing")
	pan := fs.String("pan", "", "which card of the file (default: the first one for the institution)")
	macKey := fs.String("mac-key", "", "partner MAC key, 32 hex digits: requests carry DE64 and answers are checked")
	reader := fs.String("reader", "", "use the card in this PC/SC `reader` (name or part of it; \"any\": the first with a card) instead of the card file; needs a build with -tags pcsc")
	replay := fs.Bool("replay", false, "send the card's last ATC again (a cloned card): the gateway should answer 63")
	timeout := fs.Duration("timeout", 10*time.Second, "time allowed for the connection, the sign-on and the answer")
	profiles := fs.String("profiles", sim.DefaultProfiles, "screen/receipt `profiles`: INST=COLSxLINES/COLSxLINES[,INST:PREFIX=...]")
	tlsf := addTLSFlags(fs)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	tlsConf, err := tlsf.config()
	if err != nil {
		return usageErr("%v", err)
	}
	svc, err := sim.ParseService(*service)
	if err != nil {
		return usageErr("--service: %v", err)
	}
	key, err := parseKey(*macKey)
	if err != nil {
		return usageErr("--mac-key: %v", err)
	}
	book, err := sim.ParseProfiles(*profiles)
	if err != nil {
		return usageErr("--profiles: %v", err)
	}
	if *institution != "" && !digits(*institution, 1, 11) {
		return usageErr("--institution %q: want 1 to 11 digits", *institution)
	}
	if *timeout <= 0 {
		return usageErr("--timeout must be positive")
	}

	// The card: from the card file, or from a real (or vpcd) reader.
	var (
		c    *cards.Card
		chip *sim.Chip
	)
	if flagSet(fs, "reader") {
		if *replay {
			return usageErr("--replay works with the card file's virtual cards, not with a reader")
		}
		rctx, cancel := context.WithTimeout(ctx, *timeout)
		chip, err = readerChip(rctx, *reader)
		cancel()
		if err != nil {
			return fail(exitFailed, "%v", err)
		}
		info := chip.Info()
		c = &cards.Card{PAN: info.PAN, Expiry: info.Expiry, Sequence: info.Sequence}
	} else {
		if err := ensureDefaultCards(fs, *cardFile, stderr); err != nil {
			return err
		}
		file, err := cards.Load(*cardFile)
		if err != nil {
			return usageErr("%v", err)
		}
		if c, err = pickCard(file, *pan, *institution); err != nil {
			return usageErr("%v", err)
		}
	}
	inst := *institution
	if inst == "" {
		inst = "700"
		if len(c.Institutions) > 0 {
			inst = c.Institutions[0]
		}
	}
	term := *terminal
	if term == "" {
		term = defaultTerminal(inst)
	}
	if len(term) != 8 {
		return usageErr("--terminal %q: a terminal id is 8 characters", term)
	}
	if chip == nil {
		if chip, err = sim.VirtualChip(c); err != nil {
			return usageErr("%v", err)
		}
	}
	if *replay {
		if err := chip.Replay(); err != nil {
			return usageErr("--replay: card %s: %v", card.MaskPAN(c.PAN), err)
		}
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	conn, code, err := signOn(ctx, *gateway, sim.ConnOptions{Institution: inst, MACKey: key, TLS: tlsConf})
	if err != nil {
		return fail(code, "%v", err)
	}
	defer conn.Close()

	use, err := chip.Generate()
	if err != nil {
		return fail(exitFailed, "card %s: %v", card.MaskPAN(c.PAN), err)
	}
	// The card's counter went up whatever happens next: keep it.
	if !*replay && !flagSet(fs, "reader") {
		if _, err := cards.UpdateATCs(*cardFile, map[string]uint16{c.PAN: use.ICC.ATC}); err != nil {
			return fail(exitFailed, "saving the ATC: %v", err)
		}
	}
	t := sim.Terminal{Institution: inst, ID: term, Acceptor: sim.DefaultAcceptor}
	req := sim.Inquiry(t, svc, use, conn.NextSTAN(), time.Now())
	replayNote := ""
	if *replay {
		replayNote = " (replayed on purpose)"
	}
	fmt.Fprintf(stdout, "atmsim inquiry: %s as institution %s, terminal %s, %s %s, card %s, ATC %d%s\n",
		*gateway, inst, term, svc, svc.ProcessingCode(), card.MaskPAN(c.PAN), use.ICC.ATC, replayNote)
	sent := time.Now()
	resp, err := conn.Do(ctx, req)
	if err != nil {
		return fail(exitUnreachable, "%v", err)
	}
	pair, ok := book.Lookup(inst, term)
	o := sim.Examine(req, resp, pair, ok)
	o.Latency = resp.At.Sub(sent)
	o.Write(stdout)

	// Sign off politely; the answer does not change the outcome.
	soCtx, soCancel := context.WithTimeout(ctx, 2*time.Second)
	conn.Network(soCtx, sim.SignOffCode)
	soCancel()

	switch {
	case len(o.Problems) > 0:
		return fail(exitProtocol, "the answer breaks the contract: %s", strings.Join(o.Problems, "; "))
	case o.Code() != "00":
		return fail(exitDeclined, "declined: %s %s", o.Code(), iso.Describe(o.Code()))
	}
	return nil
}

// pickCard finds the card to use: by PAN, else the file's first card for
// the institution, else the file's first card.
func pickCard(f *cards.File, pan, institution string) (*cards.Card, error) {
	if len(f.Cards) == 0 {
		return nil, errors.New("the card file holds no cards")
	}
	if pan != "" {
		c := f.Find(pan)
		if c == nil {
			return nil, fmt.Errorf("card %s is not in the card file", card.MaskPAN(pan))
		}
		return c, nil
	}
	if institution != "" {
		for i := range f.Cards {
			if len(f.Cards[i].Institutions) > 0 && f.Cards[i].For(institution) {
				return &f.Cards[i], nil
			}
		}
		return nil, fmt.Errorf("no card of institution %s in the card file (give --pan)", institution)
	}
	return &f.Cards[0], nil
}

func defaultTerminal(inst string) string {
	s := fmt.Sprintf("%03s", inst)
	return "ATM" + s[len(s)-3:] + "01"
}

// randomSTAN picks where a one-off connection's STANs start, so that two
// runs in the same second from the same terminal are not duplicates
// (decision 7: DE32+DE41+DE11+DE7).
func randomSTAN() int {
	var b [4]byte
	rand.Read(b[:])
	return int(binary.BigEndian.Uint32(b[:]) % 999000)
}

func parseKey(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	k, err := hex.DecodeString(s)
	if err != nil || len(k) != 16 {
		return nil, errors.New("want 32 hex digits (a 16-byte double-length DES key)")
	}
	return k, nil
}

func digits(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func demoCards(args []string, stdout io.Writer) error {
	fs := newFlags("demo-cards", stdout, "FILE")
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	if err := cards.Demo().Save(fs.Arg(0)); err != nil {
		return usageErr("%v", err)
	}
	fmt.Fprintf(stdout, "wrote %d demo cards to %s\n", len(cards.Demo().Cards), fs.Arg(0))
	return nil
}

// signOn dials the gateway and signs on with a random first STAN. A
// failure comes with the command's exit code: exitSignOn when the gateway
// refused the sign-on, exitUnreachable otherwise.
func signOn(ctx context.Context, addr string, o sim.ConnOptions) (*sim.Conn, int, error) {
	conn, err := sim.Dial(ctx, addr, o)
	if err != nil {
		return nil, exitUnreachable, err
	}
	conn.SetSTAN(randomSTAN())
	if err := conn.SignOn(ctx); err != nil {
		conn.Close()
		var se *sim.SignOnError
		if errors.As(err, &se) {
			return nil, exitSignOn, err
		}
		return nil, exitUnreachable, err
	}
	return conn, 0, nil
}
