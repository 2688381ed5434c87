package cluster_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bli/atmgw/internal/testsync"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/cluster"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestLimiter(t *testing.T, o cluster.LimitOptions) (*cluster.Limiter, *fakeClock) {
	t.Helper()
	l := cluster.NewLimiter(o)
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l.SetClock(clk.now)
	return l, clk
}

func mustAcquire(t *testing.T, l *cluster.Limiter) cluster.Permit {
	t.Helper()
	p, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatalf("acquire with room (limit %d, in flight %d): %v", l.Limit(), l.InFlight(), err)
	}
	return p
}

// round runs one window: n calls at once, each answered after rtt.
func round(t *testing.T, l *cluster.Limiter, clk *fakeClock, n int, rtt time.Duration, r cluster.Result) {
	t.Helper()
	ps := make([]cluster.Permit, n)
	for i := range ps {
		ps[i] = mustAcquire(t, l)
	}
	clk.add(rtt)
	for _, p := range ps {
		p.Release(r)
	}
}

func TestLimiterDefaults(t *testing.T) {
	o := cluster.NewLimiter(cluster.LimitOptions{Max: 16}).Options()
	if o.Min != 4 || o.Initial != 16 || o.Backoff != 0.9 || o.Tolerance != 2 || o.Queue != 64 || o.QueueTimeout != 100*time.Millisecond || o.Slow != 0 {
		t.Errorf("defaults %+v", o)
	}
	o = cluster.NewLimiter(cluster.LimitOptions{Max: 1, Min: 5, Initial: 9}).Options()
	if o.Min != 1 || o.Initial != 1 || o.Max != 1 {
		t.Errorf("bounds not clamped: %+v", o)
	}
	if o := cluster.NewLimiter(cluster.LimitOptions{}).Options(); o.Max != cluster.DefaultMaxConcurrent {
		t.Errorf("default max %d", o.Max)
	}
}

// Successes at a steady latency, with the limit in use, raise it by about
// one per limit's worth of calls, up to Max and no further.
func TestLimiterGrows(t *testing.T) {
	var seen []int
	var mu sync.Mutex
	l, clk := newTestLimiter(t, cluster.LimitOptions{Min: 1, Initial: 2, Max: 10, OnLimit: func(n int) {
		mu.Lock()
		seen = append(seen, n)
		mu.Unlock()
	}})
	if l.Limit() != 2 {
		t.Fatalf("initial limit %d", l.Limit())
	}
	for range 100 {
		round(t, l, clk, l.Limit(), 2*time.Millisecond, cluster.ResultOK)
	}
	if l.Limit() != 10 {
		t.Fatalf("limit %d after 100 good windows, want Max 10", l.Limit())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) < 2 || seen[0] != 2 || seen[len(seen)-1] != 10 {
		t.Errorf("OnLimit saw %v", seen)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] != seen[i-1]+1 {
			t.Errorf("additive increase: %v", seen)
			break
		}
	}
}

// An idle limit proves nothing: successes with few calls in flight do not
// raise it.
func TestLimiterDoesNotGrowWhenIdle(t *testing.T) {
	l, clk := newTestLimiter(t, cluster.LimitOptions{Min: 1, Initial: 8, Max: 16})
	for range 200 {
		round(t, l, clk, 1, time.Millisecond, cluster.ResultOK)
	}
	if l.Limit() != 8 {
		t.Errorf("limit %d after successes one at a time, want 8", l.Limit())
	}
}

// A latency far above the baseline stops the growth (without shrinking).
func TestLimiterDoesNotGrowWhenLatencyRises(t *testing.T) {
	l, clk := newTestLimiter(t, cluster.LimitOptions{Min: 1, Initial: 4, Max: 16})
	for range 200 {
		round(t, l, clk, 4, time.Millisecond, cluster.ResultOK)
		if l.Limit() > 4 {
			break
		}
	}
	// Rebuild the window at the limit reached, then slow down 5x.
	got := l.Limit()
	if got <= 4 {
		t.Fatalf("did not grow at a steady latency: %d", got)
	}
	round(t, l, clk, got, 5*time.Millisecond, cluster.ResultOK)
	if l.Limit() != got {
		t.Errorf("limit %d after a window 5x slower than the baseline, want %d", l.Limit(), got)
	}
}

