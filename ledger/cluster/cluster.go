package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
	"go.uber.org/zap"
)

// Defaults of Options.
const (
	// DefaultAttempts is how many hosts an inquiry is tried on.
	DefaultAttempts = 2
	// DefaultMaxConcurrent is the ceiling of each host's concurrency
	// limit when Options.MaxConcurrent is 0 (a host with a
	// connection pool is held to its pool: see Pooled).
	DefaultMaxConcurrent = 64
)

// Host names in logs and metrics: a cluster's hosts are named by their
// role, never by their URL (which may hold a password).
const (
	HostPrimary = "primary"
	hostReplica = "replica" // replica1, replica2, ...
)

// Pooled is a Store that serves calls on a pool of connections (such as
// ledger/postgres's). A Cluster holds such a host's concurrency limit to
// Conns, so that a call it admits always finds a connection: the wait for
// one is the limiter's queue, bounded and counted apart, never time under
// the deadline.
type Pooled interface {
	// Conns is the size of the pool.
	Conns() int
}

// Options tune New. Zero values take the defaults.
type Options struct {
	// Guard configures the breaker and deadline of each host (each host
	// has a breaker of its own). Its Name and Limiter are set by the
	// cluster; its OnStateChange, when set, is told the changes of every
	// host's breaker.
	Guard GuardOptions
	// Attempts is how many hosts one inquiry is tried on, one after the
	// other, each under Guard.Timeout (default 2, at most the number of
	// hosts). A host whose breaker refuses the call, or whose queue is
	// full, costs nothing and is not counted: the next is tried at once.
	// The worst wait of an inquiry is thus Attempts x (Limit.QueueTimeout
	// + Guard.Timeout).
	Attempts int
	// MaxConcurrent is the ceiling of each host's concurrency limit, the
	// inquiries in progress on one host at most (default 64); a Pooled
	// host's ceiling is its pool at most.
	MaxConcurrent int
	// Limit tunes each host's limiter (each host has one: see Limiter).
	// Its Max is set by the cluster (MaxConcurrent, or the host's pool);
	// Slow defaults to half of Guard.Timeout (negative: none); OnLimit is
	// set by the cluster.
	Limit LimitOptions
	// PreferPrimary reads from the primary first and from the replicas
	// (round-robin) only when it fails or its breaker is open. The default
	// reads from the replicas (round-robin) and from the primary last.
	PreferPrimary bool
	// RecheckConsent rereads from the primary an inquiry that a replica
	// answered with a consent decline (card.Validate fails: no record,
	// revoked, service not consented, personal data mismatch): a replica
	// may lag behind a consent just registered online on the primary (an
	// 0302), and the primary has the last word. A primary that cannot
	// answer leaves the replica's answer.
	RecheckConsent bool
	// Metrics records calls, breaker states, limits and shed inquiries
	// (nil: none).
	Metrics *Metrics
}

func (o *Options) defaults(hosts int) {
	o.Guard.defaults()
	if o.Attempts <= 0 {
		o.Attempts = DefaultAttempts
	}
	o.Attempts = min(o.Attempts, hosts)
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = DefaultMaxConcurrent
	}
	if o.Limit.Slow == 0 {
		o.Limit.Slow = o.Guard.Timeout / 2
	}
	if o.Limit.QueueTimeout <= 0 {
		o.Limit.QueueTimeout = DefaultQueueTimeout
	}
}

// HostState is the state of one host of a Cluster.
type HostState struct {
	Name    string // "primary", "replica1", ...
	Breaker BreakerState
	Limit   int // the concurrency limit now
	Queued  int // inquiries waiting for room now
}

// Cluster is a primary ledger and its read replicas behind one Store.
// Every host has its own Guard (deadline and circuit breaker) and Limiter
// (adaptive concurrency limit and bounded queue); an inquiry is read from
// one host, and from the next when that one fails, until Attempts hosts
// failed; a host whose breaker is open is skipped at once (after OpenFor a
// few probe inquiries reach it again, and it is back in use by itself once
// they succeed). On each host an inquiry past the limit waits in the queue,
// and is shed (ErrShed, ledger.ErrUnavailable) when the queue is full — then the
// next host is tried at once — or when it waited QueueTimeout, which
// counts as an attempt. A shed inquiry is no failure of the host.
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
	opts     Options
	metrics  *Metrics
	log      *zap.Logger

	inFlight atomic.Int64
	next     atomic.Uint64 // round-robin over the replicas
}

type clusterHost struct {
	name string
	g    *Guarded
	lim  *Limiter
	m    hostMetrics
}

var _ ledger.Store = (*Cluster)(nil)

