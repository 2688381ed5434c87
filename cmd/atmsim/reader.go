package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/sim"
	"github.com/bli/atmgw/sim/applet"
	"github.com/bli/atmgw/sim/cards"
	"github.com/bli/atmgw/sim/pcsc"
	"github.com/bli/atmgw/sim/vpcd"
)

// readerChip opens a PC/SC reader ("any": the first reader with a card)
// and reads the card in it.
func readerChip(ctx context.Context, name string) (*sim.Chip, error) {
	if !pcsc.Built {
		return nil, errors.New("--reader: this atmsim was built without PC/SC support: go build -tags pcsc ./cmd/atmsim (needs libpcsclite-dev)")
	}
	if name == "any" {
		name = ""
	}
	t, _, err := pcsc.Open(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("reader %q: %w", name, err)
	}
	// The reader stays open until the process ends (one inquiry per run).
	chip, err := sim.NewChip(t)
	if err != nil {
		return nil, fmt.Errorf("reader %q: %w", name, err)
	}
	return chip, nil
}

// readers lists the PC/SC readers.
func readers(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("readers", stdout, "")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if !pcsc.Built {
		return usageErr("this atmsim was built without PC/SC support: go build -tags pcsc ./cmd/atmsim (needs libpcsclite-dev)")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	names, err := pcsc.Readers(ctx)
	if err != nil {
		return fail(exitFailed, "%v", err)
	}
	for _, n := range names {
		fmt.Fprintln(stdout, n)
	}
	return nil
}

// vpcdCmd puts a card of the card file into vsmartcard's virtual reader
// (vpcd), so that `atmsim inquiry --reader` (or any PC/SC program) reaches
// it through the real PC/SC stack. It runs until interrupted and then saves
// the card's ATC back to the file.
func vpcdCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("vpcd", stdout, "[flags]")
	addr := fs.String("addr", vpcd.DefaultAddr, "`host:port` where vpcd waits for its card")
	cardFile := fs.String("card-file", defaultCardFile, "card `file` (JSON)")
	pan := fs.String("pan", "", "which card of the file (default: the first)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	file, err := cards.Load(*cardFile)
	if err != nil {
		return usageErr("%v", err)
	}
	c, err := pickCard(file, *pan, "")
	if err != nil {
		return usageErr("%v", err)
	}
	key, err := c.KeyBytes()
	if err != nil {
		return usageErr("%v", err)
	}
	vc := &applet.Card{PAN: c.PAN, Expiry: c.Expiry, Sequence: c.Sequence, Key: key, ATC: c.ATC}
	fmt.Fprintf(stdout, "atmsim vpcd: card %s in the virtual reader at %s (Ctrl-C to take it out)\n", card.MaskPAN(c.PAN), *addr)
	serveErr := vpcd.Serve(ctx, *addr, vc)
	// Serve has returned: the card is ours again; keep its counter.
	if _, err := cards.UpdateATCs(*cardFile, map[string]uint16{c.PAN: vc.ATC}); err != nil {
		return fail(exitFailed, "saving the ATC: %v", err)
	}
	if serveErr != nil {
		return fail(exitUnreachable, "%v", serveErr)
	}
	return nil
}