// A drop multiplies the limit by Backoff, once per window: drops of calls
// admitted before the decrease do not decrease it again. Repeated drops
// stop at Min.
func TestLimiterShrinks(t *testing.T) {
	l, clk := newTestLimiter(t, cluster.LimitOptions{Min: 2, Max: 20})
	if l.Limit() != 20 {
		t.Fatalf("initial %d", l.Limit())
	}
	ps := make([]cluster.Permit, 10)
	for i := range ps {
		ps[i] = mustAcquire(t, l)
	}
	clk.add(300 * time.Millisecond)
	for _, p := range ps {
		p.Release(cluster.ResultDropped)
	}
	if l.Limit() != 18 {
		t.Fatalf("limit %d after one window of timeouts, want 20 x 0.9 = 18", l.Limit())
	}
	round(t, l, clk, 1, 300*time.Millisecond, cluster.ResultDropped) // a new window
	if l.Limit() != 16 {                                             // 18 x 0.9 = 16.2
		t.Fatalf("limit %d after a second window, want 16", l.Limit())
	}
	for range 50 {
		round(t, l, clk, 1, 300*time.Millisecond, cluster.ResultDropped)
	}
	if l.Limit() != 2 {
		t.Errorf("limit %d after many drops, want Min 2", l.Limit())
	}
	// Ignored results move nothing.
	round(t, l, clk, 2, time.Second, cluster.ResultIgnored)
	if l.Limit() != 2 {
		t.Errorf("limit %d after ignored results", l.Limit())
	}
	// And it grows back once calls succeed.
	for range 200 {
		round(t, l, clk, l.Limit(), time.Millisecond, cluster.ResultOK)
	}
	if l.Limit() != 20 {
		t.Errorf("limit %d after recovery, want Max 20", l.Limit())
	}
}

// A success slower than Slow is a drop.
func TestLimiterSlowIsDrop(t *testing.T) {
	l, clk := newTestLimiter(t, cluster.LimitOptions{Max: 10, Slow: 100 * time.Millisecond})
	round(t, l, clk, 5, 99*time.Millisecond, cluster.ResultOK)
	if l.Limit() != 10 {
		t.Fatalf("limit %d after successes under Slow", l.Limit())
	}
	round(t, l, clk, 5, 150*time.Millisecond, cluster.ResultOK)
	if l.Limit() != 9 {
		t.Errorf("limit %d after slow successes, want 9", l.Limit())
	}
}

// Past the limit a call waits in the queue, first come first served, and
// is admitted when a call releases its permit.
func TestLimiterQueues(t *testing.T) {
	l := cluster.NewLimiter(cluster.LimitOptions{Min: 1, Max: 1, Queue: 5, QueueTimeout: time.Minute})
	p := mustAcquire(t, l)
	order := make(chan int, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		testsync.WaitFor(t, `l.Queued() == i`, func() bool { return l.Queued() == i })
		wg.Add(1)
		go func() {
			defer wg.Done()
			q, err := l.Acquire(context.Background())
			if err != nil {
				t.Errorf("waiter %d: %v", i, err)
				return
			}
			order <- i
			q.Release(cluster.ResultOK)
		}()
	}
	testsync.WaitFor(t, `l.Queued() == 3`, func() bool { return l.Queued() == 3 })
	if l.InFlight() != 1 {
		t.Errorf("in flight %d", l.InFlight())
	}
	p.Release(cluster.ResultOK)
	wg.Wait()
	close(order)
	want := 0
	for i := range order {
		if i != want {
			t.Errorf("admitted %d, want %d (FIFO)", i, want)
		}
		want++
	}
	if l.InFlight() != 0 || l.Queued() != 0 {
		t.Errorf("after: %d in flight, %d queued", l.InFlight(), l.Queued())
	}
}

func TestLimiterQueueTimeout(t *testing.T) {
	l := cluster.NewLimiter(cluster.LimitOptions{Max: 1, QueueTimeout: 30 * time.Millisecond})
	p := mustAcquire(t, l)
	defer p.Release(cluster.ResultOK)
	start := time.Now()
	_, err := l.Acquire(context.Background())
	d := time.Since(start)
	var se *cluster.ShedError
	if !errors.As(err, &se) || se.Reason != cluster.ShedQueueTimeout || !errors.Is(err, cluster.ErrShed) || !errors.Is(err, ledger.ErrUnavailable) {
		t.Fatalf("queue timeout: %v", err)
	}
	if d < 30*time.Millisecond || se.Waited < 30*time.Millisecond {
		t.Errorf("shed after %v (waited %v), before the queue's timeout", d, se.Waited)
	}
	if l.Queued() != 0 {
		t.Errorf("the shed call is still queued")
	}
}

