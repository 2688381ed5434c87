package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/internal/metrictest"
	"github.com/bli/atmgw/internal/testsync"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/cluster"
	"github.com/bli/atmgw/ledger/demo"
	"github.com/bli/atmgw/ledger/storetest"
)

// hostStore is a fake host that names itself in its answers (the consent's
// name), fails while down, and counts the calls that reached it.
type hostStore struct {
	fakeStore
	name string
}

func (h *hostStore) Inquire(ctx context.Context, q ledger.Query) (ledger.Answer, error) {
	a, err := h.fakeStore.Inquire(ctx, q)
	if err != nil {
		return a, err
	}
	return ledger.Answer{Consent: &card.Consent{Name: h.name}}, nil
}

func (h *hostStore) Ping(ctx context.Context) error {
	_, err := h.fakeStore.Inquire(ctx, ledger.Query{})
	return err
}

func newHosts(n int) (*hostStore, []*hostStore, []ledger.Store) {
	p := &hostStore{name: "primary"}
	var rs []*hostStore
	var stores []ledger.Store
	for i := range n {
		r := &hostStore{name: fmt.Sprintf("replica%d", i+1)}
		rs = append(rs, r)
		stores = append(stores, r)
	}
	return p, rs, stores
}

// who asks the cluster once and says which host answered ("" : none).
func who(t *testing.T, c *cluster.Cluster) string {
	t.Helper()
	a, err := c.Inquire(context.Background(), ledger.Query{})
	if err != nil {
		if !errors.Is(err, ledger.ErrUnavailable) {
			t.Fatalf("error not wrapping ErrUnavailable: %v", err)
		}
		return ""
	}
	return a.Consent.Name
}

func TestClusterOrder(t *testing.T) {
	p, rs, stores := newHosts(2)
	c := cluster.New(p, stores, cluster.Options{Guard: cluster.GuardOptions{Failures: 2, OpenFor: time.Hour}}, nil)
	defer c.Close()
	// Replicas round-robin; the primary only as a last resort.
	seen := map[string]int{}
	for range 10 {
		seen[who(t, c)]++
	}
	if seen["replica1"] != 5 || seen["replica2"] != 5 || p.calls.Load() != 0 {
		t.Fatalf("replicas first, round-robin: %v (primary called %d times)", seen, p.calls.Load())
	}
	// Every replica down: the two attempts fail until their breakers
	// open; then they are skipped and the primary answers.
	for _, r := range rs {
		r.set(errors.New("down"), false)
	}
	for i := range 2 {
		if got := who(t, c); got != "" {
			t.Fatalf("replicas down, inquiry %d answered by %q", i, got)
		}
	}
	for range 3 {
		if got := who(t, c); got != "primary" {
			t.Fatalf("replicas down, breakers open: answered by %q", got)
		}
	}
	if rs[0].calls.Load()+rs[1].calls.Load() != 10+4 {
		t.Errorf("replicas asked %d+%d times", rs[0].calls.Load(), rs[1].calls.Load())
	}

	// PreferPrimary: the primary while it answers, then the replicas.
	p2, rs2, stores2 := newHosts(2)
	c2 := cluster.New(p2, stores2, cluster.Options{PreferPrimary: true}, nil)
	defer c2.Close()
	for range 5 {
		if got := who(t, c2); got != "primary" {
			t.Fatalf("prefer primary: answered by %q", got)
		}
	}
	p2.set(errors.New("down"), false)
	seen = map[string]int{}
	for range 4 {
		seen[who(t, c2)]++
	}
	if seen["replica1"] != 2 || seen["replica2"] != 2 || rs2[0].calls.Load() != 2 {
		t.Fatalf("primary down: %v", seen)
	}

	// No replica: the primary alone.
	p3, _, _ := newHosts(0)
	c3 := cluster.New(p3, nil, cluster.Options{Attempts: 5}, nil)
	defer c3.Close()
	if got := who(t, c3); got != "primary" || c3.Options().Attempts != 1 {
		t.Fatalf("primary alone: %q, attempts %d", got, c3.Options().Attempts)
	}
	if hs := c3.Hosts(); len(hs) != 1 || hs[0].Name != "primary" {
		t.Fatalf("hosts %v", hs)
	}
}

