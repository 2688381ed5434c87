package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// IsTerminal reports whether f is a character device (a terminal), the
// condition under which a progress display is drawn unless asked for.
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Line redraws the line that status returns every interval on w, until Stop.
type Line struct {
	w      io.Writer
	status func() string
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
	last   int
}

// Start begins redrawing. A nil w draws nothing (Stop is still safe).
func Start(w io.Writer, interval time.Duration, status func() string) *Line {
	l := &Line{w: w, status: status, stop: make(chan struct{}), done: make(chan struct{})}
	if w == nil {
		close(l.done)
		return l
	}
	go func() {
		defer close(l.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				l.draw()
				fmt.Fprintln(l.w)
				return
			case <-t.C:
				l.draw()
			}
		}
	}()
	return l
}

func (l *Line) draw() {
	s := l.status()
	pad := ""
	if n := len([]rune(s)); n < l.last {
		pad = strings.Repeat(" ", l.last-n)
	}
	l.last = len([]rune(s))
	fmt.Fprintf(l.w, "\r%s%s", s, pad)
}

// Stop draws the line a last time, ends it with a newline and returns once
// the drawing goroutine has ended.
func (l *Line) Stop() {
	l.once.Do(func() { close(l.stop) })
	<-l.done
}

// Bar is a bar of width cells filled to fraction (0..1).
func Bar(width int, fraction float64) string {
	if fraction < 0 {
		fraction = 0
	}
	if fraction > 1 {
		fraction = 1
	}
	n := int(fraction*float64(width) + 0.5)
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

// Rate formats a per-second rate compactly (950/s, 12.3k/s, 1.2M/s).
func Rate(perSecond float64) string {
	switch {
	case perSecond >= 1e6:
		return fmt.Sprintf("%.1fM/s", perSecond/1e6)
	case perSecond >= 1e4:
		return fmt.Sprintf("%.1fk/s", perSecond/1e3)
	}
	return fmt.Sprintf("%.0f/s", perSecond)
}
