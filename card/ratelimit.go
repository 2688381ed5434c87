package card

import "time"

// The contract's default per-card rate (decision 15): 10 inquiries in 10 minutes.
const (
	DefaultRateLimit  = 10
	DefaultRateWindow = 10 * time.Minute
)

// RateLimiter limits the inquiries of each card to Limit in any sliding
// Window (decision 15, answer 65). It keeps, per card, the times of the
// inquiries it allowed within the window (refused ones do not count): an
// inquiry is allowed when fewer than Limit of them are less than Window old,
// so a card at its limit is allowed again as soon as its oldest inquiry is
// Window old.
//
// Memory is bounded by the cards active within about two windows: each
// shard drops the cards with nothing left in the window once per window of
// (injected) time, on the first Allow that reaches it; Sweep does it for
// all shards at once. Like ATCTracker, the state is per process.
//
// A RateLimiter is safe for concurrent use; its state is split over
// independently locked shards. Use NewRateLimiter.
type RateLimiter struct {
	limit  int
	window time.Duration
	cards  *shards[*cardRate]
}

// cardRate holds the times (unix nanoseconds, oldest first) of a card's
// allowed inquiries still in the window.
type cardRate struct {
	times []int64
}

// NewRateLimiter returns a limiter of limit inquiries per window and card.
// A limit of 0 or less turns limiting off (Allow always says yes); a window
// of 0 or less means DefaultRateWindow.
func NewRateLimiter(limit int, window time.Duration) *RateLimiter {
	if limit < 0 {
		limit = 0
	}
	if window <= 0 {
		window = DefaultRateWindow
	}
	return &RateLimiter{limit: limit, window: window, cards: newShards[*cardRate]()}
}

// Limit returns the inquiries allowed per window (0: off).
func (r *RateLimiter) Limit() int { return r.limit }

// Window returns the length of the sliding window.
func (r *RateLimiter) Window() time.Duration { return r.window }

// Allow reports whether the card (keyed by its PAN hash) may make an
// inquiry at now, and if so counts it. Times should not go backwards; if
// they do, the inquiry is counted at the latest time already recorded for
// the card (never earlier, so the limit is never loosened).
func (r *RateLimiter) Allow(panHash string, now time.Time) bool {
	if r.limit == 0 {
		return true
	}
	t := now.UnixNano()
	cutoff := t - int64(r.window)
	sh := r.cards.of(panHash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if t-sh.lastSweep >= int64(r.window) {
		sweepShard(sh, cutoff)
		sh.lastSweep = t
	}
	c := sh.m[panHash]
	if c == nil {
		c = &cardRate{times: make([]int64, 0, min(r.limit, 16))}
		sh.m[panHash] = c
	}
	c.expire(cutoff)
	if len(c.times) >= r.limit {
		return false
	}
	if n := len(c.times); n > 0 && c.times[n-1] > t {
		t = c.times[n-1]
	}
	c.times = append(c.times, t)
	return true
}

// expire drops the times that have left the window (at or before cutoff).
func (c *cardRate) expire(cutoff int64) {
	i := 0
	for i < len(c.times) && c.times[i] <= cutoff {
		i++
	}
	if i == len(c.times) {
		c.times = c.times[:0] // keep the backing array from its start
		return
	}
	c.times = c.times[i:]
}

// Sweep drops the state of every card with no inquiry left in the window
// at now. Allow sweeps each shard once per window by itself; Sweep is for
// callers that want memory back at a time of their choosing.
func (r *RateLimiter) Sweep(now time.Time) {
	t := now.UnixNano()
	cutoff := t - int64(r.window)
	for i := range r.cards.s {
		sh := &r.cards.s[i]
		sh.mu.Lock()
		sweepShard(sh, cutoff)
		sh.lastSweep = t
		sh.mu.Unlock()
	}
}

// sweepShard drops the cards of a locked shard whose newest time is at or
// before cutoff.
func sweepShard(sh *shard[*cardRate], cutoff int64) {
	for k, c := range sh.m {
		if n := len(c.times); n == 0 || c.times[n-1] <= cutoff {
			delete(sh.m, k)
		}
	}
}

// Len returns the number of cards the limiter holds state for.
func (r *RateLimiter) Len() int { return r.cards.len() }
