package limits

import "fmt"

// Check reports the first way a DE61 or DE63 text breaks the contract's
// rules for profile p: more than MaxText bytes, more lines than p.Lines, a
// line wider than p.Columns, a double-byte character cut (a lead byte at
// the end of a line or before a byte that cannot follow it), a byte pair
// outside CP950, or a control byte other than the LF between lines. The
// simulator and the tests use it on what the gateway sends.
func Check(p Profile, text []byte) error {
	if len(text) > MaxText {
		return fmt.Errorf("%d bytes, more than %d", len(text), MaxText)
	}
	if len(text) == 0 {
		return nil
	}
	line, width := 1, 0
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == '\n':
			line++
			width = 0
			i++
			continue
		case c < 0x20 || c == 0x7F:
			return fmt.Errorf("line %d: control byte %#02x at offset %d", line, c, i)
		case c < 0x80:
			width++
			i++
		case i+1 == len(text) || text[i+1] == '\n':
			return fmt.Errorf("line %d: double-byte character cut at offset %d", line, i)
		case !inCP950(c, text[i+1]):
			return fmt.Errorf("line %d: bytes % X at offset %d are not CP950", line, text[i:i+2], i)
		default:
			width += 2
			i += 2
		}
		if line > p.Lines {
			return fmt.Errorf("%d lines or more, profile %v allows %d", line, p, p.Lines)
		}
		if width > p.Columns {
			return fmt.Errorf("line %d: wider than the %d columns of profile %v", line, p.Columns, p)
		}
	}
	if line > p.Lines {
		return fmt.Errorf("%d lines, profile %v allows %d", line, p, p.Lines)
	}
	return nil
}
