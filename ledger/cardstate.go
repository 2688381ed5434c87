package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/bli/atmgw/audit"
	"github.com/bli/atmgw/card"
)

// CardCheck is what decisions 7, 14 and 15 of the contract need of one
// 0200 that passed decisions 3 to 6.
type CardCheck struct {
	// Key is the request's DE32|DE41|DE11|DE7 (decision 7). It is recorded
	// whatever the answer: a request seen is a request seen.
	Key string
	// Card is true when the request passed decisions 8 to 13: then its ATC
	// (decision 14) and the per-card rate (decision 15) are checked, and
	// consumed when accepted. A request declined at 8 to 13 (Card false)
	// consumes neither.
	Card    bool
	PANHash string // card.PANHasher.Hash of DE2 (when Card)
	ATC     uint16 // 9F36 (when Card)
	// Now is the time of the request (the gateway's clock).
	Now time.Time
}

// CardVerdict is the answer of CardState.Check, in the contract's order.
type CardVerdict uint8

const (
	// CardAccepted: not a duplicate; when Card, the ATC was above the
	// highest accepted and the card under its rate, and both are consumed.
	CardAccepted CardVerdict = iota
	// CardDuplicate: decision 7 (94). Nothing else is consumed.
	CardDuplicate
	// CardReplayed: decision 14 (63): the ATC is not above the highest
	// accepted for the card. The rate is not consumed.
	CardReplayed
	// CardOverRate: decision 15 (65). The ATC was consumed (decision 14
	// passed), the rate was not.
	CardOverRate
)

func (v CardVerdict) String() string {
	switch v {
	case CardAccepted:
		return "accepted"
	case CardDuplicate:
		return "duplicate"
	case CardReplayed:
		return "replayed"
	case CardOverRate:
		return "over rate"
	}
	return fmt.Sprintf("CardVerdict(%d)", int(v))
}

// CardState keeps what must hold across gateways and restarts: the
// duplicate window (decision 7), the highest accepted ATC per card
// (decision 14) and the per-card rate (decision 15). Check is one atomic
// step per request: of two concurrent requests with the same ATC for a
// card, exactly one is accepted, on one gateway or on several sharing the
// store. An error wraps ErrUnavailable (the gateway answers 91) unless
// the caller's context ended.
//
// Implementations: NewMemoryCardState (one process: the embedded demo
// ledger, tests, and the fallback of a deployment that chose it), and
// postgres.CardState (on the primary, shared by every gateway on it and
// durable, grouping concurrent checks into one statement and one commit);
// Fallback puts memory behind the primary for an operator who prefers that
// to answering 91 while the primary is down. One suite (package
// cardstatetest) runs against each.
type CardState interface {
	Check(ctx context.Context, c CardCheck) (CardVerdict, error)
	Close()
}

// Journal is the audit record of the answer a check decides, for a card
// state that commits it in the check's own transaction (Journaling).
type Journal struct {
	// Record is the answer's record, all but its response code.
	Record audit.Record
	// Codes are the answer's response code for each verdict, by
	// CardVerdict: the record is stored with Codes[verdict].
	Codes [CardOverRate + 1]string
}

// Journaling is a CardState that can commit the audit record of the answer
// a check decides in the transaction of that check: one round trip and
// one commit on the primary for decisions 7, 14, 15 and the write-ahead
// audit trail, instead of one each (postgres.CardState opened with an
// audit trail). journaled is true when the record is durable with the
// check; false when the check was answered without it (no audit trail
// behind this card state, the primary refused the record, a Fallback
// answering from memory): the caller then writes the record itself. An
// error is Check's; the record is then not known durable.
type Journaling interface {
	CardState
	CheckJournaled(ctx context.Context, c CardCheck, j *Journal) (v CardVerdict, journaled bool, err error)
}

// Defaults of CardStateOptions.
const (
	DefaultDuplicateWindow = 10 * time.Minute
	DefaultRateLimit       = card.DefaultRateLimit
	DefaultRateWindow      = card.DefaultRateWindow
)

// CardStateOptions are the rules every CardState applies. Zero values take
// the defaults; RateLimit below 0 turns decision 15 off.
type CardStateOptions struct {
	DuplicateWindow time.Duration // default 10 minutes
	RateLimit       int           // inquiries per card in RateWindow; default 10; < 0: off
	RateWindow      time.Duration // default 10 minutes
}

// Defaults returns o with the defaults filled in (RateLimit 0 means off
// from here on).
func (o CardStateOptions) Defaults() CardStateOptions {
	if o.DuplicateWindow <= 0 {
		o.DuplicateWindow = DefaultDuplicateWindow
	}
	switch {
	case o.RateLimit == 0:
		o.RateLimit = DefaultRateLimit
	case o.RateLimit < 0:
		o.RateLimit = 0
	}
	if o.RateWindow <= 0 {
		o.RateWindow = DefaultRateWindow
	}
	return o
}

