package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Defaults of ClusterOptions.
const (
	// DefaultAttempts is how many hosts an inquiry is tried on.
	DefaultAttempts = 2
	// DefaultMaxConcurrent is the bulkhead when ClusterOptions.MaxConcurrent
	// is 0 (4 x the default pool of 16 connections).
	DefaultMaxConcurrent = 64
)

// Host names in logs and metrics: a cluster's hosts are named by their
// role, never by their URL (which may hold a password).
const (
	HostPrimary = "primary"
	hostReplica = "replica" // replica1, replica2, ...
)

// ClusterOptions tune NewCluster. Zero values take the defaults.
type ClusterOptions struct {
	// Guard configures the breaker and deadline of each host (each host
	// has a breaker of its own). Its Name and OnStateChange are set by
	// the cluster.
	Guard GuardOptions
	// Attempts is how many hosts one inquiry is tried on, one after the
	// other, each under Guard.Timeout (default 2, at most the number of
	// hosts). A host whose breaker refuses the call costs nothing and is
	// not counted: the next is tried at once. The worst wait of an
	// inquiry is thus Attempts x Guard.Timeout.
	Attempts int
	// MaxConcurrent caps the inquiries in progress (the bulkhead); one
	// more fails at once with ErrUnavailable instead of waiting (default
	// 64).
	MaxConcurrent int
	// PreferPrimary reads from the primary first and from the replicas
	// (round-robin) only when it fails or its breaker is open. The default
	// reads from the replicas (round-robin) and from the primary last.
	PreferPrimary bool
	// Metrics records calls, breaker states and shed inquiries (nil:
	// none).
	Metrics *Metrics
}

func (o *ClusterOptions) defaults(hosts int) {
	o.Guard.defaults()
	if o.Attempts <= 0 {
		o.Attempts = DefaultAttempts
	}
	o.Attempts = min(o.Attempts, hosts)
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = DefaultMaxConcurrent
	}
}

// HostState is the state of one host of a Cluster.
type HostState struct {
	Name    string // "primary", "replica1", ...
	Breaker BreakerState
}

// Cluster is a primary ledger and its read replicas behind one Store.
// Every host has its own Guard (deadline and circuit breaker); an inquiry
// is read from one host, and from the next when that one fails, until
// Attempts hosts failed; a host whose breaker is open is skipped at once
// (after OpenFor a few probe inquiries reach it again, and it is back in
// use by itself once they succeed). A bulkhead caps the inquiries in
// progress: past MaxConcurrent, an inquiry fails at once with
// ErrUnavailable rather than wait in a queue past its deadline.
//
// The order: by default the replicas, round-robin, and the primary last;
// with PreferPrimary the primary first and the replicas round-robin after
// it. A replica may lag behind the primary: the ledger changes once a
// night (the export), so a replica a few seconds or minutes behind shows
// the previous export for that long, which the contract allows (the
// statement carries its as-of date).
type Cluster struct {
	primary  *clusterHost
	replicas []*clusterHost
	opts     ClusterOptions
	metrics  *Metrics
	log      *zap.Logger

	inFlight atomic.Int64
	next     atomic.Uint64 // round-robin over the replicas
}

type clusterHost struct {
	name string
	g    *Guarded
	m    hostMetrics
}

var _ Store = (*Cluster)(nil)

// NewCluster puts primary and replicas (none: the primary alone) behind
// one Store. The logger (nil: none) gets the breakers' state changes and,
// at debug level, each failover. Closing the cluster closes every host.
func NewCluster(primary Store, replicas []Store, opts ClusterOptions, logger *zap.Logger) *Cluster {
	if logger == nil {
		logger = zap.NewNop()
	}
	opts.defaults(1 + len(replicas))
	c := &Cluster{opts: opts, metrics: opts.Metrics, log: logger}
	c.primary = c.newHost(HostPrimary, primary)
	for i, r := range replicas {
		c.replicas = append(c.replicas, c.newHost(fmt.Sprintf("%s%d", hostReplica, i+1), r))
	}
	return c
}

func (c *Cluster) newHost(name string, s Store) *clusterHost {
	h := &clusterHost{name: name, m: c.metrics.host(name)}
	gopts := c.opts.Guard
	gopts.Name = name
	gopts.OnStateChange = func(_, to BreakerState) { h.m.state(to) }
	h.g = Guard(s, gopts, c.log)
	h.m.state(BreakerClosed)
	return h
}

// Options are the options in force, defaults filled in.
func (c *Cluster) Options() ClusterOptions { return c.opts }

// Hosts are the hosts and the states of their breakers: the primary first.
func (c *Cluster) Hosts() []HostState {
	out := make([]HostState, 0, 1+len(c.replicas))
	out = append(out, HostState{Name: c.primary.name, Breaker: c.primary.g.State()})
	for _, r := range c.replicas {
		out = append(out, HostState{Name: r.name, Breaker: r.g.State()})
	}
	return out
}

