package card

import (
	"hash/maphash"
	"sync"
)

// numShards is the number of independently locked parts of the per-card
// state of ATCTracker and RateLimiter (a power of two).
const numShards = 64

// shard is one locked part of a per-card map. The padding keeps two shards'
// mutexes off one cache line.
type shard[V any] struct {
	mu        sync.Mutex
	m         map[string]V
	lastSweep int64 // RateLimiter: unix nanoseconds of this shard's last sweep
	_         [40]byte
}

// shards is a map from card key (the PAN hash) to V, split over numShards
// mutexes so that goroutines working on different cards rarely contend.
type shards[V any] struct {
	seed maphash.Seed
	s    [numShards]shard[V]
}

func newShards[V any]() *shards[V] {
	ss := &shards[V]{seed: maphash.MakeSeed()}
	for i := range ss.s {
		ss.s[i].m = make(map[string]V)
	}
	return ss
}

// index returns the number of key's shard.
func (ss *shards[V]) index(key string) int {
	return int(maphash.String(ss.seed, key) & (numShards - 1))
}

// of returns the shard of key.
func (ss *shards[V]) of(key string) *shard[V] {
	return &ss.s[ss.index(key)]
}

// len counts the keys held, locking each shard in turn.
func (ss *shards[V]) len() int {
	n := 0
	for i := range ss.s {
		sh := &ss.s[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}
