package limits

import (
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/encoding/traditionalchinese"
)

// QuestionMark is the Big5 form of "？" (U+FF1F), printed for every
// character that has no Big5 (CP950) form.
const QuestionMark = "\xA1\x48"

const qmark = 0xA148

// inCP950 reports whether lead+trail is a double-byte code of Microsoft's
// code page 950 that is not in a user-defined (EUDC) area: A140-A3BF and
// A3E1 (symbols, bopomofo, the euro sign), A440-C67E (frequent hanzi),
// C940-F9D5 (less frequent hanzi) and F9D6-F9FE (the ETEN extensions
// CP950 took in). C6A1-C8FE and FA40-FEFE are EUDC in CP950: the Hong Kong
// (HKSCS) and ETEN characters others put there print as garbage on a CP950
// terminal, so they are never sent.
func inCP950(lead, trail byte) bool {
	if !(trail >= 0x40 && trail <= 0x7E) && !(trail >= 0xA1 && trail <= 0xFE) {
		return false
	}
	switch {
	case lead == 0xA1 || lead == 0xA2:
		return true
	case lead == 0xA3:
		return trail <= 0xBF || trail == 0xE1
	case lead >= 0xA4 && lead <= 0xC5:
		return true
	case lead == 0xC6:
		return trail <= 0x7E
	case lead >= 0xC9 && lead <= 0xF9:
		return true
	}
	return false
}

// big5Table is the CP950 repertoire both ways. It is built once, from the
// decoder of golang.org/x/text/encoding/traditionalchinese restricted to
// the CP950 codes (see inCP950), and never changes afterwards.
//
// x/text's own Big5 encoder is not used: it follows the WHATWG index, which
// encodes HKSCS characters (堃 FB69, 犇 9456, ① C6A1) that CP950 does not
// have, and for some common characters picks the HKSCS duplicate over the
// standard code (包 FABD for A55D, 婷 FBB8 for B440, 港 FDBB for B4E4).
type big5Table struct {
	enc [0x10000]uint16 // rune (BMP) → CP950 code; 0: none
	dec [(0xF9 - 0xA1 + 1) * 157]uint16
}

// cp950 returns the table, building it on first use (about a millisecond).
var cp950 = sync.OnceValue(buildTable)

func trailIndex(trail byte) int {
	if trail <= 0x7E {
		return int(trail) - 0x40
	}
	return int(trail) - 0xA1 + 63
}

func buildTable() *big5Table {
	t := new(big5Table)
	dec := traditionalchinese.Big5.NewDecoder()
	var src [2]byte
	var dst [16]byte
	for lead := 0xA1; lead <= 0xF9; lead++ {
		for trail := 0x40; trail <= 0xFE; trail++ {
			if !inCP950(byte(lead), byte(trail)) {
				continue
			}
			src[0], src[1] = byte(lead), byte(trail)
			n, _, err := dec.Transform(dst[:], src[:], true)
			if err != nil {
				continue
			}
			r, size := utf8.DecodeRune(dst[:n])
			if size != n || r == utf8.RuneError || r < 0x80 || r > 0xFFFF {
				continue
			}
			code := uint16(lead)<<8 | uint16(trail)
			t.dec[(lead-0xA1)*157+trailIndex(byte(trail))] = uint16(r)
			// Ten characters have two codes: the box-drawing ones take
			// the lower (standard Big5, not the ETEN F9xx), 十 and 卅 the
			// one in the hanzi area (A451, A4CA, not A2CC, A2CE), as
			// CP950 encodes them.
			if old := t.enc[r]; old == 0 || (old < 0xA440 && code >= 0xA440 && r >= 0x4E00 && r <= 0x9FFF) {
				t.enc[r] = code
			}
		}
	}
	// CP950 has U+2593 at F9FE where the WHATWG index has U+FFED.
	t.dec[(0xF9-0xA1)*157+trailIndex(0xFE)] = 0x2593
	t.enc[0x2593] = 0xF9FE
	return t
}

// code is the CP950 code of r, or 0 when r has none.
func (t *big5Table) code(r rune) uint16 {
	if r >= 0x80 && r <= 0xFFFF {
		return t.enc[r]
	}
	return 0
}

// runeWidth is the number of columns (and Big5 bytes) a rune of a UTF-8
// string takes: 1 for ASCII, 2 for anything else (a Big5 double-byte
// character, or ？ when it has none). An invalid UTF-8 byte decodes as
// utf8.RuneError and so also takes 2.
func runeWidth(r rune) int {
	if r >= 0 && r < utf8.RuneSelf {
		return 1
	}
	return 2
}

// Width is the number of columns s takes on a screen or receipt once
// encoded, which is also the length of its Big5 form: one per ASCII
// character, two per other character (each invalid UTF-8 byte counts as a
// character).
func Width(s string) int {
	w := 0
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			w++
			i++
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		w += 2
		i += size
	}
	return w
}

// fitLen is the length in bytes of the longest prefix of s whose width is
// at most columns, and that prefix's width.
func fitLen(s string, columns int) (n, width int) {
	for n < len(s) {
		size, w := 1, 1
		if s[n] >= utf8.RuneSelf {
			_, size = utf8.DecodeRuneInString(s[n:])
			w = 2
		}
		if width+w > columns {
			break
		}
		width += w
		n += size
	}
	return n, width
}

// TruncateBig5 returns the longest prefix of the Big5 bytes b that is at
// most n bytes long and does not end inside a double-byte character.
func TruncateBig5(b []byte, n int) []byte {
	i := 0
	for i < len(b) {
		size := 1
		if b[i] >= 0x80 {
			size = 2
		}
		if i+size > n {
			break
		}
		i += size
	}
	if i > len(b) { // a lone lead byte at the very end
		i = len(b)
	}
	return b[:i]
}

// appendRune appends the Big5 form of r: the byte itself for ASCII, its
// CP950 code, or ？.
func (t *big5Table) appendRune(b []byte, r rune) []byte {
	if r >= 0 && r < utf8.RuneSelf {
		return append(b, byte(r))
	}
	c := t.code(r)
	if c == 0 {
		c = qmark
	}
	return append(b, byte(c>>8), byte(c))
}

// runeOf decodes one CP950 double-byte code; ok is false outside CP950.
func (t *big5Table) runeOf(lead, trail byte) (rune, bool) {
	if !inCP950(lead, trail) {
		return 0, false
	}
	r := t.dec[int(lead-0xA1)*157+trailIndex(trail)]
	return rune(r), r != 0
}

// DecodeBig5 decodes Big5 (CP950) bytes to UTF-8: the name of a consent
// registered online (DE121 of an 0302), and the tests. A byte pair outside CP950, a cut character or a stray byte
// decodes as U+FFFD.
func DecodeBig5(b []byte) string {
	t := cp950()
	var sb strings.Builder
	sb.Grow(len(b) * 3 / 2)
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			sb.WriteByte(c)
			i++
			continue
		}
		if i+1 < len(b) {
			if r, ok := t.runeOf(c, b[i+1]); ok {
				sb.WriteRune(r)
				i += 2
				continue
			}
			if tr := b[i+1]; c >= 0x81 && c <= 0xFE && ((tr >= 0x40 && tr <= 0x7E) || (tr >= 0xA1 && tr <= 0xFE)) {
				sb.WriteRune(utf8.RuneError) // a well-formed pair outside CP950
				i += 2
				continue
			}
		}
		sb.WriteRune(utf8.RuneError)
		i++
	}
	return sb.String()
}
