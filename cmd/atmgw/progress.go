package main

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progressBar prints the loader's progress on one line of a terminal.
type progressBar struct {
	w     io.Writer
	mu    sync.Mutex
	start time.Time
	last  time.Time
}

func newProgressBar(w io.Writer) *progressBar {
	return &progressBar{w: w, start: time.Now()}
}

// update is a postgres.Progress: file being read and rows read so far.
func (p *progressBar) update(file string, rows int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	secs := now.Sub(p.start).Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(rows) / secs
	}
	fmt.Fprintf(p.w, "\r\033[Kloading %-22s %12d rows  %8.0f rows/s  %5.0fs", file, rows, rate, secs)
}

func (p *progressBar) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.w, "\r\033[K")
}
