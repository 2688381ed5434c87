package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bli/atmgw/ledger"
	"github.com/sony/gobreaker/v2"
	"go.uber.org/zap"
)

// Defaults of GuardOptions.
const (
	DefaultGuardTimeout     = 300 * time.Millisecond
	DefaultGuardFailures    = 5
	DefaultGuardOpenFor     = 2 * time.Second
	DefaultGuardHalfOpenMax = 3
)

// BreakerState is the state of Guard's circuit breaker.
type BreakerState int

const (
	// BreakerClosed: calls go through.
	BreakerClosed BreakerState = iota
	// BreakerHalfOpen: a few probe calls go through; the rest fail at once.
	BreakerHalfOpen
	// BreakerOpen: every call fails at once with ledger.ErrUnavailable.
	BreakerOpen
)

func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerHalfOpen:
		return "half-open"
	case BreakerOpen:
		return "open"
	}
	return fmt.Sprintf("BreakerState(%d)", int(s))
}

// GuardOptions tunes Guard. Zero values take the defaults.
type GuardOptions struct {
	// Timeout is the deadline of one call (default 300ms; the caller's own
	// deadline wins when it is earlier).
	Timeout time.Duration
	// Failures is how many consecutive failures open the breaker (default 5).
	Failures uint32
	// OpenFor is how long the breaker stays open before it lets probe
	// calls through (half-open) (default 2s).
	OpenFor time.Duration
	// HalfOpenMax is how many probe calls go through while half-open; that
	// many successes in a row close the breaker, one failure opens it again
	// (default 3).
	HalfOpenMax uint32
	// OnStateChange, when set, is told every change of the breaker's state
	// (for metrics). It runs while the breaker holds its lock: it must be
	// quick and must not call the guarded store.
	OnStateChange func(from, to BreakerState)
	// Name names the breaker in logs (default "ledger").
	Name string
	// Limiter, when set, admits the calls (see Limiter): a call waits for
	// room under its concurrency limit, in its bounded queue, before the
	// deadline starts; a call it sheds fails with ErrShed (and
	// ledger.ErrUnavailable) and is no failure of the breaker. Cluster gives each
	// host one.
	Limiter *Limiter
}

func (o *GuardOptions) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = DefaultGuardTimeout
	}
	if o.Failures == 0 {
		o.Failures = DefaultGuardFailures
	}
	if o.OpenFor <= 0 {
		o.OpenFor = DefaultGuardOpenFor
	}
	if o.HalfOpenMax == 0 {
		o.HalfOpenMax = DefaultGuardHalfOpenMax
	}
	if o.Name == "" {
		o.Name = "ledger"
	}
}

// Guarded is a Store under a deadline and a circuit breaker (see Guard).
type Guarded struct {
	store ledger.Store
	opts  GuardOptions
	cb    *gobreaker.CircuitBreaker[ledger.Answer]
}

var _ ledger.Store = (*Guarded)(nil)

// Guard wraps s so that every call runs under a deadline and a circuit
// breaker: a dead or slow store becomes an error wrapping ledger.ErrUnavailable
// within the deadline, and at once while the breaker is open; the breaker
// lets a few probe calls through after OpenFor, so that service comes back
// by itself.
//
// With a Limiter (GuardOptions.Limiter) a call is first admitted by it,
// waiting in its queue if need be; the deadline starts once the call is
// admitted, so that the breaker judges the store by what the store does,
// not by the time calls spent waiting for their turn inside the gateway. A
// call the limiter sheds fails with a *ShedError (ErrShed, ledger.ErrUnavailable)
// and counts neither way; one still waiting when the breaker opens is not
// sent.
//
// What counts: an answer without error is a success, whatever it holds (no
// consent, no person: those are answers). Any error of the store, the
// deadline of Guard or of the caller included, is a failure. A call whose
// context the caller cancelled (context.Canceled) counts neither way: it is
// not the ledger's fault. Every error returned wraps ledger.ErrUnavailable, but
// for a call the caller cancelled or whose context was done before the
// call (or while it waited for its turn), which wraps the context's error.
// A call the breaker refused wraps ErrBreakerOpen too; one that ran out of
// Guard's deadline wraps context.DeadlineExceeded.
//
// The logger (nil: none) gets the state changes of the breaker. Closing
// the Guarded store closes s.
func Guard(s ledger.Store, opts GuardOptions, logger *zap.Logger) *Guarded {
	opts.defaults()
	if logger == nil {
		logger = zap.NewNop()
	}
	g := &Guarded{store: s, opts: opts}
	hook := opts.OnStateChange
	g.cb = gobreaker.NewCircuitBreaker[ledger.Answer](gobreaker.Settings{
		Name:        opts.Name,
		MaxRequests: opts.HalfOpenMax,
		Timeout:     opts.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= opts.Failures },
		IsExcluded: func(err error) bool {
			return errors.Is(err, errCallerGone) || errors.Is(err, ErrShed) || errors.Is(err, errNotSent)
		},
		OnStateChange: func(name string, from, to gobreaker.State) {
			f, t := breakerState(from), breakerState(to)
			if t == BreakerOpen {
				logger.Warn("ledger circuit breaker open: the host is not asked until probes succeed (91 at once if no other host answers)",
					zap.String("breaker", name), zap.Stringer("from", f), zap.Duration("open_for", opts.OpenFor))
			} else {
				logger.Info("ledger circuit breaker", zap.String("breaker", name), zap.Stringer("from", f), zap.Stringer("to", t))
			}
			if hook != nil {
				hook(f, t)
			}
		},
	})
	return g
}