// A host that fails is replaced by the next at once; after Failures
// failures its breaker opens and it is no longer asked; once it answers
// again its breaker closes by itself and it is used again.
func TestClusterFailoverAndRecovery(t *testing.T) {
	reg := prometheus.NewRegistry()
	p, rs, stores := newHosts(2)
	c := cluster.New(p, stores, cluster.Options{
		Guard:   cluster.GuardOptions{Failures: 3, OpenFor: 50 * time.Millisecond, HalfOpenMax: 2},
		Metrics: cluster.NewMetrics(reg),
	}, nil)
	defer c.Close()
	if v := metrictest.Value(t, reg, "atmgw_ledger_breaker_state", "host", "replica2"); v != 0 {
		t.Fatalf("breaker state of replica2 before any call: %v", v)
	}
	rs[0].set(errors.New("connection refused"), false)
	for i := range 40 {
		if got := who(t, c); got != "replica2" {
			t.Fatalf("inquiry %d with replica1 down: answered by %q", i, got)
		}
	}
	if n := rs[0].calls.Load(); n != 3 {
		t.Errorf("replica1 down was asked %d times, want the breaker's 3 failures", n)
	}
	if hs := c.Hosts(); hs[1].Name != "replica1" || hs[1].Breaker != cluster.BreakerOpen || hs[2].Breaker != cluster.BreakerClosed {
		t.Errorf("hosts %v", hs)
	}
	if v := metrictest.Value(t, reg, "atmgw_ledger_breaker_state", "host", "replica1"); v != 2 {
		t.Errorf("breaker state metric of replica1: %v, want 2", v)
	}
	if v := metrictest.Value(t, reg, "atmgw_ledger_calls_total", "host", "replica1", "outcome", "error"); v != 3 {
		t.Errorf("replica1 errors: %v", v)
	}
	if v := metrictest.Value(t, reg, "atmgw_ledger_calls_total", "host", "replica1", "outcome", "breaker_open"); v < 1 {
		t.Errorf("replica1 refused by its breaker: %v", v)
	}
	if v := metrictest.Value(t, reg, "atmgw_ledger_failovers_total"); v != 3 {
		t.Errorf("failovers: %v", v)
	}
	if v := metrictest.Value(t, reg, "atmgw_ledger_calls_total", "host", "primary", "outcome", "ok"); v != 0 {
		t.Errorf("the primary answered %v inquiries while a replica was up", v)
	}

	rs[0].set(nil, false)
	testsync.WaitFor(t, "replica1's breaker closed again", func() bool {
		who(t, c)
		return c.Hosts()[1].Breaker == cluster.BreakerClosed
	})
	before := rs[0].calls.Load()
	for range 10 {
		if who(t, c) == "" {
			t.Fatal("an inquiry failed after recovery")
		}
	}
	if n := rs[0].calls.Load() - before; n != 5 {
		t.Errorf("replica1 answered %d of 10 after recovery, want its half", n)
	}
	if v := metrictest.Value(t, reg, "atmgw_ledger_breaker_state", "host", "replica1"); v != 0 {
		t.Errorf("breaker state metric of replica1 after recovery: %v", v)
	}
	if v := metrictest.Value(t, reg, "atmgw_ledger_call_duration_seconds", "host", "replica1"); v < 8 {
		t.Errorf("latency samples of replica1: %v", v)
	}
	labels, _ := metrictest.Labels(t, reg)
	for _, l := range labels {
		if l.Name == "host" && l.Value != "primary" && !strings.HasPrefix(l.Value, "replica") {
			t.Errorf("host label %q", l.Value)
		}
	}
}