// InFlight is how many inquiries are in progress now.
func (c *Cluster) InFlight() int { return int(c.inFlight.Load()) }

// host is the i-th host to try for the call of round-robin number n.
func (c *Cluster) host(n uint64, i int) *clusterHost {
	r := len(c.replicas)
	if r == 0 {
		return c.primary
	}
	if c.opts.PreferPrimary {
		if i == 0 {
			return c.primary
		}
		i--
	} else if i == r {
		return c.primary
	}
	return c.replicas[(n+uint64(i))%uint64(r)]
}

// Inquire implements Store: the bulkhead, then the hosts in order.
func (c *Cluster) Inquire(ctx context.Context, q Query) (Answer, error) {
	if err := ctx.Err(); err != nil {
		return Answer{}, fmt.Errorf("ledger: not called: %w", err)
	}
	if n := c.inFlight.Add(1); n > int64(c.opts.MaxConcurrent) {
		c.inFlight.Add(-1)
		c.metrics.shed()
		return Answer{}, fmt.Errorf("%w: %d inquiries in progress already (ledger.max_concurrent)", ErrUnavailable, n-1)
	}
	c.metrics.enter()
	defer func() {
		c.inFlight.Add(-1)
		c.metrics.leave()
	}()
	ans, err := c.try(ctx, func(g *Guarded) (Answer, error) { return g.Inquire(ctx, q) }, true)
	return ans, err
}

// Ping implements Store: nil when one host answers (tried in the order of
// inquiries, on every host if need be, outside the bulkhead).
func (c *Cluster) Ping(ctx context.Context) error {
	_, err := c.try(ctx, func(g *Guarded) (Answer, error) { return Answer{}, g.Ping(ctx) }, false)
	return err
}

// try calls f on the hosts in order until one answers, Attempts hosts
// failed (all of them for a ping), or the caller gave up.
func (c *Cluster) try(ctx context.Context, f func(*Guarded) (Answer, error), inquiry bool) (Answer, error) {
	n := c.next.Add(1)
	hosts := 1 + len(c.replicas)
	attempts := hosts
	if inquiry {
		attempts = c.opts.Attempts
	}
	var lastErr error
	failed := 0
	for i := 0; i < hosts && failed < attempts; i++ {
		h := c.host(n, i)
		start := time.Now()
		ans, err := f(h.g)
		out := classify(ctx, err)
		if inquiry {
			h.m.call(out, time.Since(start))
		}
		switch out {
		case OutcomeOK:
			return ans, nil
		case OutcomeCancelled:
			return Answer{}, err
		case OutcomeRejected:
			// The breaker refused: nothing was asked of the host.
		default:
			failed++
			if inquiry && failed < attempts && i+1 < hosts {
				c.metrics.failover()
				c.log.Debug("ledger host failed: trying the next", zap.String("host", h.name), zap.Error(err))
			}
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	if lastErr == nil { // unreachable: there is always a primary
		lastErr = fmt.Errorf("%w: no ledger host", ErrUnavailable)
	}
	if ctx.Err() != nil && !errors.Is(lastErr, ctx.Err()) {
		return Answer{}, fmt.Errorf("%w: %w", lastErr, ctx.Err())
	}
	return Answer{}, lastErr
}

// Close implements Store: it closes every host.
func (c *Cluster) Close() {
	c.primary.g.Close()
	for _, r := range c.replicas {
		r.g.Close()
	}
}

// Outcome is how one call to one host ended (a label of the metrics).
type Outcome int

const (
	OutcomeOK        Outcome = iota // answered
	OutcomeError                    // failed
	OutcomeTimeout                  // no answer within the deadline
	OutcomeRejected                 // refused by the host's breaker (never reached the host)
	OutcomeCancelled                // the caller gave up
	numOutcomes
)

func (o Outcome) String() string {
	switch o {
	case OutcomeOK:
		return "ok"
	case OutcomeError:
		return "error"
	case OutcomeTimeout:
		return "timeout"
	case OutcomeRejected:
		return "breaker_open"
	case OutcomeCancelled:
		return "cancelled"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

func classify(ctx context.Context, err error) Outcome {
	switch {
	case err == nil:
		return OutcomeOK
	case errors.Is(err, ErrBreakerOpen):
		return OutcomeRejected
	case errors.Is(ctx.Err(), context.Canceled):
		return OutcomeCancelled
	case errors.Is(err, context.DeadlineExceeded):
		return OutcomeTimeout
	case !errors.Is(err, ErrUnavailable) && ctx.Err() != nil:
		return OutcomeCancelled // not called: the caller's deadline had passed
	}
	return OutcomeError
}