// MemoryCardState is a CardState in this process's memory: lost on
// restart, not shared with other gateways. The embedded demo ledger uses
// it, and so does a deployment that chose to fall back to it while the
// primary is down (see Fallback).
type MemoryCardState struct {
	dupes *dupes
	atc   *card.ATCTracker
	rate  *card.RateLimiter
}

var _ CardState = (*MemoryCardState)(nil)

// NewMemoryCardState returns an empty in-memory card state.
func NewMemoryCardState(o CardStateOptions) *MemoryCardState {
	o = o.Defaults()
	return &MemoryCardState{
		dupes: newDupes(o.DuplicateWindow),
		atc:   card.NewATCTracker(),
		rate:  card.NewRateLimiter(o.RateLimit, o.RateWindow),
	}
}

// Check implements CardState.
func (m *MemoryCardState) Check(ctx context.Context, c CardCheck) (CardVerdict, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if m.dupes.seen(c.Key, c.Now) {
		return CardDuplicate, nil
	}
	if !c.Card {
		return CardAccepted, nil
	}
	if !m.atc.Accept(c.PANHash, c.ATC) {
		return CardReplayed, nil
	}
	if !m.rate.Allow(c.PANHash, c.Now) {
		return CardOverRate, nil
	}
	return CardAccepted, nil
}

// Close implements CardState.
func (m *MemoryCardState) Close() {}

// Fallback is a CardState that asks primary and, while primary is
// unavailable, answers from memory (per process: a replay, a duplicate or
// a card over its rate at another gateway is not seen meanwhile). Every
// check answered from memory is counted (Fallbacks), and the switch each
// way is logged once. It is what an operator gets with
// card_state.when_primary_down: memory; the default is to answer 91.
type Fallback struct {
	primary CardState
	memory  CardState
	log     *zap.Logger
	onUse   func() // counts a check answered from memory (nil: none)

	down  atomic.Bool
	count atomic.Uint64
}

var _ CardState = (*Fallback)(nil)

// NewFallback puts memory behind primary. onUse (nil: none) is called for
// every check answered from memory.
func NewFallback(primary, memory CardState, log *zap.Logger, onUse func()) *Fallback {
	if log == nil {
		log = zap.NewNop()
	}
	return &Fallback{primary: primary, memory: memory, log: log, onUse: onUse}
}

// Check implements CardState.
func (f *Fallback) Check(ctx context.Context, c CardCheck) (CardVerdict, error) {
	v, err := f.primary.Check(ctx, c)
	if err == nil {
		f.up()
		return v, nil
	}
	if ctx.Err() != nil || !errors.Is(err, ErrUnavailable) {
		return v, err
	}
	return f.fromMemory(ctx, c, err)
}

// up notes an answer of the primary (logged when it was down).
func (f *Fallback) up() {
	if f.down.Swap(false) {
		f.log.Warn("card state: primary back: decisions 7, 14, 15 are shared again",
			zap.Uint64("checked_in_memory", f.count.Load()))
	}
}

// fromMemory answers c from memory, the primary having failed with err.
func (f *Fallback) fromMemory(ctx context.Context, c CardCheck, err error) (CardVerdict, error) {
	if !f.down.Swap(true) {
		f.log.Error("card state: primary unavailable: decisions 7, 14, 15 fall back to this gateway's memory (card_state.when_primary_down: memory)", zap.Error(err))
	}
	f.count.Add(1)
	if f.onUse != nil {
		f.onUse()
	}
	return f.memory.Check(ctx, c)
}

var _ Journaling = (*Fallback)(nil)

// CheckJournaled implements Journaling: the primary's CheckJournaled when
// it is Journaling (else its Check), and memory's Check, never journaled,
// while it is unavailable.
func (f *Fallback) CheckJournaled(ctx context.Context, c CardCheck, j *Journal) (CardVerdict, bool, error) {
	jp, ok := f.primary.(Journaling)
	if !ok {
		v, err := f.Check(ctx, c)
		return v, false, err
	}
	v, journaled, err := jp.CheckJournaled(ctx, c, j)
	if err == nil {
		f.up()
		return v, journaled, nil
	}
	if ctx.Err() != nil || !errors.Is(err, ErrUnavailable) {
		return v, false, err
	}
	v, err = f.fromMemory(ctx, c, err)
	return v, false, err
}

// Fallbacks is the number of checks answered from memory so far.
func (f *Fallback) Fallbacks() uint64 { return f.count.Load() }

// Close implements CardState: it closes both.
func (f *Fallback) Close() {
	f.primary.Close()
	f.memory.Close()
}

// Ping is nil: while the primary is down, memory answers.
func (f *Fallback) Ping(context.Context) error { return nil }
