package ledger

import (
	"hash/maphash"
	"sync"
	"time"
)

// dupes remembers the requests of the last window (decision 7: the same
// DE32+DE41+DE11+DE7 as a request in the last 10 minutes is answered 94).
// It is sharded so that concurrent inquiries rarely share a lock, and each
// shard drops expired keys as it goes, so memory stays bounded by the
// request rate times the window.
type dupes struct {
	window time.Duration
	seed   maphash.Seed
	shards [64]dupShard
}

type dupShard struct {
	mu      sync.Mutex
	seen    map[string]time.Time // key → when it was first seen
	ops     int
	minSeen time.Time
}

func newDupes(window time.Duration) *dupes {
	d := &dupes{window: window, seed: maphash.MakeSeed()}
	for i := range d.shards {
		d.shards[i].seen = make(map[string]time.Time)
	}
	return d
}

// seen records key at now and reports whether it was already recorded within
// the window.
func (d *dupes) seen(key string, now time.Time) bool {
	s := &d.shards[maphash.String(d.seed, key)%uint64(len(d.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops++
	if s.ops >= 1024 {
		s.ops = 0
		for k, t := range s.seen {
			if now.Sub(t) >= d.window {
				delete(s.seen, k)
			}
		}
	}
	if t, ok := s.seen[key]; ok && now.Sub(t) < d.window {
		return true
	}
	s.seen[key] = now
	return false
}
