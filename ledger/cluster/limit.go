package cluster

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/bli/atmgw/ledger"
)

// Defaults of LimitOptions.
const (
	// DefaultLimitBackoff is the multiplicative decrease of the limit on a
	// drop (Netflix concurrency-limits' AIMD backoff ratio).
	DefaultLimitBackoff = 0.9
	// DefaultLimitTolerance: a success grows the limit only when its
	// latency is within this many times the latency baseline.
	DefaultLimitTolerance = 2.0
	// DefaultQueueTimeout is how long a call waits in the queue at most.
	DefaultQueueTimeout = 100 * time.Millisecond
	// DefaultQueuePerLimit: the queue holds this many times Max by default.
	DefaultQueuePerLimit = 4
	// baselineWeight is the weight of one success in the latency baseline
	// (an exponential moving average over about 40 successes).
	baselineWeight = 0.05
)

// Reasons of a shed call (the reason label of atmgw_ledger_shed_total).
const (
	// ShedQueueFull: the concurrency limit was reached and the queue
	// held Queue calls already: turned away at once.
	ShedQueueFull = "queue_full"
	// ShedQueueTimeout: the call waited QueueTimeout in the queue without
	// being admitted.
	ShedQueueTimeout = "queue_timeout"
)

// ErrShed is wrapped, with ledger.ErrUnavailable, in the error of a call turned
// away before it reached the store because the host was at its concurrency
// limit and the queue was full or the call waited too long in it (see
// Limiter). It is the gateway shedding load, not the host failing: no
// breaker counts it. ShedReason tells why.
var ErrShed = errors.New("ledger: shed")

// ShedError is the error of a shed call.
type ShedError struct {
	Reason string        // ShedQueueFull or ShedQueueTimeout
	Limit  int           // the concurrency limit then
	Queued int           // the calls waiting then (queue full)
	Waited time.Duration // the time spent in the queue (queue timeout)
}

func (e *ShedError) Error() string {
	switch e.Reason {
	case ShedQueueFull:
		return fmt.Sprintf("ledger: shed: %d inquiries in progress and %d waiting (ledger.queue)", e.Limit, e.Queued)
	case ShedQueueTimeout:
		return fmt.Sprintf("ledger: shed: no room within %v of waiting (ledger.queue_timeout; limit %d)", e.Waited.Round(time.Millisecond), e.Limit)
	}
	return "ledger: shed: " + e.Reason
}

// Is makes a ShedError match ErrShed and ledger.ErrUnavailable.
func (e *ShedError) Is(target error) bool {
	return target == ErrShed || target == ledger.ErrUnavailable
}

// ShedReason is the reason of a shed call's error ("" and false when err
// is not one).
func ShedReason(err error) (string, bool) {
	var se *ShedError
	if errors.As(err, &se) {
		return se.Reason, true
	}
	return "", false
}

// LimitOptions tune a Limiter. Zero values take the defaults.
type LimitOptions struct {
	// Max is the highest the limit goes: for a database, its connection
	// pool, so that an admitted call never waits for a connection
	// (default DefaultMaxConcurrent).
	Max int
	// Min is the lowest the limit goes (default Max/4, at least 1).
	Min int
	// Initial is the limit to start with (default Max: a warm pool).
	Initial int
	// Backoff multiplies the limit on a drop: a call that got no answer
	// in time, or answered after Slow (default 0.9).
	Backoff float64
	// Tolerance: a success grows the limit only while its latency is at
	// most Tolerance times the baseline, an average of recent latencies
	// (default 2).
	Tolerance float64
	// Slow, when set, makes a success slower than it a drop.
	Slow time.Duration
	// Queue is how many calls may wait for room at most; one more is shed
	// at once (ShedQueueFull). 0 takes the default, 4 x Max; negative: no
	// queue, a call past the limit is shed at once.
	Queue int
	// QueueTimeout is how long a call waits in the queue at most before it
	// is shed (ShedQueueTimeout) (default 100ms).
	QueueTimeout time.Duration
	// OnLimit, when set, is told the new limit each time it changes (for
	// a gauge). It runs under the limiter's lock: it must be quick.
	OnLimit func(limit int)
}

