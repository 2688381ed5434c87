// Package testsync lets a test watch what other goroutines and processes
// do: a buffer they write while the test reads it, and waiting for a
// condition to hold.
package testsync

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// Buffer is a bytes.Buffer that a process or goroutine writes while the
// test reads it (a child's stderr, a logger's output).
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Until polls cond every few milliseconds until it holds or within has
// passed, and says whether it held.
func Until(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// Patience bounds WaitFor: a guard against a hang, not a timing assertion.
const Patience = time.Minute

// WaitFor polls cond until it holds, failing the test ("gave up waiting
// for what") after Patience.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !Until(Patience, cond) {
		t.Fatalf("gave up waiting for %s", what)
	}
}
