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

// fakeStore answers after a delay (honouring the context) with an error or
// an empty answer, and counts the calls that reached it.
type fakeStore struct {
	mu     sync.Mutex
	err    error        // returned when set
	block  bool         // wait for the context instead of answering
	calls  atomic.Int64 // calls that reached the store
	closed atomic.Bool
}

func (f *fakeStore) set(err error, block bool) {
	f.mu.Lock()
	f.err, f.block = err, block
	f.mu.Unlock()
}

func (f *fakeStore) Inquire(ctx context.Context, q ledger.Query) (ledger.Answer, error) {
	f.calls.Add(1)
	f.mu.Lock()
	err, block := f.err, f.block
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return ledger.Answer{}, ctx.Err()
	}
	return ledger.Answer{}, err // no consent: an answer, not a failure
}

func (f *fakeStore) Ping(ctx context.Context) error {
	_, err := f.Inquire(ctx, ledger.Query{})
	return err
}

func (f *fakeStore) Close() { f.closed.Store(true) }

type transitions struct {
	mu  sync.Mutex
	got []string
}

func (tr *transitions) hook(from, to cluster.BreakerState) {
	tr.mu.Lock()
	tr.got = append(tr.got, from.String()+">"+to.String())
	tr.mu.Unlock()
}

func (tr *transitions) list() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.got...)
}

func TestGuardOpensOnFailuresAndRecovers(t *testing.T) {
	f := &fakeStore{}
	var tr transitions
	g := cluster.Guard(f, cluster.GuardOptions{Failures: 3, OpenFor: 50 * time.Millisecond, HalfOpenMax: 2, OnStateChange: tr.hook}, nil)
	ctx := context.Background()

	// "Not found" (an empty answer) is a success, however many.
	for i := 0; i < 10; i++ {
		if a, err := g.Inquire(ctx, ledger.Query{}); err != nil || a.Consent != nil {
			t.Fatalf("not found: %+v %v", a, err)
		}
	}
	if g.State() != cluster.BreakerClosed {
		t.Fatalf("state %v after successes", g.State())
	}

	down := errors.New("connection refused")
	f.set(down, false)
	for i := 0; i < 3; i++ {
		_, err := g.Inquire(ctx, ledger.Query{})
		if !errors.Is(err, ledger.ErrUnavailable) || !errors.Is(err, down) || errors.Is(err, cluster.ErrBreakerOpen) {
			t.Fatalf("failure %d: %v, want ErrUnavailable wrapping the cause", i, err)
		}
	}
	if g.State() != cluster.BreakerOpen {
		t.Fatalf("state %v after 3 failures, want open", g.State())
	}
	// Open: calls fail at once without reaching the store.
	before := f.calls.Load()
	for i := 0; i < 20; i++ {
		if _, err := g.Inquire(ctx, ledger.Query{}); !errors.Is(err, ledger.ErrUnavailable) || !errors.Is(err, cluster.ErrBreakerOpen) {
			t.Fatalf("open: %v", err)
		}
	}
	if err := g.Ping(ctx); !errors.Is(err, ledger.ErrUnavailable) {
		t.Fatalf("ping while open: %v", err)
	}
	if n := f.calls.Load() - before; n != 0 {
		t.Fatalf("%d calls reached the store while the breaker was open", n)
	}

	// The store comes back: after OpenFor, probes close the breaker by itself.
	f.set(nil, false)
	testsync.WaitFor(t, "an inquiry answered", func() bool {
		_, err := g.Inquire(ctx, ledger.Query{})
		return err == nil
	})
	for i := 0; i < 3; i++ {
		if _, err := g.Inquire(ctx, ledger.Query{}); err != nil {
			t.Fatalf("after recovery: %v", err)
		}
	}
	if g.State() != cluster.BreakerClosed {
		t.Errorf("state %v after recovery", g.State())
	}
	want := []string{"closed>open", "open>half-open", "half-open>closed"}
	if got := tr.list(); len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("transitions %v, want %v", got, want)
	}
	g.Close()
	if !f.closed.Load() {
		t.Errorf("Close did not close the store")
	}
}

func TestGuardDeadline(t *testing.T) {
	f := &fakeStore{}
	f.set(nil, true) // a store that never answers
	g := cluster.Guard(f, cluster.GuardOptions{Timeout: 20 * time.Millisecond, Failures: 2, OpenFor: time.Hour}, nil)
	for i := 0; i < 2; i++ {
		_, err := g.Inquire(context.Background(), ledger.Query{})
		if !errors.Is(err, ledger.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("slow store: %v", err)
		}
	}
	if g.State() != cluster.BreakerOpen {
		t.Errorf("two timeouts did not open the breaker: %v", g.State())
	}
}