func (o *LimitOptions) defaults() {
	if o.Max <= 0 {
		o.Max = DefaultMaxConcurrent
	}
	if o.Min <= 0 {
		o.Min = max(1, o.Max/4)
	}
	o.Min = min(o.Min, o.Max)
	if o.Initial <= 0 {
		o.Initial = o.Max
	}
	o.Initial = min(max(o.Initial, o.Min), o.Max)
	if o.Backoff <= 0 || o.Backoff >= 1 {
		o.Backoff = DefaultLimitBackoff
	}
	if o.Tolerance < 1 {
		o.Tolerance = DefaultLimitTolerance
	}
	if o.Queue == 0 {
		o.Queue = DefaultQueuePerLimit * o.Max
	}
	if o.QueueTimeout <= 0 {
		o.QueueTimeout = DefaultQueueTimeout
	}
}

// Result is how an admitted call ended, for the limiter.
type Result int

const (
	// ResultOK: answered (its latency is a sample).
	ResultOK Result = iota
	// ResultDropped: no answer within the deadline (or an overload): the
	// limit backs off.
	ResultDropped
	// ResultIgnored: says nothing of the load (an error of another kind,
	// the caller gave up).
	ResultIgnored
)

// Limiter is an adaptive concurrency limit with a bounded queue, after
// Netflix's concurrency-limits (AIMD, with Gradient2's latency baseline):
// at most Limit calls are admitted at once; one more waits in a FIFO queue,
// at most Queue of them, each at most QueueTimeout, and the excess is shed
// (ErrShed) so that only it gets an error and what is served keeps a
// bounded latency.
//
// The limit adapts to what the host sustains, within [Min, Max]:
//   - additive increase: a success whose latency is at most Tolerance x
//     the baseline (an exponential moving average of the latencies of
//     recent successes) adds 1/limit (about one per limit's worth of
//     calls, as TCP's congestion avoidance), and only while the limit is
//     in use (at least half of it in flight: an idle limit proves nothing);
//   - multiplicative decrease: a drop (a call that got no answer within
//     its deadline, or a success slower than Slow) multiplies the limit by
//     Backoff, once per window: the drops of calls admitted before the
//     last decrease do not decrease it again (they were sent at the old
//     limit);
//   - anything else (an error of another kind, a call the caller gave up)
//     leaves it alone.
//
// A Limiter is safe for concurrent use.
type Limiter struct {
	opts LimitOptions
	now  func() time.Time

	mu       sync.Mutex
	limit    float64
	inFlight int
	waiters  []*waiter // FIFO; priority waiters first
	queued   int       // waiters that are not priority
	baseline float64   // seconds; 0: no sample yet
	seq      uint64    // admissions so far
	cutSeq   uint64    // seq at the last decrease
}

type waiter struct {
	ready    chan struct{} // closed when admitted
	admitted bool
	seq      uint64
	priority bool
}

// NewLimiter makes a limiter (opts' zero values take the defaults).
func NewLimiter(opts LimitOptions) *Limiter {
	opts.defaults()
	l := &Limiter{opts: opts, now: time.Now, limit: float64(opts.Initial)}
	if opts.OnLimit != nil {
		opts.OnLimit(opts.Initial)
	}
	return l
}

// Options are the options in force, defaults filled in.
func (l *Limiter) Options() LimitOptions { return l.opts }

// Limit is the concurrency limit now.
func (l *Limiter) Limit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.capLocked()
}

// InFlight is how many calls hold a permit now.
func (l *Limiter) InFlight() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inFlight
}

// Queued is how many calls wait for room now.
func (l *Limiter) Queued() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.waiters)
}

func (l *Limiter) capLocked() int { return max(l.opts.Min, int(l.limit)) }

// Permit is the right to make one call; Release gives it back.
type Permit struct {
	l     *Limiter
	seq   uint64
	start time.Time
}

// Acquire waits for room under the limit: at once when there is, else in
// the queue, at most QueueTimeout (and until ctx is done). It fails with a
// *ShedError (wrapping ErrShed and ledger.ErrUnavailable) when the queue is full
// or the wait ran out, and with ctx's error when ctx was done first. The
// permit must be released.
func (l *Limiter) Acquire(ctx context.Context) (Permit, error) {
	return l.acquire(ctx, false)
}

