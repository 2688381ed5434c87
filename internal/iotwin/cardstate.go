package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/bli/atmgw/audit"
	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/postgres"
)

// cardState is --writes atmgw: the gateway's own card state on the
// primary (postgres.CardState, its batching and its statement), journaling
// each inquiry's audit record as the gateway does (CheckJournaled), with
// the rate limit off and a 10-minute duplicate window, as scripts/bench
// configures the gateway. The twin then differs from the gateway only in
// what it does around the I/O.
type cardState struct {
	cs    *postgres.CardState
	trail *audit.Writer
	spool string
}

func openCardState(ctx context.Context, url string, workers int) (*cardState, error) {
	spool, err := os.MkdirTemp("", "iotwin-spool-")
	if err != nil {
		return nil, err
	}
	// The trail only names and counts the records the card state commits
	// (Prepare, Journaled): no database of its own, an empty spool.
	trail, err := audit.Open(ctx, audit.Options{SpoolDir: spool})
	if err != nil {
		os.RemoveAll(spool)
		return nil, err
	}
	cs, err := postgres.OpenCardState(ctx, url, postgres.CardStateOptions{
		CardStateOptions: ledger.CardStateOptions{DuplicateWindow: 10 * time.Minute, RateLimit: -1},
		Workers:          workers,
		Journal:          trail,
	})
	if err != nil {
		trail.Close(ctx)
		os.RemoveAll(spool)
		return nil, fmt.Errorf("card state: %w", err)
	}
	return &cardState{cs: cs, trail: trail, spool: spool}, nil
}

// check is the gateway's step for decisions 7, 14 and 15 with the
// answer's record (gateway.Handler): the request's key, its card's ATC
// and PAN hash, one CheckJournaled. Only an error matters here: the twin
// approves.
func (c *cardState) check(ctx context.Context, m *iso.Message, hash string) error {
	icc, _ := card.ParseICC(m.ICC, m.CardSequence)
	now := time.Now()
	_, journaled, err := c.cs.CheckJournaled(ctx, ledger.CardCheck{
		Key:     m.Institution + "|" + m.TerminalID + "|" + m.STAN + "|" + m.TransmissionTime,
		Card:    true,
		PANHash: hash,
		ATC:     icc.ATC,
		Now:     now,
	}, &ledger.Journal{
		Record: audit.Record{Time: now, Institution: m.Institution, Terminal: m.TerminalID, STAN: m.STAN, RRN: m.RRN,
			Service: "pension", PANHash: hash},
		Codes: [...]string{iso.RCApproved, iso.RCDuplicate, iso.RCSecurityViolation, iso.RCFrequencyLimit},
	})
	if err == nil && !journaled {
		err = fmt.Errorf("the record was not journaled")
	}
	return err
}

func (c *cardState) close() {
	c.cs.Close()
	c.trail.Close(context.Background())
	os.RemoveAll(c.spool)
}
