package card

import "errors"

// The general BER-TLV codec (ParseTLV, EncodeTLV, FindTLV): the tests'
// oracle for ParseICC and BuildICC, which read and write the DE55 of the
// contract with nextTLV and AppendTLV. Nothing but the tests uses it.

// maxTLVDepth bounds the recursion into constructed templates.
const maxTLVDepth = 10

// ErrTooDeep is ParseTLV's error for templates nested deeper than
// maxTLVDepth.
var ErrTooDeep = errors.New("templates nested too deep")

// ParseTLV parses a sequence of BER-TLV objects. Tags of several bytes
// (first byte with the low five bits set, then more bytes while bit 8 is
// set, up to four bytes in all), short lengths and the long forms 81 and 82
// are understood; the indefinite form and longer forms are refused.
// Constructed objects are parsed recursively into Children (their Value
// keeps the raw contents). '00' bytes between objects are skipped, as EMV
// Book 3 Annex B allows. Duplicate tags are not an error here (ParseICC
// refuses them). Values alias b.
func ParseTLV(b []byte) ([]TLV, error) {
	return parseTLV(b, 0, 0, true)
}

// parseTLV parses the objects of b, which starts at offset base of the
// outermost input; with recurse it parses templates into Children.
func parseTLV(b []byte, base, depth int, recurse bool) ([]TLV, error) {
	if depth > maxTLVDepth {
		return nil, &TLVError{Offset: base, Err: ErrTooDeep}
	}
	out := make([]TLV, 0, 8)
	i := 0
	for i < len(b) {
		t, _, next, err := nextTLV(b, i, base)
		if err != nil {
			return nil, err
		}
		if next < 0 {
			break
		}
		if recurse && t.Tag.Constructed() {
			t.Children, err = parseTLV(t.Value, base+next-len(t.Value), depth+1, true)
			if err != nil {
				return nil, err
			}
		}
		out = append(out, t)
		i = next
	}
	return out, nil
}

// EncodeTLV encodes objects in order; an object with Children has them
// encoded as its value (recursively), otherwise Value is used. Panics as
// AppendTLV does.
func EncodeTLV(tlvs []TLV) []byte {
	return appendTLVs(nil, tlvs)
}

func appendTLVs(dst []byte, tlvs []TLV) []byte {
	for _, t := range tlvs {
		v := t.Value
		if len(t.Children) > 0 {
			v = appendTLVs(nil, t.Children)
		}
		dst = AppendTLV(dst, t.Tag, v)
	}
	return dst
}

// FindTLV returns the first object with the tag among tlvs (not looking
// inside templates).
func FindTLV(tlvs []TLV, tag Tag) (TLV, bool) {
	for _, t := range tlvs {
		if t.Tag == tag {
			return t, true
		}
	}
	return TLV{}, false
}