// acquire is Acquire; a priority call (a health ping) goes before the
// calls of the queue and is never refused for a full queue.
func (l *Limiter) acquire(ctx context.Context, priority bool) (Permit, error) {
	if err := ctx.Err(); err != nil {
		return Permit{}, err
	}
	l.mu.Lock()
	// Invariant: a waiter exists only while the limit is full, so a call
	// admitted at once never passes one that waits.
	if l.inFlight < l.capLocked() {
		p := l.admitLocked()
		l.mu.Unlock()
		return p, nil
	}
	if !priority && (l.opts.Queue < 0 || l.queued >= l.opts.Queue) {
		err := &ShedError{Reason: ShedQueueFull, Limit: l.capLocked(), Queued: len(l.waiters)}
		l.mu.Unlock()
		return Permit{}, err
	}
	w := &waiter{ready: make(chan struct{}), priority: priority}
	if priority {
		i := 0
		for i < len(l.waiters) && l.waiters[i].priority {
			i++
		}
		l.waiters = append(l.waiters, nil)
		copy(l.waiters[i+1:], l.waiters[i:])
		l.waiters[i] = w
	} else {
		l.waiters = append(l.waiters, w)
		l.queued++
	}
	l.mu.Unlock()

	start := time.Now()
	timer := time.NewTimer(l.opts.QueueTimeout)
	defer timer.Stop()
	var ctxErr error
	select {
	case <-w.ready:
		return l.permit(w), nil
	case <-timer.C:
	case <-ctx.Done():
		ctxErr = ctx.Err()
	}
	l.mu.Lock()
	if w.admitted {
		// Admitted as the wait ended: serve it, unless the caller left.
		l.mu.Unlock()
		p := l.permit(w)
		if ctxErr != nil {
			p.Release(ResultIgnored)
			return Permit{}, ctxErr
		}
		return p, nil
	}
	l.removeLocked(w)
	limit := l.capLocked()
	l.mu.Unlock()
	if ctxErr != nil {
		return Permit{}, ctxErr
	}
	return Permit{}, &ShedError{Reason: ShedQueueTimeout, Limit: limit, Waited: time.Since(start)}
}

// admitLocked counts one more call in flight.
func (l *Limiter) admitLocked() Permit {
	l.inFlight++
	l.seq++
	return Permit{l: l, seq: l.seq, start: l.now()}
}

func (l *Limiter) permit(w *waiter) Permit {
	return Permit{l: l, seq: w.seq, start: l.now()}
}

func (l *Limiter) removeLocked(w *waiter) {
	for i, x := range l.waiters {
		if x == w {
			l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
			if !w.priority {
				l.queued--
			}
			return
		}
	}
}

// wakeLocked admits waiters, first first, while there is room.
func (l *Limiter) wakeLocked() {
	for len(l.waiters) > 0 && l.inFlight < l.capLocked() {
		w := l.waiters[0]
		l.waiters[0] = nil
		l.waiters = l.waiters[1:]
		if !w.priority {
			l.queued--
		}
		l.inFlight++
		l.seq++
		w.seq = l.seq
		w.admitted = true
		close(w.ready)
	}
}

// Release gives the permit back, telling the limiter how the call ended
// (its latency is the time since the permit was granted). A zero Permit's
// Release does nothing; a permit must be released once.
func (p Permit) Release(r Result) {
	l := p.l
	if l == nil {
		return
	}
	rtt := l.now().Sub(p.start)
	l.mu.Lock()
	defer l.mu.Unlock()
	inFlight := l.inFlight
	l.inFlight--
	before := l.capLocked()
	switch r {
	case ResultOK:
		if l.opts.Slow > 0 && rtt > l.opts.Slow {
			l.dropLocked(p.seq)
		} else {
			l.successLocked(rtt, inFlight)
		}
	case ResultDropped:
		l.dropLocked(p.seq)
	}
	if after := l.capLocked(); after != before && l.opts.OnLimit != nil {
		l.opts.OnLimit(after)
	}
	l.wakeLocked()
}

func (l *Limiter) successLocked(rtt time.Duration, inFlight int) {
	s := max(rtt.Seconds(), 1e-6)
	if l.baseline == 0 {
		l.baseline = s
	}
	low := s <= l.opts.Tolerance*l.baseline
	l.baseline += baselineWeight * (s - l.baseline)
	if low && 2*inFlight >= l.capLocked() {
		l.limit = math.Min(float64(l.opts.Max), l.limit+1/l.limit)
	}
}

func (l *Limiter) dropLocked(seq uint64) {
	if seq <= l.cutSeq {
		return // sent at the limit before the last decrease
	}
	l.limit = math.Max(float64(l.opts.Min), l.limit*l.opts.Backoff)
	l.cutSeq = l.seq
}
