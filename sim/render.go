package sim

import (
	"fmt"
	"strings"

	"golang.org/x/text/encoding/traditionalchinese"
)

// Box-drawing characters of the frame.
const (
	boxH  = "─"
	boxV  = "│"
	boxTL = "┌"
	boxTR = "┐"
	boxBL = "└"
	boxBR = "┘"
)

// Layout is a Big5 text (DE61 or DE63) checked against a profile.
type Layout struct {
	Lines    []string // decoded to UTF-8, one per LF-separated line
	Widths   []int    // columns of each line: Big5 bytes (ASCII 1, double-byte 2)
	Problems []string // where the text breaks the contract's layout rules
}

// CheckLayout splits a Big5 text into lines, decodes them and checks them
// against the profile: no line wider than the columns (a double-byte
// character counted as two), no more lines than the profile has, no
// double-byte character cut, no control character but LF.
func CheckLayout(big5 []byte, p Profile) Layout {
	var l Layout
	if len(big5) == 0 {
		return l
	}
	for n, raw := range strings.Split(string(big5), "\n") {
		line := []byte(raw)
		width, cut, ctrl := big5Width(line)
		l.Lines = append(l.Lines, DecodeBig5(line))
		l.Widths = append(l.Widths, width)
		if width > p.Columns {
			l.Problems = append(l.Problems, fmt.Sprintf("line %d is %d columns wide, more than %d", n+1, width, p.Columns))
		}
		if cut {
			l.Problems = append(l.Problems, fmt.Sprintf("line %d ends in half a double-byte character", n+1))
		}
		if ctrl {
			l.Problems = append(l.Problems, fmt.Sprintf("line %d holds a control character", n+1))
		}
	}
	if len(l.Lines) > p.Lines {
		l.Problems = append(l.Problems, fmt.Sprintf("%d lines, more than %d", len(l.Lines), p.Lines))
	}
	return l
}

// big5Width counts the columns of one line of Big5 bytes. cut reports a lead
// byte with no trail byte after it; ctrl a control character.
func big5Width(b []byte) (width int, cut, ctrl bool) {
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c < 0x20 || c == 0x7F:
			ctrl = true
			width++
		case c < 0x80:
			width++
		case c >= 0x81 && c <= 0xFE:
			if i+1 >= len(b) {
				return width + 1, true, ctrl
			}
			i++
			width += 2
		default: // 0x80, 0xFF: not Big5, shown as one replacement
			width++
		}
	}
	return width, false, ctrl
}

// DecodeBig5 turns Big5 (CP950) bytes into UTF-8; bytes that are not Big5
// become U+FFFD.
func DecodeBig5(b []byte) string {
	s, err := traditionalchinese.Big5.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(s)
}

// EncodeBig5 turns UTF-8 into Big5; characters Big5 lacks become ？ (as the
// gateway does).
func EncodeBig5(s string) []byte {
	var out []byte
	enc := traditionalchinese.Big5.NewEncoder()
	for _, r := range s {
		b, err := enc.Bytes([]byte(string(r)))
		if err != nil {
			b = []byte{0xA1, 0x48} // ？
		}
		out = append(out, b...)
	}
	return out
}

// Frame draws a Big5 text inside a box of the profile's size, as the ATM
// would show it: every line padded to the profile's columns, the box as many
// lines high as the profile. Lines that overflow stick out of the box, and
// lines beyond the profile's height follow below it, so that a layout
// error shows; CheckLayout lists them in words.
func Frame(title string, big5 []byte, p Profile) string {
	l := CheckLayout(big5, p)
	var b strings.Builder
	label := fmt.Sprintf("%s %s", title, p)
	top := boxH + " " + label + " "
	if n := len(label) + 3; n <= p.Columns {
		top += strings.Repeat(boxH, p.Columns-n)
	}
	b.WriteString(boxTL + top + boxTR + "\n")
	for i := range max(p.Lines, len(l.Lines)) {
		if i == p.Lines {
			b.WriteString(boxBL + strings.Repeat(boxH, p.Columns) + boxBR + "  (more lines than the profile holds:)\n")
		}
		line, w := "", 0
		if i < len(l.Lines) {
			line, w = l.Lines[i], l.Widths[i]
		}
		line = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7F {
				return '·'
			}
			return r
		}, line)
		pad := ""
		if w < p.Columns {
			pad = strings.Repeat(" ", p.Columns-w)
		}
		edge := boxV
		if i >= p.Lines {
			edge = " "
		}
		b.WriteString(edge + line + pad + edge)
		if w > p.Columns {
			fmt.Fprintf(&b, "  <- %d columns", w)
		}
		b.WriteString("\n")
	}
	if len(l.Lines) <= p.Lines {
		b.WriteString(boxBL + strings.Repeat(boxH, p.Columns) + boxBR + "\n")
	}
	return b.String()
}
