package load

import (
	"context"
	"time"
)

// clock ticks the collector's intervals and stops sending when the
// duration has passed or ctx ends, until runCtx ends.
func (r *run) clock(ctx, runCtx context.Context) {
	t := time.NewTicker(min(r.cfg.Interval, 100*time.Millisecond))
	defer t.Stop()
	var deadline <-chan time.Time
	if r.cfg.Duration > 0 {
		dt := time.NewTimer(r.cfg.Duration)
		defer dt.Stop()
		deadline = dt.C
	}
	for {
		select {
		case now := <-t.C:
			r.col.Tick(now)
		case <-deadline:
			r.stopSending()
			deadline = nil
		case <-ctx.Done():
			r.stopSending()
			return
		case <-runCtx.Done():
			return
		}
	}
}

// pace issues the due times of an open loop at the configured rate.
func (r *run) pace(ctx context.Context, start time.Time) {
	defer close(r.tokens)
	every := time.Duration(float64(time.Second) / r.cfg.Rate)
	due := start
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-r.stop:
				return
			case <-ctx.Done():
				return
			}
		}
		select {
		case r.tokens <- due:
		case <-r.stop:
			return
		case <-ctx.Done():
			return
		}
		due = due.Add(every)
	}
}

// take reserves one request of the Count budget.
func (r *run) take() bool {
	if r.cfg.Count <= 0 {
		return true
	}
	if r.budget.Add(-1) < 0 {
		r.stopSending()
		return false
	}
	return true
}