func TestGuardCallerCancelIsNotAFailure(t *testing.T) {
	f := &fakeStore{}
	f.set(nil, true)
	g := cluster.Guard(f, cluster.GuardOptions{Timeout: time.Hour, Failures: 1}, nil)
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			for f.calls.Load() <= int64(i) {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		_, err := g.Inquire(ctx, ledger.Query{})
		cancel()
		if !errors.Is(err, context.Canceled) || errors.Is(err, ledger.ErrUnavailable) {
			t.Fatalf("cancelled call: %v", err)
		}
	}
	// Already cancelled: not even called.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n := f.calls.Load()
	if _, err := g.Inquire(ctx, ledger.Query{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before: %v", err)
	}
	if f.calls.Load() != n {
		t.Errorf("a call with a done context reached the store")
	}
	if g.State() != cluster.BreakerClosed {
		t.Errorf("cancellations opened the breaker (Failures: 1): %v", g.State())
	}
}

func TestGuardDefaults(t *testing.T) {
	g := cluster.Guard(&fakeStore{}, cluster.GuardOptions{}, nil)
	o := g.Options()
	if o.Timeout != 300*time.Millisecond || o.Failures != 5 || o.OpenFor != 2*time.Second || o.HalfOpenMax != 3 || o.Name != "ledger" {
		t.Errorf("defaults %+v", o)
	}
}

// sleepyStore answers after d (or fails when the context ends first).
type sleepyStore struct {
	d     time.Duration
	calls atomic.Int64
}

func (s *sleepyStore) Inquire(ctx context.Context, q ledger.Query) (ledger.Answer, error) {
	s.calls.Add(1)
	select {
	case <-time.After(s.d):
		return ledger.Answer{}, nil
	case <-ctx.Done():
		return ledger.Answer{}, ctx.Err()
	}
}
func (s *sleepyStore) Ping(ctx context.Context) error {
	_, err := s.Inquire(ctx, ledger.Query{})
	return err
}
func (s *sleepyStore) Close() {}

// With a limiter the deadline starts once the call is admitted: calls that
// wait for their turn longer than the deadline still get all of it, and
// the wait is no failure of the breaker.
func TestGuardDeadlineStartsWhenAdmitted(t *testing.T) {
	s := &sleepyStore{d: 80 * time.Millisecond}
	l := cluster.NewLimiter(cluster.LimitOptions{Max: 1, Queue: 8, QueueTimeout: 10 * time.Second})
	g := cluster.Guard(s, cluster.GuardOptions{Timeout: 400 * time.Millisecond, Failures: 1, Limiter: l}, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	start := time.Now()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := g.Inquire(context.Background(), ledger.Query{})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a call that waited for its turn failed: %v", err)
		}
	}
	if d := time.Since(start); d < 8*80*time.Millisecond {
		t.Errorf("8 calls one at a time took %v", d)
	}
	if g.State() != cluster.BreakerClosed {
		t.Errorf("breaker %v", g.State())
	}
}

// A call still waiting for its turn when the breaker opens is not sent.
func TestGuardBreakerOpenedWhileWaiting(t *testing.T) {
	f := &fakeStore{}
	f.set(nil, true) // never answers
	l := cluster.NewLimiter(cluster.LimitOptions{Max: 1, QueueTimeout: 10 * time.Second})
	g := cluster.Guard(f, cluster.GuardOptions{Timeout: 50 * time.Millisecond, Failures: 1, OpenFor: time.Hour, Limiter: l}, nil)
	first := make(chan error, 1)
	go func() {
		_, err := g.Inquire(context.Background(), ledger.Query{})
		first <- err
	}()
	testsync.WaitFor(t, `f.calls.Load() == 1`, func() bool { return f.calls.Load() == 1 })
	_, err := g.Inquire(context.Background(), ledger.Query{})
	if !errors.Is(err, cluster.ErrBreakerOpen) || !errors.Is(err, ledger.ErrUnavailable) {
		t.Errorf("queued behind a timeout that opened the breaker: %v", err)
	}
	if err := <-first; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("first: %v", err)
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("%d calls reached the store", n)
	}
	if l.InFlight() != 0 {
		t.Errorf("permit left: %d in flight", l.InFlight())
	}
}

type panickyStore struct{ fakeStore }

func (p *panickyStore) Inquire(ctx context.Context, q ledger.Query) (ledger.Answer, error) {
	panic("bug in the store")
}

// A store that panics does not keep its permit: the limiter is free again
// for the next call.
func TestGuardPanicReleasesPermit(t *testing.T) {
	l := cluster.NewLimiter(cluster.LimitOptions{Max: 1, Queue: -1})
	g := cluster.Guard(&panickyStore{}, cluster.GuardOptions{Limiter: l}, nil)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("no panic")
			}
		}()
		g.Inquire(context.Background(), ledger.Query{})
	}()
	if n := l.InFlight(); n != 0 {
		t.Errorf("%d permits held after a panic", n)
	}
}