// Attempts bounds the hosts one inquiry is tried on; every host failing
// gives ErrUnavailable naming the last cause.
func TestClusterAttempts(t *testing.T) {
	p, rs, stores := newHosts(3)
	down := errors.New("down")
	p.set(down, false)
	for _, r := range rs {
		r.set(down, false)
	}
	c := cluster.New(p, stores, cluster.Options{Guard: cluster.GuardOptions{Failures: 100}}, nil)
	defer c.Close()
	_, err := c.Inquire(context.Background(), ledger.Query{})
	if !errors.Is(err, ledger.ErrUnavailable) || !errors.Is(err, down) {
		t.Fatalf("all down: %v", err)
	}
	total := p.calls.Load()
	for _, r := range rs {
		total += r.calls.Load()
	}
	if total != 2 || p.calls.Load() != 0 {
		t.Errorf("%d hosts tried (primary %d), want the default 2 attempts", total, p.calls.Load())
	}
	// A ping looks for any host that answers.
	p.set(nil, false)
	if err := c.Ping(context.Background()); err != nil {
		t.Errorf("ping with the primary up: %v", err)
	}
	p.set(down, false)
	if err := c.Ping(context.Background()); !errors.Is(err, ledger.ErrUnavailable) {
		t.Errorf("ping with every host down: %v", err)
	}
}

// A caller that gives up is not a failure of the host, and is not failed over.
func TestClusterCallerCancel(t *testing.T) {
	p, rs, stores := newHosts(1)
	rs[0].set(nil, true) // never answers
	c := cluster.New(p, stores, cluster.Options{Guard: cluster.GuardOptions{Timeout: time.Hour, Failures: 1}}, nil)
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for rs[0].calls.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := c.Inquire(ctx, ledger.Query{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if p.calls.Load() != 0 || c.Hosts()[1].Breaker != cluster.BreakerClosed {
		t.Errorf("a cancelled inquiry failed over (%d) or opened the breaker (%v)", p.calls.Load(), c.Hosts()[1].Breaker)
	}
}

// gatedStore holds every inquiry until the gate opens.
type gatedStore struct {
	gate    chan struct{}
	entered atomic.Int64
}

func (g *gatedStore) Inquire(ctx context.Context, q ledger.Query) (ledger.Answer, error) {
	g.entered.Add(1)
	select {
	case <-g.gate:
		return ledger.Answer{}, nil
	case <-ctx.Done():
		return ledger.Answer{}, ctx.Err()
	}
}
func (g *gatedStore) Ping(ctx context.Context) error { return nil }
func (g *gatedStore) Close()                         {}

// Past the host's concurrency limit an inquiry waits in the queue; one
// more than the queue holds is shed at once (queue_full), one that waited
// QueueTimeout is shed then (queue_timeout); neither reaches the store nor
// touches the breaker, and both answer ErrUnavailable wrapping ErrShed. (This
// replaces the test of the fixed bulkhead, which shed at once past
// MaxConcurrent: MaxConcurrent is now the ceiling of the adaptive limit, and
// the excess waits a bounded time before it is shed.)
func TestClusterShedsPastLimitAndQueue(t *testing.T) {
	reg := prometheus.NewRegistry()
	slow := &gatedStore{gate: make(chan struct{})}
	c := cluster.New(slow, nil, cluster.Options{
		MaxConcurrent: 3,
		Limit:         cluster.LimitOptions{Min: 3, Queue: 1, QueueTimeout: 50 * time.Millisecond},
		Guard:         cluster.GuardOptions{Timeout: time.Hour, Failures: 1},
		Metrics:       cluster.NewMetrics(reg),
	}, nil)
	defer c.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Inquire(context.Background(), ledger.Query{})
			errs <- err
		}()
	}
	testsync.WaitFor(t, `slow.entered.Load() == 3`, func() bool { return slow.entered.Load() == 3 })
	if v := metrictest.Value(t, reg, "atmgw_ledger_in_flight"); v != 3 {
		t.Errorf("in flight: %v", v)
	}
	if v := metrictest.Value(t, reg, "atmgw_ledger_concurrency_limit", "host", "primary"); v != 3 {
		t.Errorf("limit gauge: %v", v)
	}
	// The three are held by the store: a fourth waits in the queue (of
	// one), a fifth finds it full and is shed at once, the fourth is shed
	// after the queue's timeout.
	fourth := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := c.Inquire(context.Background(), ledger.Query{})
		fourth <- err
	}()
	testsync.WaitFor(t, `c.Hosts()[0].Queued == 1`, func() bool { return c.Hosts()[0].Queued == 1 })
	if v := metrictest.Value(t, reg, "atmgw_ledger_queued", "host", "primary"); v != 1 {
		t.Errorf("queued gauge: %v", v)
	}
	_, err := c.Inquire(context.Background(), ledger.Query{})
	if r, ok := cluster.ShedReason(err); !ok || r != cluster.ShedQueueFull || !errors.Is(err, ledger.ErrUnavailable) || !errors.Is(err, cluster.ErrShed) {
		t.Fatalf("queue full: %v", err)
	}
	err = <-fourth
	if r, ok := cluster.ShedReason(err); !ok || r != cluster.ShedQueueTimeout || !errors.Is(err, ledger.ErrUnavailable) || !strings.Contains(err.Error(), "queue_timeout") {
		t.Fatalf("queue timeout: %v", err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("shed after %v, before the queue's timeout", d)
	}
	if slow.entered.Load() != 3 {
		t.Errorf("a shed inquiry reached the store")
	}
	if v := metrictest.Value(t, reg, "atmgw_ledger_shed_total", "host", "primary", "reason", "queue_full"); v != 1 {
		t.Errorf("shed queue_full: %v", v)
	}
	if v := metrictest.Value(t, reg, "atmgw_ledger_shed_total", "host", "primary", "reason", "queue_timeout"); v != 1 {
		t.Errorf("shed queue_timeout: %v", v)
	}
	if v := metrictest.Value(t, reg, "atmgw_ledger_calls_total", "host", "primary", "outcome", "shed"); v != 2 {
		t.Errorf("calls shed: %v", v)
	}
	close(slow.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("held inquiry: %v", err)
		}
	}
	if c.InFlight() != 0 {
		t.Errorf("in flight after: %d", c.InFlight())
	}
	if _, err := c.Inquire(context.Background(), ledger.Query{}); err != nil {
		t.Errorf("after the queue drained: %v", err)
	}
	if hs := c.Hosts(); hs[0].Breaker != cluster.BreakerClosed {
		t.Errorf("shedding touched the breaker (Failures: 1): %v", hs)
	}
}

