package iso

import (
	"errors"
	"strconv"
)

const hexUpper = "0123456789ABCDEF"

// errNilMessage is Encode's answer to a nil message.
var errNilMessage = errors.New("iso: nil message")

// Field returns field de of m by its number, from the interface's one
// field table: the text of a numeric or text field (text), or the bytes of
// a binary or Big5 field (DE55, DE61-64: b). ok is false for a number the
// interface does not carry (the MTI is Message.MTI).
func (m *Message) Field(de int) (text string, b []byte, ok bool) {
	f := lookup(de)
	switch {
	case f == nil:
		return "", nil, false
	case f.bin != nil:
		return "", *f.bin(m), true
	}
	return *f.str(m), nil, true
}

// FieldLayout is how field de travels, from the interface's one field
// table: the number of ASCII digits of its length prefix (0 for a fixed
// field, 2 for LLVAR, 3 for LLLVAR), and whether Field's bytes go as two
// upper-case hex digits each (DE55, DE64) rather than as they are (Big5
// DE61-63). ok is false for a number the interface does not carry.
func FieldLayout(de int) (prefixDigits int, hex bool, ok bool) {
	f := lookup(de)
	if f == nil {
		return 0, false, false
	}
	return f.kind.prefixLen(), f.class == classHex, true
}

// Has reports whether field de is present: its value is not empty. Field 0
// is the MTI. A field the interface does not carry is never present.
func (m *Message) Has(de int) bool {
	if de == 0 {
		return m.MTI != ""
	}
	f := lookup(de)
	return f != nil && f.wireLen(m) > 0
}

// Clear removes field de from m (a field the interface does not carry, or
// the MTI, is left alone): for an answer that must not echo a malformed
// field.
func (m *Message) Clear(de int) {
	switch f := lookup(de); {
	case f == nil:
	case f.bin != nil:
		*f.bin(m) = nil
	default:
		*f.str(m) = ""
	}
}

// Recovered reports whether a message returned by Decode, even with an
// error, holds its MTI and its DE11: enough to be answered. A frame that is
// not recovered gets no answer (decision 1 of the contract).
func Recovered(m *Message) bool {
	return m != nil && m.MTI != "" && m.STAN != ""
}

// Encode packs m as partner interface v1 (without the frame's length
// header). Every non-empty field is sent; the secondary bitmap is sent only
// when a field above 64 is present. Field contents are checked (digits in
// numeric fields, fixed lengths, maximum lengths, DE64 of 8 bytes): a
// problem is a *FieldError naming the field, never its value. Encode does
// not check which fields an MTI requires.
func Encode(m *Message) ([]byte, error) {
	return AppendEncode(nil, m)
}

// AppendEncode is Encode appending to dst (which may be reused between
// messages to avoid allocation). On error dst is returned unchanged.
func AppendEncode(dst []byte, m *Message) ([]byte, error) {
	return appendEncode(dst, m, nil)
}

// appendEncode is AppendEncode with mac, when not nil, packed as DE64 in
// place of m.MAC (EncodeMAC's placeholder, without copying m).
func appendEncode(dst []byte, m *Message, mac []byte) ([]byte, error) {
	if m == nil {
		return dst, errNilMessage
	}
	if len(m.MTI) != 4 || !isDigits(m.MTI) {
		return dst, &FieldError{Field: 0, Reason: "not 4 digits"}
	}
	var primary, secondary uint64
	size := 4 + 16
	mf := 0 // the field the MAC placeholder goes into
	if mac != nil {
		mf = macField(m)
	}
	for i := range contract {
		f := &contract[i]
		l := f.wireLen(m)
		if f.n == mf {
			l = 2 * len(mac)
		}
		if l == 0 {
			continue
		}
		if err := f.check(m, l); err != nil {
			return dst, err
		}
		if n := f.n; n <= 64 {
			primary |= 1 << (64 - n)
		} else {
			secondary |= 1 << (128 - n)
		}
		size += f.kind.prefixLen() + l
	}
	if secondary != 0 {
		primary |= 1 << 63
		size += 16
	}

	out := dst
	if cap(out)-len(out) < size {
		out = make([]byte, len(dst), len(dst)+size)
		copy(out, dst)
	}
	out = append(out, m.MTI...)
	out = appendBitmap(out, primary)
	if secondary != 0 {
		out = appendBitmap(out, secondary)
	}
	for i := range contract {
		f := &contract[i]
		if f.str != nil {
			v := *f.str(m)
			if v == "" {
				continue
			}
			out = appendPrefix(out, f.kind, len(v))
			out = append(out, v...)
			continue
		}
		v := *f.bin(m)
		if f.n == mf {
			v = mac
		}
		if len(v) == 0 {
			continue
		}
		if f.class == classHex {
			out = appendPrefix(out, f.kind, 2*len(v))
			for _, c := range v {
				out = append(out, hexUpper[c>>4], hexUpper[c&0x0F])
			}
			continue
		}
		out = appendPrefix(out, f.kind, len(v))
		out = append(out, v...)
	}
	return out, nil
}

