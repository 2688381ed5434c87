package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/cardstatetest"
)

func TestMemoryCardState(t *testing.T) {
	cardstatetest.Run(t, func(t *testing.T, o ledger.CardStateOptions) ledger.CardState {
		return ledger.NewMemoryCardState(o)
	})
}

// sharedMemory is one MemoryCardState behind two handles, whose Close
// does nothing: the shared suite's two gateways on one store.
type sharedMemory struct{ *ledger.MemoryCardState }

func (sharedMemory) Close() {}

func TestMemoryCardStateShared(t *testing.T) {
	cardstatetest.RunShared(t, func(t *testing.T, o ledger.CardStateOptions) (ledger.CardState, ledger.CardState) {
		m := ledger.NewMemoryCardState(o)
		return sharedMemory{m}, sharedMemory{m}
	})
}

// flakyCardState answers from memory, or fails with ErrUnavailable (or
// another error) while told to, counting the calls that reached it.
type flakyCardState struct {
	mem    *ledger.MemoryCardState
	mu     sync.Mutex
	err    error
	calls  atomic.Int64
	closed atomic.Bool
}

func (f *flakyCardState) Check(ctx context.Context, c ledger.CardCheck) (ledger.CardVerdict, error) {
	f.calls.Add(1)
	f.mu.Lock()
	err := f.err
	f.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return f.mem.Check(ctx, c)
}

func (f *flakyCardState) Close() { f.closed.Store(true) }