// A replica whose queue is full is skipped at no cost: the inquiry goes to
// the next host at once.
func TestClusterQueueFullTriesNextHost(t *testing.T) {
	slow := &gatedStore{gate: make(chan struct{})}
	p := &hostStore{name: "primary"}
	c := cluster.New(p, []ledger.Store{slow}, cluster.Options{
		MaxConcurrent: 1,
		Limit:         cluster.LimitOptions{Queue: -1},
		Guard:         cluster.GuardOptions{Timeout: time.Hour},
		Attempts:      1,
	}, nil)
	defer c.Close()
	done := make(chan error, 1)
	go func() {
		_, err := c.Inquire(context.Background(), ledger.Query{})
		done <- err
	}()
	testsync.WaitFor(t, `slow.entered.Load() == 1`, func() bool { return slow.entered.Load() == 1 })
	if got := who(t, c); got != "primary" {
		t.Errorf("replica busy, queue none: answered by %q", got)
	}
	close(slow.gate)
	if err := <-done; err != nil {
		t.Errorf("held inquiry: %v", err)
	}
}

func TestClusterClosesEveryHost(t *testing.T) {
	p, rs, stores := newHosts(2)
	c := cluster.New(p, stores, cluster.Options{}, nil)
	c.Close()
	if !p.closed.Load() || !rs[0].closed.Load() || !rs[1].closed.Load() {
		t.Error("a host was not closed")
	}
	o := c.Options()
	if o.MaxConcurrent != cluster.DefaultMaxConcurrent || o.Attempts != cluster.DefaultAttempts || o.PreferPrimary {
		t.Errorf("defaults %+v", o)
	}
}