func breakerState(s gobreaker.State) BreakerState {
	switch s {
	case gobreaker.StateHalfOpen:
		return BreakerHalfOpen
	case gobreaker.StateOpen:
		return BreakerOpen
	}
	return BreakerClosed
}

// ErrBreakerOpen is wrapped (with ledger.ErrUnavailable) in the error of a call
// that a Guard's breaker refused: open, or half-open with its probes all
// out. Such a call never reached the store.
var ErrBreakerOpen = errors.New("circuit breaker open")

// errCallerGone marks (for the breaker) an error due to the caller
// cancelling its context.
var errCallerGone = errors.New("ledger: call cancelled by the caller")

// errNotSent marks (for the breaker) a call admitted by the limiter after
// the breaker opened: it is not sent, and fails as refused by the breaker.
var errNotSent = errors.New("ledger: breaker opened while the call waited")

// State is the breaker's state now.
func (g *Guarded) State() BreakerState { return breakerState(g.cb.State()) }

// Options are the options in force, defaults filled in.
func (g *Guarded) Options() GuardOptions { return g.opts }

// Inquire implements Store.
func (g *Guarded) Inquire(ctx context.Context, q ledger.Query) (ledger.Answer, error) {
	ans, _, err := g.inquire(ctx, q)
	return ans, err
}

// inquire is Inquire, also telling how long the call waited for its turn
// and how long the store took.
func (g *Guarded) inquire(ctx context.Context, q ledger.Query) (ledger.Answer, callTimes, error) {
	return g.call(ctx, func(ctx context.Context) (ledger.Answer, error) { return g.store.Inquire(ctx, q) }, false)
}

// Ping implements Store: the store's Ping under the same deadline and
// breaker (and limiter: a ping goes before the queued inquiries and is
// never refused for a full queue).
func (g *Guarded) Ping(ctx context.Context) error {
	_, _, err := g.call(ctx, func(ctx context.Context) (ledger.Answer, error) { return ledger.Answer{}, g.store.Ping(ctx) }, true)
	return err
}

// Close implements Store: it closes the guarded store.
func (g *Guarded) Close() { g.store.Close() }

// callTimes are the two parts of a call's time.
type callTimes struct {
	waited time.Duration // for the limiter's admission
	ran    time.Duration // in the store
	sent   bool          // the store was called
}

func (g *Guarded) call(ctx context.Context, f func(context.Context) (ledger.Answer, error), priority bool) (ledger.Answer, callTimes, error) {
	var ct callTimes
	if err := ctx.Err(); err != nil {
		return ledger.Answer{}, ct, fmt.Errorf("ledger: not called: %w", err)
	}
	// The permit is given back once the breaker has counted the call, so
	// that a call it admits next sees the breaker's new state.
	var permit Permit
	result := ResultIgnored
	defer func() { permit.Release(result) }() // a store's panic included
	ans, err := g.cb.Execute(func() (ledger.Answer, error) {
		if g.opts.Limiter != nil {
			t0 := time.Now()
			p, err := g.opts.Limiter.acquire(ctx, priority)
			ct.waited = time.Since(t0)
			switch {
			case errors.Is(err, ErrShed):
				return ledger.Answer{}, err
			case err != nil:
				return ledger.Answer{}, fmt.Errorf("%w: not called: %w", errCallerGone, err)
			}
			permit = p
			if g.cb.State() == gobreaker.StateOpen {
				return ledger.Answer{}, errNotSent
			}
		}
		start := time.Now()
		cctx, cancel := context.WithTimeout(ctx, g.opts.Timeout)
		defer cancel()
		ans, err := f(cctx)
		ct.ran, ct.sent = time.Since(start), true
		if err == nil {
			if !priority { // a ping's latency is not an inquiry's
				result = ResultOK
			}
			return ans, nil
		}
		if errors.Is(ctx.Err(), context.Canceled) {
			return ledger.Answer{}, fmt.Errorf("%w: %w", errCallerGone, ctx.Err())
		}
		if cctx.Err() != nil && ctx.Err() == nil {
			result = ResultDropped
			if errors.Is(err, ledger.ErrUnavailable) {
				return ledger.Answer{}, err
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("%w (%w)", err, context.DeadlineExceeded)
			}
			return ledger.Answer{}, fmt.Errorf("%w: no answer within %v: %w", ledger.ErrUnavailable, g.opts.Timeout, err)
		}
		if errors.Is(err, ledger.ErrUnavailable) {
			return ledger.Answer{}, err
		}
		return ledger.Answer{}, fmt.Errorf("%w: %w", ledger.ErrUnavailable, err)
	})
	switch {
	case err == nil:
		return ans, ct, nil
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests), errors.Is(err, errNotSent):
		return ledger.Answer{}, ct, fmt.Errorf("%w: %w (%s, %s)", ledger.ErrUnavailable, ErrBreakerOpen, g.opts.Name, g.State())
	}
	return ledger.Answer{}, ct, err
}