func (f *flakyCardState) fail(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func TestFallback(t *testing.T) {
	primary := &flakyCardState{mem: ledger.NewMemoryCardState(ledger.CardStateOptions{})}
	memory := &flakyCardState{mem: ledger.NewMemoryCardState(ledger.CardStateOptions{})}
	core, logs := observer.New(zapcore.DebugLevel)
	var used atomic.Int64
	f := ledger.NewFallback(primary, memory, zap.New(core), func() { used.Add(1) })
	n := 0
	check := func(atc uint16) (ledger.CardVerdict, error) {
		n++
		return f.Check(context.Background(), ledger.CardCheck{
			Key: fmt.Sprint("700|ATM1|", n, "|1102093000"), Card: true,
			PANHash: cardstatetest.Hash("A"), ATC: atc, Now: cardstatetest.T0,
		})
	}

	// The primary answers: memory is not asked.
	if v, err := check(1); v != ledger.CardAccepted || err != nil {
		t.Fatalf("primary up: %v %v", v, err)
	}
	if v, err := check(1); v != ledger.CardReplayed || err != nil {
		t.Fatalf("primary up, replay: %v %v", v, err)
	}
	if memory.calls.Load() != 0 || f.Fallbacks() != 0 {
		t.Fatalf("memory asked while the primary answers")
	}

	// The primary down: memory answers (it has not seen ATC 1: per process), counted, logged once.
	primary.fail(fmt.Errorf("card state: primary down: %w", ledger.ErrUnavailable))
	for i := range 3 {
		if v, err := check(1); v != []ledger.CardVerdict{ledger.CardAccepted, ledger.CardReplayed, ledger.CardReplayed}[i] || err != nil {
			t.Fatalf("fallback %d: %v %v", i, v, err)
		}
	}
	if f.Fallbacks() != 3 || used.Load() != 3 || memory.calls.Load() != 3 {
		t.Fatalf("fallbacks %d, onUse %d, memory calls %d: want 3", f.Fallbacks(), used.Load(), memory.calls.Load())
	}
	if got := logs.FilterMessageSnippet("fall back").Len(); got != 1 {
		t.Fatalf("%d 'fall back' logs, want 1", got)
	}

	// A caller's cancelled context is not a fallback.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	primary.fail(context.Canceled)
	if _, err := f.Check(ctx, ledger.CardCheck{Key: "x", Now: cardstatetest.T0}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	// Nor is an error other than ErrUnavailable.
	other := errors.New("a bug")
	primary.fail(other)
	if _, err := check(9); !errors.Is(err, other) {
		t.Fatalf("other error: %v", err)
	}
	if f.Fallbacks() != 3 {
		t.Fatalf("fallbacks %d after a cancel and another error, want 3", f.Fallbacks())
	}

	// The primary back: it answers again (its ATC 1 is still consumed), logged once.
	primary.fail(nil)
	if v, err := check(1); v != ledger.CardReplayed || err != nil {
		t.Fatalf("primary back: %v %v", v, err)
	}
	if v, err := check(2); v != ledger.CardAccepted || err != nil {
		t.Fatalf("primary back: %v %v", v, err)
	}
	if memory.calls.Load() != 3 || f.Fallbacks() != 3 {
		t.Fatalf("memory asked after the primary came back")
	}
	if got := logs.FilterMessageSnippet("primary back").Len(); got != 1 {
		t.Fatalf("%d 'primary back' logs, want 1", got)
	}
	for _, e := range logs.All() {
		for _, fld := range e.Context {
			if s := fmt.Sprint(fld.Interface, fld.String); strings.Contains(s, cardstatetest.Hash("A")) {
				t.Fatalf("a PAN hash in the log: %v", e)
			}
		}
	}

	f.Close()
	if !primary.closed.Load() || !memory.closed.Load() {
		t.Fatalf("Close closes both")
	}
}

// journalingFlaky is a flakyCardState that journals every check it
// answers (as postgres.CardState with a Journal), keeping the records.
type journalingFlaky struct {
	*flakyCardState
	records []string // response codes journaled
}

func (j *journalingFlaky) CheckJournaled(ctx context.Context, c ledger.CardCheck, jr *ledger.Journal) (ledger.CardVerdict, bool, error) {
	v, err := j.Check(ctx, c)
	if err != nil {
		return v, false, err
	}
	j.records = append(j.records, jr.Codes[v])
	return v, true, nil
}

// TestFallbackJournaled: a Fallback over a journaling primary journals
// while the primary answers, answers from memory not journaled while it
// is down, and over a primary that does not journal never journals.
func TestFallbackJournaled(t *testing.T) {
	primary := &journalingFlaky{flakyCardState: &flakyCardState{mem: ledger.NewMemoryCardState(ledger.CardStateOptions{})}}
	memory := &flakyCardState{mem: ledger.NewMemoryCardState(ledger.CardStateOptions{})}
	f := ledger.NewFallback(primary, memory, zap.NewNop(), nil)
	j := &ledger.Journal{Codes: [...]string{"00", "94", "63", "65"}}
	n := 0
	check := func(f *ledger.Fallback, atc uint16) (ledger.CardVerdict, bool, error) {
		n++
		return f.CheckJournaled(context.Background(), ledger.CardCheck{
			Key: fmt.Sprint("700|ATM1|", n, "|1102093000"), Card: true,
			PANHash: cardstatetest.Hash("J"), ATC: atc, Now: cardstatetest.T0,
		}, j)
	}
	if v, journaled, err := check(f, 1); v != ledger.CardAccepted || !journaled || err != nil {
		t.Fatalf("primary up: %v journaled %v %v", v, journaled, err)
	}
	if v, journaled, err := check(f, 1); v != ledger.CardReplayed || !journaled || err != nil {
		t.Fatalf("primary up, replay: %v journaled %v %v", v, journaled, err)
	}
	primary.fail(fmt.Errorf("card state: primary down: %w", ledger.ErrUnavailable))
	if v, journaled, err := check(f, 1); v != ledger.CardAccepted || journaled || err != nil {
		t.Fatalf("primary down: %v journaled %v %v, want accepted from memory, not journaled", v, journaled, err)
	}
	if f.Fallbacks() != 1 || memory.calls.Load() != 1 {
		t.Fatalf("fallbacks %d, memory calls %d: want 1", f.Fallbacks(), memory.calls.Load())
	}
	primary.fail(nil)
	if v, journaled, err := check(f, 2); v != ledger.CardAccepted || !journaled || err != nil {
		t.Fatalf("primary back: %v journaled %v %v", v, journaled, err)
	}
	if got := fmt.Sprint(primary.records); got != "[00 63 00]" {
		t.Errorf("journaled codes %s, want [00 63 00]", got)
	}
	// A primary that does not journal: answered, never journaled.
	plain := ledger.NewFallback(&flakyCardState{mem: ledger.NewMemoryCardState(ledger.CardStateOptions{})}, memory, zap.NewNop(), nil)
	if v, journaled, err := check(plain, 1); v != ledger.CardAccepted || journaled || err != nil {
		t.Fatalf("plain primary: %v journaled %v %v", v, journaled, err)
	}
}
