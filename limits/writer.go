package limits

import "unicode/utf8"

// writer lays out Big5 text within a profile. Every write goes through it,
// so the hard rules hold by construction: a line never grows past the
// columns (text is cut between characters, numbers and dates are written
// whole or not at all), lines past the last are dropped, and characters
// are encoded to CP950 with ？ for the rest. Control characters in text
// become spaces. Since a Big5 character takes as many bytes as columns,
// the byte length of a line is its width.
type writer struct {
	t     *big5Table
	b     []byte
	cols  int
	max   int // lines
	lines int
	col   int
	off   bool // past the last line: writes are dropped
	// lost is set when something that must show whole did not: a line
	// past the last, an amount, date or identifier that did not fit, a
	// label cut. A layout is complete when it stays false.
	lost bool
}

func newWriter(p Profile, buf []byte) writer {
	return writer{t: cp950(), b: buf[:0], cols: p.Columns, max: p.Lines}
}

func (w *writer) reset() {
	w.b, w.lines, w.col, w.off, w.lost = w.b[:0], 0, 0, false, false
}

// line starts a new line (LF-separated, no LF after the last).
func (w *writer) line() {
	if w.lines >= w.max {
		w.off, w.lost = true, true
		return
	}
	if w.lines > 0 {
		w.b = append(w.b, '\n')
	}
	w.lines++
	w.col = 0
}

func (w *writer) room() int {
	if w.off || w.lines == 0 {
		return 0
	}
	return w.cols - w.col
}

// rune writes one character if it fits and reports whether it did.
func (w *writer) rune(r rune) bool {
	rw := runeWidth(r)
	if rw > w.room() {
		return false
	}
	if r < 0x20 || r == 0x7F {
		r = ' '
	}
	w.b = w.t.appendRune(w.b, r)
	w.col += rw
	return true
}

// text writes as much of s as fits in max columns (and in the line) and
// returns the width written.
func (w *writer) text(s string, max int) int {
	if room := w.room(); max > room {
		max = room
	}
	var used int
	w.b, used = w.t.appendText(w.b, s, max)
	w.col += used
	return used
}

// appendText appends the Big5 form of the longest prefix of s that takes at
// most max columns, control characters as spaces, and returns its width.
func (t *big5Table) appendText(b []byte, s string, max int) ([]byte, int) {
	b, used, _ := t.appendTextN(b, s, max)
	return b, used
}

// appendTextN is appendText that also returns how many bytes of s it
// wrote.
func (t *big5Table) appendTextN(b []byte, s string, max int) ([]byte, int, int) {
	used, i := 0, 0
	for i < len(s) {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		rw := runeWidth(r)
		if used+rw > max {
			break
		}
		if r < 0x20 || r == 0x7F {
			r = ' '
		}
		b = t.appendRune(b, r)
		used += rw
		i += size
	}
	return b, used, i
}

// str writes as much of s as fits in the line.
func (w *writer) str(s string) int { return w.text(s, w.cols) }

// spaces writes n spaces, as many as fit.
func (w *writer) spaces(n int) {
	if room := w.room(); n > room {
		n = room
	}
	for ; n > 0; n-- {
		w.b = append(w.b, ' ')
		w.col++
	}
}

// padTo writes spaces up to column c.
func (w *writer) padTo(c int) { w.spaces(c - w.col) }

// atom writes the ASCII bytes appended by f whole, or nothing when they do
// not fit in the line: an amount or a date is never cut.
func (w *writer) atom(f func([]byte) []byte) bool {
	if w.off || w.lines == 0 {
		w.lost = true
		return false
	}
	start := len(w.b)
	w.b = f(w.b)
	n := len(w.b) - start
	if n > w.cols-w.col {
		w.b = w.b[:start]
		w.lost = true
		return false
	}
	w.col += n
	return true
}

func (w *writer) amount(v int64, sep bool) bool {
	return w.atom(func(b []byte) []byte { return appendAmount(b, v, sep) })
}

// whole writes s whole, or nothing when it does not fit in the line: an
// identifier (terminal id, DE37, PAN digits), a label or a row's kind is
// never cut.
func (w *writer) whole(s string) bool {
	if w.off || w.lines == 0 {
		w.lost = true
		return false
	}
	start := len(w.b)
	var used, n int
	w.b, used, n = w.t.appendTextN(w.b, s, w.cols-w.col)
	if n < len(s) {
		w.b = w.b[:start]
		w.lost = true
		return false
	}
	w.col += used
	return true
}

// rule writes a line of n dashes, as many as fit.
func (w *writer) rule(n int) {
	n = min(n, w.room())
	for ; n > 0; n-- {
		w.b = append(w.b, '-')
		w.col++
	}
}
