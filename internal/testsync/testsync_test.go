package testsync_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bli/atmgw/internal/testsync"
)

func TestBufferWrittenWhileRead(t *testing.T) {
	var b testsync.Buffer
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() { fmt.Fprintf(&b, "w%d\n", i) })
	}
	testsync.WaitFor(t, "four lines", func() bool { return len(b.String()) == 12 })
	wg.Wait()
}

func TestUntil(t *testing.T) {
	var n atomic.Int32
	if !testsync.Until(time.Second, func() bool { return n.Add(1) == 3 }) {
		t.Errorf("a condition met on the third poll was not seen")
	}
	start := time.Now()
	if testsync.Until(50*time.Millisecond, func() bool { return false }) {
		t.Errorf("a condition never met held")
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("gave up after %v, before the 50ms", d)
	}
}
