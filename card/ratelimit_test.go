package card

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2024, 11, 24, 15, 30, 0, 0, time.FixedZone("Asia/Taipei", 8*3600))

func TestRateLimiterWindowEdge(t *testing.T) {
	r := NewRateLimiter(10, 10*time.Minute)
	// Ten inquiries, one a minute from t0 (t0 .. t0+9m): all allowed.
	for i := range 10 {
		if !r.Allow("card", t0.Add(time.Duration(i)*time.Minute)) {
			t.Fatalf("inquiry %d refused", i+1)
		}
	}
	// The 11th within 10 minutes of the first is refused, up to the last nanosecond.
	if r.Allow("card", t0.Add(9*time.Minute+30*time.Second)) {
		t.Fatal("11th inquiry in 10 minutes allowed")
	}
	if r.Allow("card", t0.Add(10*time.Minute-time.Nanosecond)) {
		t.Fatal("allowed before the oldest left the window")
	}
	// Another card is not affected.
	if !r.Allow("other", t0.Add(9*time.Minute)) {
		t.Fatal("another card refused")
	}
	// Once the oldest (t0) is 10 minutes old it has left the window.
	if !r.Allow("card", t0.Add(10*time.Minute)) {
		t.Fatal("refused after the oldest left the window")
	}
	// The window is full again (t0+1m .. t0+10m).
	if r.Allow("card", t0.Add(10*time.Minute+30*time.Second)) {
		t.Fatal("allowed with the window full again")
	}
	if !r.Allow("card", t0.Add(11*time.Minute)) {
		t.Fatal("refused after the second oldest left the window")
	}
}

func TestRateLimiterRefusalsDoNotCount(t *testing.T) {
	r := NewRateLimiter(2, time.Minute)
	r.Allow("c", t0)
	r.Allow("c", t0.Add(time.Second))
	for i := range 100 { // hammering while refused
		if r.Allow("c", t0.Add(2*time.Second+time.Duration(i)*time.Millisecond)) {
			t.Fatal("allowed over the limit")
		}
	}
	if !r.Allow("c", t0.Add(time.Minute)) {
		t.Fatal("refusals were counted against the card")
	}
}

func TestRateLimiterOff(t *testing.T) {
	for _, limit := range []int{0, -3} {
		r := NewRateLimiter(limit, time.Minute)
		for i := range 1000 {
			if !r.Allow("card", t0) {
				t.Fatalf("limit %d: inquiry %d refused", limit, i)
			}
		}
		if r.Len() != 0 || r.Limit() != 0 {
			t.Errorf("limit %d: state kept while off (Len %d, Limit %d)", limit, r.Len(), r.Limit())
		}
	}
}

func TestRateLimiterDefaultWindow(t *testing.T) {
	r := NewRateLimiter(1, 0)
	if r.Window() != DefaultRateWindow {
		t.Fatalf("window %v, want %v", r.Window(), DefaultRateWindow)
	}
	r.Allow("c", t0)
	if r.Allow("c", t0.Add(DefaultRateWindow-time.Second)) {
		t.Error("allowed within the default window")
	}
	if !r.Allow("c", t0.Add(DefaultRateWindow)) {
		t.Error("refused after the default window")
	}
}

func TestRateLimiterClockBackwards(t *testing.T) {
	r := NewRateLimiter(2, time.Minute)
	r.Allow("c", t0.Add(time.Minute))
	r.Allow("c", t0) // counted at t0+1m, not at t0
	if r.Allow("c", t0.Add(time.Minute+59*time.Second)) {
		t.Error("a step back in time loosened the limit")
	}
	if !r.Allow("c", t0.Add(2*time.Minute)) {
		t.Error("refused once both left the window")
	}
}

func TestRateLimiterSweep(t *testing.T) {
	r := NewRateLimiter(10, 10*time.Minute)
	for i := range 1000 {
		r.Allow(fmt.Sprintf("card-%d", i), t0)
	}
	r.Allow("recent", t0.Add(5*time.Minute))
	if n := r.Len(); n != 1001 {
		t.Fatalf("Len = %d, want 1001", n)
	}
	r.Sweep(t0.Add(9 * time.Minute))
	if n := r.Len(); n != 1001 {
		t.Fatalf("swept cards still in the window: Len = %d", n)
	}
	r.Sweep(t0.Add(10 * time.Minute))
	if n := r.Len(); n != 1 {
		t.Fatalf("after the window: Len = %d, want 1 (the recent card)", n)
	}
	// The recent card is still limited correctly after a sweep.
	for range 9 {
		r.Allow("recent", t0.Add(11*time.Minute))
	}
	if r.Allow("recent", t0.Add(11*time.Minute)) {
		t.Error("11th inquiry allowed after a sweep")
	}
}

// Allow sweeps each shard it touches once per window, so stale cards go
// without anyone calling Sweep.
func TestRateLimiterSweepsByItself(t *testing.T) {
	r := NewRateLimiter(10, 10*time.Minute)
	for i := range 1000 {
		r.Allow(fmt.Sprintf("old-%d", i), t0)
	}
	// One fresh card in every shard, an hour later.
	keys := make([]string, numShards)
	for i, found := 0, 0; found < numShards; i++ {
		k := fmt.Sprintf("new-%d", i)
		if j := r.cards.index(k); keys[j] == "" {
			keys[j] = k
			found++
		}
	}
	for _, k := range keys {
		if !r.Allow(k, t0.Add(time.Hour)) {
			t.Fatalf("fresh card refused")
		}
	}
	if n := r.Len(); n != numShards {
		t.Errorf("Len = %d, want %d: stale cards were kept", n, numShards)
	}
}

func TestRateLimiterConcurrentSameCard(t *testing.T) {
	r := NewRateLimiter(10, 10*time.Minute)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if r.Allow("same", t0.Add(time.Duration(w*50+i)*time.Millisecond)) {
					allowed.Add(1)
				}
				r.Allow(fmt.Sprintf("w%d-%d", w, i), t0)
			}
		}()
	}
	wg.Wait()
	if n := allowed.Load(); n != 10 {
		t.Errorf("%d inquiries allowed for one card, want 10", n)
	}
	if n := r.Len(); n != 1+8*50 {
		t.Errorf("Len = %d, want %d", n, 1+8*50)
	}
}
