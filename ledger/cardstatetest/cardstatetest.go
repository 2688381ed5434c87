package cardstatetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bli/atmgw/ledger"
)

// NewState builds the card state under test, empty, with the rules o. The
// suite closes it.
type NewState func(t *testing.T, o ledger.CardStateOptions) ledger.CardState

// NewPair builds two card states over one empty store (two gateways on one
// database), both with the rules o. The suite closes them.
type NewPair func(t *testing.T, o ledger.CardStateOptions) (a, b ledger.CardState)

// T0 is the suite's clock at the start of every test.
var T0 = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

// Hash is a PAN hash of the suite's card named name (64 hex digits, as
// card.PANHasher makes).
func Hash(name string) string {
	h := sha256.Sum256([]byte("cardstatetest " + name))
	return hex.EncodeToString(h[:])
}

// Verdicts of the suite, short.
const (
	ok     = ledger.CardAccepted
	dup    = ledger.CardDuplicate
	replay = ledger.CardReplayed
	over   = ledger.CardOverRate
)

// keys makes request keys DE32|DE41|DE11|DE7, a new STAN each time.
type keys struct{ n atomic.Int64 }

func (k *keys) next() string {
	n := k.n.Add(1)
	return fmt.Sprintf("700|ATM%05d|%06d|1102093000", n/1000000, n%1000000)
}

// check runs one check with a deadline, failing the test on an error.
func check(t testing.TB, s ledger.CardState, c ledger.CardCheck) ledger.CardVerdict {
	t.Helper()
	v, err := checkErr(s, c)
	if err != nil {
		t.Fatalf("Check(card %v, ATC %d, at %s): %v", c.Card, c.ATC, c.Now.Sub(T0), err)
	}
	return v
}

func checkErr(s ledger.CardState, c ledger.CardCheck) (ledger.CardVerdict, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.Check(ctx, c)
}

// cardCheck is a check that passed decisions 8 to 13.
func cardCheck(key, card string, atc uint16, at time.Duration) ledger.CardCheck {
	return ledger.CardCheck{Key: key, Card: true, PANHash: Hash(card), ATC: atc, Now: T0.Add(at)}
}

// step is one check of a sequence and its expected verdict.
type step struct {
	key  string // "" for a new key
	card string // "" for a check declined at 8 to 13 (Card false)
	atc  uint16
	at   time.Duration // after T0
	want ledger.CardVerdict
}

// steps runs a sequence on s.
func steps(t *testing.T, s ledger.CardState, k *keys, seq []step) {
	t.Helper()
	for i, st := range seq {
		key := st.key
		if key == "" {
			key = k.next()
		}
		c := ledger.CardCheck{Key: key, Now: T0.Add(st.at)}
		if st.card != "" {
			c = cardCheck(key, st.card, st.atc, st.at)
		}
		if got := check(t, s, c); got != st.want {
			t.Fatalf("step %d (card %q, ATC %d, at T0+%s): %v, want %v", i+1, st.card, st.atc, st.at, got, st.want)
		}
	}
}

