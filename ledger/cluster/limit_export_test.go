package cluster

import "time"

// SetClock makes the limiter read the time from now (for the tests of its
// latency rules).
func (l *Limiter) SetClock(now func() time.Time) {
	l.mu.Lock()
	l.now = now
	l.mu.Unlock()
}