func TestLimiterQueueFull(t *testing.T) {
	l := cluster.NewLimiter(cluster.LimitOptions{Max: 2, Queue: 1, QueueTimeout: time.Minute})
	p1, p2 := mustAcquire(t, l), mustAcquire(t, l)
	waiting := make(chan error, 1)
	go func() {
		p, err := l.Acquire(context.Background())
		if err == nil {
			p.Release(cluster.ResultOK)
		}
		waiting <- err
	}()
	testsync.WaitFor(t, `l.Queued() == 1`, func() bool { return l.Queued() == 1 })
	start := time.Now()
	_, err := l.Acquire(context.Background())
	if r, ok := cluster.ShedReason(err); !ok || r != cluster.ShedQueueFull || !errors.Is(err, ledger.ErrUnavailable) {
		t.Fatalf("queue full: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("a full queue kept the call %v", d)
	}
	p1.Release(cluster.ResultOK)
	if err := <-waiting; err != nil {
		t.Errorf("the queued call: %v", err)
	}
	p2.Release(cluster.ResultOK)

	// No queue: shed at once past the limit.
	l0 := cluster.NewLimiter(cluster.LimitOptions{Max: 1, Queue: -1})
	p := mustAcquire(t, l0)
	if _, err := l0.Acquire(context.Background()); !errors.Is(err, cluster.ErrShed) {
		t.Errorf("no queue: %v", err)
	}
	p.Release(cluster.ResultOK)
	mustAcquire(t, l0).Release(cluster.ResultOK)
}

// A caller that gives up while waiting leaves the queue with its
// context's error (not shed), and the others move up.
func TestLimiterCancel(t *testing.T) {
	l := cluster.NewLimiter(cluster.LimitOptions{Max: 1, QueueTimeout: time.Minute})
	p := mustAcquire(t, l)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		_, err := l.Acquire(ctx)
		got <- err
	}()
	testsync.WaitFor(t, `l.Queued() == 1`, func() bool { return l.Queued() == 1 })
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) || errors.Is(err, cluster.ErrShed) {
		t.Fatalf("cancelled wait: %v", err)
	}
	if l.Queued() != 0 {
		t.Errorf("the cancelled call is still queued")
	}
	// Already done: not even queued.
	if _, err := l.Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("done context: %v", err)
	}
	p.Release(cluster.ResultOK)
	if l.InFlight() != 0 {
		t.Errorf("in flight %d", l.InFlight())
	}
	mustAcquire(t, l).Release(cluster.ResultOK)
}

// Many goroutines at once: never more in flight than the limit, every
// call admitted or shed, nothing left behind.
func TestLimiterConcurrent(t *testing.T) {
	l := cluster.NewLimiter(cluster.LimitOptions{Min: 2, Max: 8, Queue: 16, QueueTimeout: 20 * time.Millisecond})
	var cur, peak, ok, shed atomic.Int64
	var wg sync.WaitGroup
	for g := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				p, err := l.Acquire(context.Background())
				if err != nil {
					if !errors.Is(err, cluster.ErrShed) {
						t.Errorf("acquire: %v", err)
						return
					}
					shed.Add(1)
					continue
				}
				n := cur.Add(1)
				for {
					m := peak.Load()
					if n <= m || peak.CompareAndSwap(m, n) {
						break
					}
				}
				if n > int64(l.Options().Max) {
					t.Errorf("%d in flight, over Max", n)
				}
				time.Sleep(time.Duration(g%3) * 100 * time.Microsecond)
				cur.Add(-1)
				r := cluster.ResultOK
				if (g+i)%29 == 0 {
					r = cluster.ResultDropped
				}
				p.Release(r)
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load()+shed.Load() != 40*50 || l.InFlight() != 0 || l.Queued() != 0 {
		t.Errorf("%d served + %d shed of %d; left %d in flight, %d queued", ok.Load(), shed.Load(), 40*50, l.InFlight(), l.Queued())
	}
	if lim := l.Limit(); lim < 2 || lim > 8 {
		t.Errorf("limit %d out of [2, 8]", lim)
	}
	t.Logf("served %d, shed %d, peak in flight %d, limit %d", ok.Load(), shed.Load(), peak.Load(), l.Limit())
}

// A ping (priority) goes before the queued calls and is not refused for a
// full queue.
func TestGuardPingBeforeQueuedInquiries(t *testing.T) {
	l := cluster.NewLimiter(cluster.LimitOptions{Max: 1, Queue: -1, QueueTimeout: time.Minute})
	slow := &gatedStore{gate: make(chan struct{})}
	g := cluster.Guard(slow, cluster.GuardOptions{Timeout: time.Hour, Limiter: l}, nil)
	held := make(chan error, 1)
	go func() {
		_, err := g.Inquire(context.Background(), ledger.Query{})
		held <- err
	}()
	testsync.WaitFor(t, `slow.entered.Load() == 1`, func() bool { return slow.entered.Load() == 1 })
	if _, err := g.Inquire(context.Background(), ledger.Query{}); !errors.Is(err, cluster.ErrShed) {
		t.Fatalf("inquiry past the limit, no queue: %v", err)
	}
	pinged := make(chan error, 1)
	go func() { pinged <- g.Ping(context.Background()) }()
	testsync.WaitFor(t, `l.Queued() == 1`, func() bool { return l.Queued() == 1 })
	close(slow.gate)
	if err := <-held; err != nil {
		t.Errorf("held inquiry: %v", err)
	}
	if err := <-pinged; err != nil {
		t.Errorf("ping: %v", err)
	}
}