// Run is the suite of one card state.
func Run(t *testing.T, newState NewState) {
	const w = 10 * time.Minute
	rate := func(limit int) ledger.CardStateOptions {
		return ledger.CardStateOptions{RateLimit: limit, RateWindow: w, DuplicateWindow: w}
	}
	seq := func(name string, o ledger.CardStateOptions, seq ...step) {
		t.Run(name, func(t *testing.T) {
			s := newState(t, o)
			defer s.Close()
			steps(t, s, &keys{}, seq)
		})
	}

	seq("duplicate wins and consumes nothing", rate(2),
		step{key: "K1", card: "A", atc: 1, want: ok},
		step{key: "K1", card: "A", atc: 2, at: time.Second, want: dup},     // a new ATC, but a duplicate
		step{key: "K1", card: "A", atc: 1, at: 2 * time.Second, want: dup}, // not 63: 94 comes first
		step{key: "K1", at: 3 * time.Second, want: dup},                    // declined at 8-13: still 94
		step{card: "A", atc: 2, at: 4 * time.Second, want: ok},             // ATC 2 was not consumed, nor the rate
		step{card: "A", atc: 3, at: 5 * time.Second, want: over},           // the rate: 2 accepted
		step{key: "K2", at: 6 * time.Second, want: ok},                     // declined at 8-13: recorded all the same
		step{key: "K2", card: "B", atc: 1, at: 7 * time.Second, want: dup}, // so this one is a duplicate
		step{key: "K2|", card: "B", atc: 1, at: 8 * time.Second, want: ok}, // another key
		step{key: "k2", card: "B", atc: 2, at: 9 * time.Second, want: ok},  // keys are exact
		step{key: "700|\x00\xff\xfe|1|2", at: 10 * time.Second, want: ok},  // keys are bytes, not text
		step{key: "700|\x00\xff\xfe|1|2", at: 11 * time.Second, want: dup},
		step{key: "700|\x00\xff\xfd|1|2", at: 12 * time.Second, want: ok},
	)
	seq("declined at 8 to 13 consumes no ATC and no rate", rate(2),
		step{at: 0, want: ok},
		step{at: time.Second, want: ok},
		step{at: 2 * time.Second, want: ok},
		step{card: "A", atc: 5, at: 3 * time.Second, want: ok},
		step{card: "A", atc: 6, at: 4 * time.Second, want: ok},
		step{card: "A", atc: 7, at: 5 * time.Second, want: over},
	)
	t.Run("declined with a card's ATC consumes it not", func(t *testing.T) {
		s := newState(t, rate(1))
		defer s.Close()
		k := &keys{}
		for i := range 3 {
			c := cardCheck(k.next(), "A", 5, time.Duration(i)*time.Second)
			c.Card = false // DE55 parsed, but declined at 8 to 13
			if got := check(t, s, c); got != ok {
				t.Fatalf("declined check %d: %v", i, got)
			}
		}
		steps(t, s, k, []step{{card: "A", atc: 5, at: 5 * time.Second, want: ok}})
	})
	seq("a replay (63) consumes no rate", rate(2),
		step{card: "A", atc: 5, want: ok},
		step{card: "A", atc: 5, at: time.Second, want: replay},
		step{card: "A", atc: 4, at: 2 * time.Second, want: replay},
		step{card: "A", atc: 0, at: 3 * time.Second, want: replay},
		step{card: "A", atc: 6, at: 4 * time.Second, want: ok},
		step{card: "A", atc: 7, at: 5 * time.Second, want: over},
	)
	seq("over rate (65) consumes the ATC", rate(1),
		step{card: "A", atc: 1, want: ok},
		step{card: "A", atc: 2, at: time.Second, want: over},
		step{card: "A", atc: 2, at: w + time.Hour, want: replay}, // consumed by the 65
		step{card: "A", atc: 3, at: w + time.Hour + time.Second, want: ok},
		step{card: "A", atc: 4, at: w + time.Hour + 2*time.Second, want: over},
	)
	seq("ATC 0 only as a card's first", rate(-1),
		step{card: "A", atc: 0, want: ok},
		step{card: "A", atc: 0, at: time.Second, want: replay},
		step{card: "A", atc: 1, at: 2 * time.Second, want: ok},
		step{card: "B", atc: 3, at: 3 * time.Second, want: ok},
		step{card: "B", atc: 0, at: 4 * time.Second, want: replay},
		step{card: "C", atc: 65535, at: 5 * time.Second, want: ok},
		step{card: "C", atc: 65535, at: 6 * time.Second, want: replay},
		step{card: "C", atc: 0, at: 7 * time.Second, want: replay},
		step{card: "D", atc: 1, at: 8 * time.Second, want: ok}, // cards are apart
	)
	seq("the rate window slides (refused ones do not count)", rate(3),
		step{card: "A", atc: 1, at: 0, want: ok},
		step{card: "A", atc: 2, at: time.Minute, want: ok},
		step{card: "A", atc: 3, at: 2 * time.Minute, want: ok},
		step{card: "A", atc: 4, at: 3 * time.Minute, want: over},
		step{card: "A", atc: 5, at: w - time.Nanosecond, want: over},
		step{card: "A", atc: 6, at: w, want: ok}, // T0's has left the window; the 65s never counted
		step{card: "A", atc: 7, at: w + time.Minute - time.Nanosecond, want: over},
		step{card: "A", atc: 8, at: w + time.Minute, want: ok},
		step{card: "A", atc: 9, at: w + 2*time.Minute, want: ok},
		step{card: "A", atc: 10, at: w + 2*time.Minute + time.Second, want: over},
		step{card: "A", atc: 11, at: 3 * w, want: ok}, // a long pause: all gone
		step{card: "A", atc: 12, at: 3 * w, want: ok},
		step{card: "A", atc: 13, at: 3 * w, want: ok},
		step{card: "A", atc: 14, at: 3 * w, want: over},
	)
	seq("the rate is per card", rate(2),
		step{card: "A", atc: 1, want: ok},
		step{card: "B", atc: 1, want: ok},
		step{card: "A", atc: 2, want: ok},
		step{card: "B", atc: 2, want: ok},
		step{card: "A", atc: 3, want: over},
		step{card: "B", atc: 3, want: over},
		step{card: "C", atc: 3, want: ok},
	)
	seq("a time going backwards is counted at the card's latest", rate(2),
		step{card: "A", atc: 1, at: 5 * time.Minute, want: ok},
		step{card: "A", atc: 2, at: 0, want: ok}, // counted at T0+5m
		step{card: "A", atc: 3, at: 15*time.Minute - time.Nanosecond, want: over},
		step{card: "A", atc: 4, at: 15 * time.Minute, want: ok},
	)
	t.Run("rate off", func(t *testing.T) {
		s := newState(t, rate(-1))
		defer s.Close()
		k := &keys{}
		for i := range 50 {
			steps(t, s, k, []step{{card: "A", atc: uint16(i + 1), want: ok}})
		}
	})
	t.Run("defaults", func(t *testing.T) {
		s := newState(t, ledger.CardStateOptions{})
		defer s.Close()
		k := &keys{}
		for i := range ledger.DefaultRateLimit {
			steps(t, s, k, []step{{card: "A", atc: uint16(i + 1), at: time.Duration(i) * time.Second, want: ok}})
		}
		steps(t, s, k, []step{
			{card: "A", atc: 99, at: ledger.DefaultRateWindow - time.Nanosecond, want: over},
			{card: "A", atc: 100, at: ledger.DefaultRateWindow, want: ok},
			{key: "K", at: 0, want: ok},
			{key: "K", at: ledger.DefaultDuplicateWindow - time.Nanosecond, want: dup},
			{key: "K", at: ledger.DefaultDuplicateWindow, want: ok},
		})
	})
	seq("the duplicate window expires", ledger.CardStateOptions{DuplicateWindow: time.Minute, RateLimit: -1},
		step{key: "K", card: "A", atc: 1, want: ok},
		step{key: "K", card: "A", atc: 2, at: 59 * time.Second, want: dup},
		step{key: "K", card: "A", atc: 2, at: 60 * time.Second, want: ok}, // recorded again at 60s
		step{key: "K", card: "A", atc: 3, at: 119 * time.Second, want: dup},
		step{key: "K", card: "A", atc: 3, at: 120 * time.Second, want: ok},
		step{key: "K", at: 121 * time.Second, want: dup},
		step{key: "L", at: 121 * time.Second, want: ok},
	)
	t.Run("an empty key and an empty hash are values like others", func(t *testing.T) {
		s := newState(t, rate(-1))
		defer s.Close()
		empty := ledger.CardCheck{Key: "", Card: true, PANHash: "", ATC: 1, Now: T0}
		if v := check(t, s, empty); v != ok {
			t.Fatalf("first: %v", v)
		}
		if v := check(t, s, empty); v != dup {
			t.Fatalf("again: %v", v)
		}
		empty.Key = "K"
		if v := check(t, s, empty); v != replay {
			t.Fatalf("the empty hash's ATC again: %v", v)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		s := newState(t, rate(-1))
		defer s.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := s.Check(ctx, cardCheck("K", "A", 1, 0)); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled: %v", err)
		}
		// Nothing was consumed by the cancelled check.
		steps(t, s, &keys{}, []step{{key: "K", card: "A", atc: 1, want: ok}})
	})

	t.Run("concurrent: the same ATC is accepted once", func(t *testing.T) {
		s := newState(t, rate(-1))
		defer s.Close()
		k := &keys{}
		for round := range 4 {
			got := concurrently(t, 32, func(i int) (ledger.CardVerdict, error) {
				return checkErr(s, cardCheck(k.next(), "A", uint16(round+1), time.Duration(round)*time.Second))
			})
			if got[ok] != 1 || got[replay] != 31 {
				t.Fatalf("round %d: %v, want 1 accepted and 31 replayed", round, got)
			}
		}
	})
	t.Run("concurrent: the same key is accepted once", func(t *testing.T) {
		s := newState(t, rate(-1))
		defer s.Close()
		for round := range 3 {
			got := concurrently(t, 32, func(i int) (ledger.CardVerdict, error) {
				c := cardCheck(fmt.Sprintf("K%d", round), fmt.Sprint("card", i), uint16(round+1), 0)
				c.Card = i%2 == 0
				return checkErr(s, c)
			})
			if got[ok] != 1 || got[dup] != 31 {
				t.Fatalf("round %d: %v, want 1 accepted and 31 duplicates", round, got)
			}
		}
	})
	t.Run("concurrent: many cards, increasing ATCs", func(t *testing.T) {
		s := newState(t, rate(-1))
		defer s.Close()
		k := &keys{}
		const cards, each = 24, 15
		got := concurrently(t, cards, func(i int) (ledger.CardVerdict, error) {
			for n := range each {
				v, err := checkErr(s, cardCheck(k.next(), fmt.Sprint("card", i), uint16(n+1), time.Duration(n)*time.Second))
				if err != nil || v != ok {
					return v, err
				}
			}
			return ok, nil
		})
		if got[ok] != cards {
			t.Fatalf("%v: every card's increasing ATCs must be accepted", got)
		}
		for i := range cards {
			steps(t, s, k, []step{
				{card: fmt.Sprint("card", i), atc: each, at: time.Hour, want: replay},
				{card: fmt.Sprint("card", i), atc: each + 1, at: time.Hour, want: ok},
			})
		}
	})
	t.Run("concurrent: a card at its rate", func(t *testing.T) {
		s := newState(t, rate(10))
		defer s.Close()
		k := &keys{}
		const n = 40
		var highest atomic.Int32
		got := concurrently(t, n, func(i int) (ledger.CardVerdict, error) {
			v, err := checkErr(s, cardCheck(k.next(), "A", uint16(i+1), time.Duration(i)*time.Millisecond))
			if i+1 == n {
				highest.Store(int32(v) + 1)
			}
			return v, err
		})
		if got[ok] < 1 || got[ok] > 10 || got[ok]+got[over]+got[replay] != n {
			t.Fatalf("%v: want 1 to 10 accepted", got)
		}
		if v := ledger.CardVerdict(highest.Load() - 1); v == replay {
			t.Fatalf("the highest ATC was refused as a replay")
		}
		want := over
		if got[ok] < 10 {
			want = ok
		}
		steps(t, s, k, []step{{card: "A", atc: n + 1, at: time.Second, want: want}})
	})
}