// workerStore is a database with a fixed capacity: workers inquiries at
// once, each taking d; more wait inside it (under the caller's deadline).
type workerStore struct {
	sem chan struct{}
	d   time.Duration
}

func (w *workerStore) Inquire(ctx context.Context, q ledger.Query) (ledger.Answer, error) {
	select {
	case w.sem <- struct{}{}:
	case <-ctx.Done():
		return ledger.Answer{}, ctx.Err()
	}
	defer func() { <-w.sem }()
	select {
	case <-time.After(w.d):
		return ledger.Answer{}, nil
	case <-ctx.Done():
		return ledger.Answer{}, ctx.Err()
	}
}
func (w *workerStore) Ping(ctx context.Context) error { return nil }
func (w *workerStore) Close()                         {}

// Offered twice what the host can do (open loop): the breaker stays
// closed, the host is kept busy, about the excess is shed (91) and
// nothing else fails, and what is served waits at most queue_timeout +
// timeout.
func TestClusterOverloadShedsOnlyTheExcess(t *testing.T) {
	const (
		workers = 2
		service = 10 * time.Millisecond // capacity: 200 inquiries/s
		rate    = 400                   // offered per second
		period  = 2 * time.Second
	)
	reg := prometheus.NewRegistry()
	var trips atomic.Int64
	c := cluster.New(&workerStore{sem: make(chan struct{}, workers), d: service}, nil, cluster.Options{
		MaxConcurrent: 8,
		Guard: cluster.GuardOptions{OnStateChange: func(_, to cluster.BreakerState) {
			if to != cluster.BreakerClosed {
				trips.Add(1)
			}
		}},
		Metrics: cluster.NewMetrics(reg),
	}, nil)
	defer c.Close()
	var served, shed, other atomic.Int64
	var maxServed atomic.Int64 // ns
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	end := time.Now().Add(period)
	offered := 0
	for time.Now().Before(end) {
		<-tick.C
		offered++
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			_, err := c.Inquire(context.Background(), ledger.Query{})
			d := int64(time.Since(start))
			switch {
			case err == nil:
				served.Add(1)
				for m := maxServed.Load(); d > m && !maxServed.CompareAndSwap(m, d); m = maxServed.Load() {
				}
			case errors.Is(err, cluster.ErrShed):
				shed.Add(1)
			default:
				other.Add(1)
				t.Errorf("neither served nor shed: %v", err)
			}
		}()
	}
	wg.Wait()
	capacity := float64(workers) * period.Seconds() / service.Seconds()
	t.Logf("offered %d, served %d (capacity about %.0f), shed %d, slowest served %v, limit %d",
		offered, served.Load(), capacity, shed.Load(), time.Duration(maxServed.Load()), c.Hosts()[0].Limit)
	if trips.Load() != 0 {
		t.Errorf("overload tripped the breaker %d times", trips.Load())
	}
	if float64(served.Load()) < 0.5*capacity || float64(served.Load()) > 1.2*capacity {
		t.Errorf("served %d, want about the capacity %.0f", served.Load(), capacity)
	}
	if int(served.Load()+shed.Load()+other.Load()) != offered {
		t.Errorf("lost inquiries")
	}
	if share := float64(shed.Load()) / float64(offered); share < 0.2 || share > 0.75 {
		t.Errorf("shed %.0f%%, want about the excess (50%%)", 100*share)
	}
	o := c.Options()
	if d := time.Duration(maxServed.Load()); d > o.Limit.QueueTimeout+o.Guard.Timeout {
		t.Errorf("an inquiry served after %v, more than queue_timeout + timeout", d)
	}
	if v := metrictest.Value(t, reg, "atmgw_ledger_calls_total", "host", "primary", "outcome", "timeout"); v != 0 {
		t.Errorf("%v timeouts", v)
	}
}