// appendPrefix appends the length prefix of a field of kind k whose content
// is l characters.
func appendPrefix(out []byte, k lenKind, l int) []byte {
	switch k {
	case llvar:
		out = append(out, byte('0'+l/10), byte('0'+l%10))
	case lllvar:
		out = append(out, byte('0'+l/100), byte('0'+l/10%10), byte('0'+l%10))
	}
	return out
}

// check validates the content of field f of m for Encode; l is its wire
// length.
func (f *field) check(m *Message, l int) error {
	n := f.n
	if f.kind == fixed && l != f.max {
		if f.class == classHex {
			return &FieldError{Field: n, Reason: "must be " + strconv.Itoa(f.max/2) + " bytes"}
		}
		return &FieldError{Field: n, Reason: "must be " + strconv.Itoa(f.max) + " characters"}
	}
	if l > f.max {
		return &FieldError{Field: n, Reason: "longer than " + strconv.Itoa(f.max)}
	}
	if f.str == nil {
		return nil
	}
	switch v := *f.str(m); f.class {
	case classN:
		if !isDigits(v) {
			return &FieldError{Field: n, Reason: "not all digits"}
		}
	case classAN:
		if !isAN(v) {
			return &FieldError{Field: n, Reason: "not letters, digits and spaces"}
		}
	case classANS:
		if !isANS(v) {
			return &FieldError{Field: n, Reason: "not printable ASCII"}
		}
	}
	return nil
}

func appendBitmap(out []byte, bm uint64) []byte {
	for shift := 60; shift >= 0; shift -= 4 {
		out = append(out, hexUpper[bm>>uint(shift)&0x0F])
	}
	return out
}

// Decode unpacks one message (without the frame's length header).
//
// It always returns a non-nil *Message, with every field it could decode,
// even when it also returns an error: the gateway answers from it. A field
// whose content is malformed is left empty, reported as a *FieldError, and
// decoding goes on with the next field (the structure is intact). A problem
// that makes the rest unreadable (garbage bitmap, bad length prefix,
// truncated body, bytes after the last field) is a *StructureError and stops
// decoding there. Several problems come back as one error from which
// errors.As extracts the first of each type. Recovered tells whether the MTI
// and DE11 were recovered. Error texts never hold field values.
//
// Decoding is lenient where there is no ambiguity: hex digits (bitmaps,
// DE55, DE64) may be lower case; a secondary bitmap without fields above 64
// is accepted. A field partner interface v1 does not carry but ISO
// 8583:1987 defines is stepped over and reported as a *FieldError.
//
// The strings of the returned message share one copy of b; its byte fields
// are copies. b may be reused once Decode returns.
func Decode(b []byte) (*Message, error) {
	m := &Message{}
	var errs []error
	if len(b) < 4 {
		return m, &StructureError{Field: 0, Offset: 0, Err: ErrTruncated}
	}
	s := string(b)
	if isDigits(s[:4]) {
		m.MTI = s[:4]
	} else {
		errs = append(errs, &FieldError{Field: 0, Reason: "not 4 digits"})
	}
	primary, ok := parseBitmap(b, 4)
	if !ok {
		return m, joinErrors(append(errs, bitmapError(b, 4)))
	}
	off := 20
	var secondary uint64
	if primary>>63 != 0 {
		if secondary, ok = parseBitmap(b, off); !ok {
			return m, joinErrors(append(errs, bitmapError(b, off)))
		}
		off += 16
	}
	last := 1
	next := 0 // the first line of the table not yet passed
	for n := 2; n <= 128; n++ {
		if !bitSet(primary, secondary, n) {
			continue
		}
		var def *field
		for next < len(contract) && contract[next].n < n {
			next++
		}
		if next < len(contract) && contract[next].n == n {
			def = &contract[next]
		}
		var f format
		if def != nil {
			f = def.format
		} else {
			kind, max, ok := format1987(n)
			if !ok {
				return m, joinErrors(append(errs, &StructureError{Field: n, Offset: off, Err: ErrUnsupportedField}))
			}
			f = format{kind: kind, max: max, class: classANS}
		}
		start, end, serr := span(b, off, n, f)
		if serr != nil {
			return m, joinErrors(append(errs, serr))
		}
		off, last = end, n
		if def == nil {
			errs = append(errs, &FieldError{Field: n, Reason: "not a field of partner interface v1"})
			continue
		}
		if ferr := decodeField(m, s, def, start, end); ferr != nil {
			errs = append(errs, ferr)
		}
	}
	if off != len(b) {
		errs = append(errs, &StructureError{Field: last, Offset: off, Err: ErrTrailingBytes})
	}
	return m, joinErrors(errs)
}