// RunShared is the suite of two card states on one store.
func RunShared(t *testing.T, newPair NewPair) {
	o := ledger.CardStateOptions{RateLimit: 2, RateWindow: 10 * time.Minute, DuplicateWindow: 10 * time.Minute}
	pair := func(t *testing.T, o ledger.CardStateOptions) (ledger.CardState, ledger.CardState) {
		a, b := newPair(t, o)
		t.Cleanup(func() { a.Close(); b.Close() })
		return a, b
	}
	t.Run("a duplicate at the other gateway", func(t *testing.T) {
		a, b := pair(t, o)
		if v := check(t, a, cardCheck("K", "A", 1, 0)); v != ok {
			t.Fatalf("first: %v", v)
		}
		if v := check(t, b, cardCheck("K", "B", 1, time.Second)); v != dup {
			t.Fatalf("same key at the other gateway: %v", v)
		}
	})
	t.Run("a replay at the other gateway", func(t *testing.T) {
		a, b := pair(t, ledger.CardStateOptions{RateLimit: -1})
		k := &keys{}
		steps(t, a, k, []step{{card: "A", atc: 5, want: ok}})
		steps(t, b, k, []step{{card: "A", atc: 5, want: replay}, {card: "A", atc: 6, want: ok}})
		steps(t, a, k, []step{{card: "A", atc: 6, want: replay}, {card: "A", atc: 7, want: ok}})
	})
	t.Run("the rate over both gateways", func(t *testing.T) {
		a, b := pair(t, o)
		k := &keys{}
		steps(t, a, k, []step{{card: "A", atc: 1, want: ok}})
		steps(t, b, k, []step{{card: "A", atc: 2, at: time.Second, want: ok}})
		steps(t, a, k, []step{{card: "A", atc: 3, at: 2 * time.Second, want: over}})
		steps(t, b, k, []step{{card: "A", atc: 4, at: 3 * time.Second, want: over}})
		steps(t, b, k, []step{{card: "A", atc: 5, at: o.RateWindow, want: ok}})
	})
	t.Run("concurrent: the same ATC at both gateways is accepted once", func(t *testing.T) {
		a, b := pair(t, ledger.CardStateOptions{RateLimit: -1})
		k := &keys{}
		for round := range 4 {
			got := concurrently(t, 32, func(i int) (ledger.CardVerdict, error) {
				s := a
				if i%2 == 1 {
					s = b
				}
				return checkErr(s, cardCheck(k.next(), "A", uint16(round+1), 0))
			})
			if got[ok] != 1 || got[replay] != 31 {
				t.Fatalf("round %d: %v, want 1 accepted and 31 replayed", round, got)
			}
		}
	})
	t.Run("concurrent: the same key at both gateways is accepted once", func(t *testing.T) {
		a, b := pair(t, ledger.CardStateOptions{RateLimit: -1})
		got := concurrently(t, 32, func(i int) (ledger.CardVerdict, error) {
			s := a
			if i%2 == 1 {
				s = b
			}
			return checkErr(s, ledger.CardCheck{Key: "K", Now: T0})
		})
		if got[ok] != 1 || got[dup] != 31 {
			t.Fatalf("%v, want 1 accepted and 31 duplicates", got)
		}
	})
	t.Run("concurrent: crossing cards and keys do not deadlock", func(t *testing.T) {
		a, b := pair(t, ledger.CardStateOptions{RateLimit: 1000})
		var atc [4]atomic.Int32
		k := &keys{}
		const workers, each = 16, 40
		var mu sync.Mutex
		accepted := 0
		got := concurrently(t, workers, func(i int) (ledger.CardVerdict, error) {
			s := a
			if i%2 == 1 {
				s = b
			}
			for n := range each {
				card := (i + n) % 4
				if i%4 >= 2 {
					card = 3 - card // the other order
				}
				c := cardCheck(k.next(), fmt.Sprint("card", card), uint16(atc[card].Add(1)), 0)
				v, err := checkErr(s, c)
				if err != nil {
					return v, err
				}
				if v == ok {
					mu.Lock()
					accepted++
					mu.Unlock()
				}
			}
			return ok, nil
		})
		if got[ok] != workers {
			t.Fatalf("%v", got)
		}
		if accepted < 4 {
			t.Fatalf("only %d accepted", accepted)
		}
	})
}

// concurrently runs f(0) to f(n-1) at once and counts their verdicts,
// failing the test on an error.
func concurrently(t *testing.T, n int, f func(i int) (ledger.CardVerdict, error)) map[ledger.CardVerdict]int {
	t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		got   = map[ledger.CardVerdict]int{}
		errs  []error
		start = make(chan struct{})
	)
	for i := range n {
		wg.Go(func() {
			<-start
			v, err := f(i)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			got[v]++
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("%d of %d failed: %v", len(errs), n, err)
	}
	return got
}
