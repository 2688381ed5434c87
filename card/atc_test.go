package card

import (
	"fmt"
	"sync"
	"testing"
)

func TestATCTrackerStrictlyIncreasing(t *testing.T) {
	tr := NewATCTracker()
	steps := []struct {
		card string
		atc  uint16
		ok   bool
	}{
		{"a", 5, true},
		{"a", 5, false}, // replay
		{"a", 4, false}, // stale
		{"a", 6, true},
		{"a", 100, true}, // gaps are fine
		{"a", 99, false},
		{"b", 1, true}, // another card is independent
		{"b", 1, false},
		{"a", 101, true},
		{"c", 0, true}, // 0 as the first
		{"c", 0, false},
		{"d", 65535, true},
		{"d", 65535, false},
		{"d", 0, false},
	}
	for i, s := range steps {
		if got := tr.Accept(s.card, s.atc); got != s.ok {
			t.Errorf("step %d: Accept(%s, %d) = %v, want %v", i, s.card, s.atc, got, s.ok)
		}
	}
	if h, ok := tr.Highest("a"); !ok || h != 101 {
		t.Errorf("Highest(a) = %d, %v; want 101", h, ok)
	}
	if _, ok := tr.Highest("zzz"); ok {
		t.Error("Highest of an unseen card reports one")
	}
	if n := tr.Len(); n != 4 {
		t.Errorf("Len = %d, want 4", n)
	}
}

func TestATCTrackerConcurrent(t *testing.T) {
	tr := NewATCTracker()
	const workers, top, cards = 8, 500, 4
	accepted := make([][]map[uint16]bool, workers) // [worker][card] accepted ATCs
	var wg sync.WaitGroup
	for w := range workers {
		accepted[w] = make([]map[uint16]bool, cards)
		for c := range cards {
			accepted[w][c] = map[uint16]bool{}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for atc := uint16(1); atc <= top; atc++ {
				for c := range cards {
					if tr.Accept(fmt.Sprintf("card-%d", c), atc) {
						accepted[w][c][atc] = true
					}
				}
			}
		}()
	}
	wg.Wait()
	for c := range cards {
		seen := map[uint16]int{}
		for w := range workers {
			for atc := range accepted[w][c] {
				seen[atc]++
			}
		}
		for atc, n := range seen {
			if n > 1 {
				t.Errorf("card %d: ATC %d accepted %d times", c, atc, n)
			}
		}
		if len(seen) == 0 || len(seen) > top {
			t.Errorf("card %d: %d ATCs accepted", c, len(seen))
		}
		if seen[top] != 1 {
			t.Errorf("card %d: the highest ATC %d was not accepted once", c, top)
		}
		if h, _ := tr.Highest(fmt.Sprintf("card-%d", c)); h != top {
			t.Errorf("card %d: Highest = %d, want %d", c, h, top)
		}
	}
}

func TestATCTrackerSameATCRace(t *testing.T) {
	for round := range 20 {
		tr := NewATCTracker()
		const workers = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		start := make(chan struct{})
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if tr.Accept("same", 7) {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins != 1 {
			t.Fatalf("round %d: ATC 7 accepted %d times, want once", round, wins)
		}
	}
}