// New puts primary and replicas (none: the primary alone) behind
// one Store. The logger (nil: none) gets the breakers' state changes and,
// at debug level, each failover. Closing the cluster closes every host.
func New(primary ledger.Store, replicas []ledger.Store, opts Options, logger *zap.Logger) *Cluster {
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

func (c *Cluster) newHost(name string, s ledger.Store) *clusterHost {
	h := &clusterHost{name: name, m: c.metrics.host(name)}
	lopts := c.opts.Limit
	lopts.Max = c.opts.MaxConcurrent
	if p, ok := s.(Pooled); ok && p.Conns() > 0 {
		lopts.Max = min(lopts.Max, p.Conns())
	}
	lopts.OnLimit = h.m.limit
	h.lim = NewLimiter(lopts)
	c.metrics.addLimiter(name, h.lim)
	gopts := c.opts.Guard
	gopts.Name = name
	hook := gopts.OnStateChange
	gopts.OnStateChange = func(from, to BreakerState) {
		h.m.state(to)
		if hook != nil {
			hook(from, to)
		}
	}
	gopts.Limiter = h.lim
	h.g = Guard(s, gopts, c.log)
	h.m.state(BreakerClosed)
	return h
}

// Options are the options in force, defaults filled in.
func (c *Cluster) Options() Options { return c.opts }

// Hosts are the hosts, the states of their breakers and their limits: the
// primary first.
func (c *Cluster) Hosts() []HostState {
	out := make([]HostState, 0, 1+len(c.replicas))
	for _, h := range append([]*clusterHost{c.primary}, c.replicas...) {
		out = append(out, HostState{Name: h.name, Breaker: h.g.State(), Limit: h.lim.Limit(), Queued: h.lim.Queued()})
	}
	return out
}

// Limiter is the limiter of the host named name (nil: no such host).
func (c *Cluster) Limiter(name string) *Limiter {
	for _, h := range append([]*clusterHost{c.primary}, c.replicas...) {
		if h.name == name {
			return h.lim
		}
	}
	return nil
}

// InFlight is how many inquiries are in progress now (waiting for their
// turn on a host or sent).
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

// Inquire implements Store: the hosts in order, each behind its limiter.
func (c *Cluster) Inquire(ctx context.Context, q ledger.Query) (ledger.Answer, error) {
	if err := ctx.Err(); err != nil {
		return ledger.Answer{}, fmt.Errorf("ledger: not called: %w", err)
	}
	c.inFlight.Add(1)
	c.metrics.enter()
	defer func() {
		c.inFlight.Add(-1)
		c.metrics.leave()
	}()
	ans, from, err := c.try(ctx, func(g *Guarded) (ledger.Answer, callTimes, error) { return g.inquire(ctx, q) }, true)
	if err != nil || !c.opts.RecheckConsent || from == c.primary || card.Validate(q.Institution, ans.Consent, ans.Person, q.Service) == nil {
		return ans, err
	}
	// A replica declined the card for its consent (decisions 11 to 13):
	// it may lag behind a registration just made on the primary (an
	// 0302), so the primary has the last word. Declines are rare; a
	// primary that cannot answer leaves the replica's answer.
	pans, ct, perr := c.primary.g.inquire(ctx, q)
	c.primary.m.call(classify(ctx, perr), ct)
	if perr != nil {
		c.metrics.recheck("failed")
		c.log.Debug("ledger: consent recheck on the primary failed: the replica's answer stands", zap.Error(perr))
		return ans, nil
	}
	if card.Validate(q.Institution, pans.Consent, pans.Person, q.Service) == nil {
		c.metrics.recheck("served")
	} else {
		c.metrics.recheck("declined")
	}
	return pans, nil
}

// Ping implements Store: nil when one host answers (tried in the order of
// inquiries, on every host if need be; on each host before the inquiries
// waiting for their turn).
func (c *Cluster) Ping(ctx context.Context) error {
	_, _, err := c.try(ctx, func(g *Guarded) (ledger.Answer, callTimes, error) { return ledger.Answer{}, callTimes{}, g.Ping(ctx) }, false)
	return err
}

// try calls f on the hosts in order until one answers (returned too),
// Attempts hosts failed (all of them for a ping), or the caller gave up.
func (c *Cluster) try(ctx context.Context, f func(*Guarded) (ledger.Answer, callTimes, error), inquiry bool) (ledger.Answer, *clusterHost, error) {
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
		ans, ct, err := f(h.g)
		out := classify(ctx, err)
		if inquiry {
			h.m.call(out, ct)
		}
		switch out {
		case OutcomeOK:
			return ans, h, nil
		case OutcomeCancelled:
			return ledger.Answer{}, nil, err
		case OutcomeRejected:
			// The breaker refused: nothing was asked of the host.
		case OutcomeShed:
			reason, _ := ShedReason(err)
			if inquiry {
				h.m.shed(reason)
			}
			if reason == ShedQueueTimeout {
				// The wait was spent: an attempt, though not the host's fault.
				failed++
				if inquiry && failed < attempts && i+1 < hosts {
					c.metrics.failover()
					c.log.Debug("ledger host busy: trying the next", zap.String("host", h.name), zap.Error(err))
				}
			}
			// A full queue costs nothing: the next host at once.
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
		lastErr = fmt.Errorf("%w: no ledger host", ledger.ErrUnavailable)
	}
	if ctx.Err() != nil && !errors.Is(lastErr, ctx.Err()) {
		return ledger.Answer{}, nil, fmt.Errorf("%w: %w", lastErr, ctx.Err())
	}
	return ledger.Answer{}, nil, lastErr
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
	OutcomeShed                     // shed by the host's limiter (never reached the host)
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
	case OutcomeShed:
		return "shed"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

func classify(ctx context.Context, err error) Outcome {
	switch {
	case err == nil:
		return OutcomeOK
	case errors.Is(err, ErrShed):
		return OutcomeShed
	case errors.Is(err, ErrBreakerOpen):
		return OutcomeRejected
	case errors.Is(ctx.Err(), context.Canceled):
		return OutcomeCancelled
	case !errors.Is(err, ledger.ErrUnavailable) && ctx.Err() != nil:
		return OutcomeCancelled // not called: the caller's deadline had passed (or did while it waited for its turn)
	case errors.Is(err, context.DeadlineExceeded):
		return OutcomeTimeout
	}
	return OutcomeError
}