// decodeField checks the content s[start:end] (s is the message) of field f
// and stores it in m. A problem is returned, and the field left empty.
func decodeField(m *Message, s string, f *field, start, end int) error {
	n := f.n
	l := end - start
	if l > f.max {
		return &FieldError{Field: n, Reason: "longer than " + strconv.Itoa(f.max)}
	}
	if l == 0 {
		return &FieldError{Field: n, Reason: "empty"}
	}
	v := s[start:end]
	switch f.class {
	case classN:
		if !isDigits(v) {
			return &FieldError{Field: n, Reason: "not all digits"}
		}
	case classAN:
		if !isAN(v) {
			return &FieldError{Field: n, Reason: "not letters, digits and spaces"}
		}
	case classANS:
		if !isANS(v) {
			return &FieldError{Field: n, Reason: "not printable ASCII"}
		}
	case classHex:
		if l%2 != 0 {
			return &FieldError{Field: n, Reason: "odd number of hex digits"}
		}
		out := make([]byte, l/2)
		for i := range out {
			hi, ok1 := unhex(v[2*i])
			lo, ok2 := unhex(v[2*i+1])
			if !ok1 || !ok2 {
				return &FieldError{Field: n, Reason: "not hex digits"}
			}
			out[i] = hi<<4 | lo
		}
		*f.bin(m) = out
		return nil
	case classBig5:
		*f.bin(m) = []byte(v)
		return nil
	}
	*f.str(m) = v
	return nil
}

// span finds field n, of format f, at b[off:]: its content is b[start:end]
// and the next field starts at end. Only structural problems are returned.
func span(b []byte, off, n int, f format) (start, end int, err error) {
	l := f.max
	if p := f.kind.prefixLen(); p > 0 {
		if len(b)-off < p {
			return 0, 0, &StructureError{Field: n, Offset: off, Err: ErrTruncated}
		}
		l = 0
		for _, c := range b[off : off+p] {
			if c < '0' || c > '9' {
				return 0, 0, &StructureError{Field: n, Offset: off, Err: ErrBadLengthPrefix}
			}
			l = l*10 + int(c-'0')
		}
		off += p
	}
	if len(b)-off < l {
		return 0, 0, &StructureError{Field: n, Offset: off, Err: ErrTruncated}
	}
	return off, off + l, nil
}

func bitSet(primary, secondary uint64, n int) bool {
	if n <= 64 {
		return primary&(1<<(64-n)) != 0
	}
	return secondary&(1<<(128-n)) != 0
}

// parseBitmap reads 16 hex digits at b[off:].
func parseBitmap(b []byte, off int) (uint64, bool) {
	if len(b)-off < 16 {
		return 0, false
	}
	var bm uint64
	for _, c := range b[off : off+16] {
		d, ok := unhex(c)
		if !ok {
			return 0, false
		}
		bm = bm<<4 | uint64(d)
	}
	return bm, true
}

func bitmapError(b []byte, off int) error {
	if len(b)-off < 16 {
		return &StructureError{Field: 1, Offset: off, Err: ErrTruncated}
	}
	return &StructureError{Field: 1, Offset: off, Err: ErrBadBitmap}
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isAN(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == ' ') {
			return false
		}
	}
	return true
}

func isANS(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7E {
			return false
		}
	}
	return true
}