// A caller whose own deadline passes while its inquiry waits for its turn
// gets its context's error: not shed, not a timeout of the host.
func TestClusterCallerDeadlineWhileQueued(t *testing.T) {
	reg := prometheus.NewRegistry()
	slow := &gatedStore{gate: make(chan struct{})}
	c := cluster.New(slow, nil, cluster.Options{
		MaxConcurrent: 1,
		Limit:         cluster.LimitOptions{QueueTimeout: time.Minute},
		Guard:         cluster.GuardOptions{Timeout: time.Hour, Failures: 1},
		Metrics:       cluster.NewMetrics(reg),
	}, nil)
	defer c.Close()
	held := make(chan error, 1)
	go func() {
		_, err := c.Inquire(context.Background(), ledger.Query{})
		held <- err
	}()
	testsync.WaitFor(t, `slow.entered.Load() == 1`, func() bool { return slow.entered.Load() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := c.Inquire(ctx, ledger.Query{})
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, cluster.ErrShed) {
		t.Fatalf("caller's deadline while queued: %v", err)
	}
	if v := metrictest.Value(t, reg, "atmgw_ledger_calls_total", "host", "primary", "outcome", "cancelled"); v != 1 {
		t.Errorf("cancelled: %v", v)
	}
	close(slow.gate)
	if err := <-held; err != nil {
		t.Errorf("held: %v", err)
	}
	if c.Hosts()[0].Breaker != cluster.BreakerClosed || slow.entered.Load() != 1 {
		t.Errorf("breaker %v, %d calls reached the store", c.Hosts()[0].Breaker, slow.entered.Load())
	}
}

// With RecheckConsent, a consent decline of a replica that lags behind a
// registration on the primary is reread from the primary; an approval of
// the replica is not.
func TestClusterRecheckConsent(t *testing.T) {
	h, err := card.NewPANHasher([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	open := func() *demo.Memory {
		m, err := demo.Open(h)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	pm := open()
	const pan = "4700555555555555"
	r, err := pm.Register(context.Background(), ledger.ConsentUpdate{Action: ledger.ConsentAdd, PANHash: h.Hash(pan),
		Consent: card.Consent{Institution: "700", NationalID: "A123456789", Name: "王小明",
			BirthDate: time.Date(1985, 6, 15, 0, 0, 0, 0, time.UTC), Pension: true, SignedDate: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)}})
	if err != nil || r != ledger.ConsentStored {
		t.Fatalf("register on the primary: %v %v", r, err)
	}
	for _, recheck := range []bool{false, true} {
		p, rep := &storetest.Counting{Store: pm}, &storetest.Counting{Store: open()}
		reg := prometheus.NewRegistry()
		c := cluster.New(p, []ledger.Store{rep}, cluster.Options{RecheckConsent: recheck, Metrics: cluster.NewMetrics(reg)}, nil)
		a, err := c.Inquire(context.Background(), ledger.Query{Institution: "700", PANHash: h.Hash(pan), Service: card.ServicePension})
		if err != nil {
			t.Fatal(err)
		}
		if seen := a.Consent != nil; seen != recheck || p.Calls.Load() != map[bool]int64{false: 0, true: 1}[recheck] {
			t.Errorf("recheck %v: registration seen %v, primary asked %d times", recheck, seen, p.Calls.Load())
		}
		if recheck {
			if v := metrictest.Value(t, reg, "atmgw_ledger_consent_rechecks_total", "result", "served"); v != 1 {
				t.Errorf("rechecks served: %v, want 1", v)
			}
		}
		// A card the replica approves: the primary is not asked.
		p.Calls.Store(0)
		a, err = c.Inquire(context.Background(), ledger.Query{Institution: "700", PANHash: h.Hash("4700123456789014"), Service: card.ServicePension})
		if err != nil || card.Validate("700", a.Consent, a.Person, card.ServicePension) != nil || p.Calls.Load() != 0 {
			t.Errorf("recheck %v: approved card: %v, primary asked %d times", recheck, err, p.Calls.Load())
		}
		c.Close()
	}
}
