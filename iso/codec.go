package iso

import (
	"errors"
	"strconv"
)

const hexUpper = "0123456789ABCDEF"

// errNilMessage is Encode's answer to a nil message.
var errNilMessage = errors.New("iso: nil message")

// text returns the value of a text field (classes n, an, ans).
func (m *Message) text(n int) string {
	switch n {
	case 2:
		return m.PAN
	case 3:
		return m.ProcessingCode
	case 7:
		return m.TransmissionTime
	case 11:
		return m.STAN
	case 12:
		return m.LocalTime
	case 13:
		return m.LocalDate
	case 14:
		return m.Expiry
	case 22:
		return m.EntryMode
	case 23:
		return m.CardSequence
	case 32:
		return m.Institution
	case 37:
		return m.RRN
	case 38:
		return m.AuthID
	case 39:
		return m.ResponseCode
	case 41:
		return m.TerminalID
	case 42:
		return m.CardAcceptor
	case 54:
		return m.AdditionalAmounts
	case 70:
		return m.NetworkCode
	}
	return ""
}

func (m *Message) setText(n int, s string) {
	switch n {
	case 2:
		m.PAN = s
	case 3:
		m.ProcessingCode = s
	case 7:
		m.TransmissionTime = s
	case 11:
		m.STAN = s
	case 12:
		m.LocalTime = s
	case 13:
		m.LocalDate = s
	case 14:
		m.Expiry = s
	case 22:
		m.EntryMode = s
	case 23:
		m.CardSequence = s
	case 32:
		m.Institution = s
	case 37:
		m.RRN = s
	case 38:
		m.AuthID = s
	case 39:
		m.ResponseCode = s
	case 41:
		m.TerminalID = s
	case 42:
		m.CardAcceptor = s
	case 54:
		m.AdditionalAmounts = s
	case 70:
		m.NetworkCode = s
	}
}

// Field returns field de of m by its number, from the interface's one
// field table: the text of a numeric or text field (text), or the bytes of
// a binary or Big5 field (DE55, DE61-64: b). ok is false for a number the
// interface does not carry (the MTI is Message.MTI).
func (m *Message) Field(de int) (text string, b []byte, ok bool) {
	f, known := contractFormat(de)
	switch {
	case !known:
		return "", nil, false
	case f.class == classHex || f.class == classBig5:
		return "", m.bytesField(de), true
	}
	return m.text(de), nil, true
}

// bytesField returns the value of a byte field (DE55, DE61-64).
func (m *Message) bytesField(n int) []byte {
	switch n {
	case 55:
		return m.ICC
	case 61:
		return m.Screen
	case 62:
		return m.Statement
	case 63:
		return m.Receipt
	case 64:
		return m.MAC
	}
	return nil
}

func (m *Message) setBytes(n int, b []byte) {
	switch n {
	case 55:
		m.ICC = b
	case 61:
		m.Screen = b
	case 62:
		m.Statement = b
	case 63:
		m.Receipt = b
	case 64:
		m.MAC = b
	}
}

// Has reports whether field de is present: its value is not empty. Field 0
// is the MTI. A field the interface does not carry is never present.
func (m *Message) Has(de int) bool {
	if de == 0 {
		return m.MTI != ""
	}
	f, ok := contractFormat(de)
	if !ok {
		return false
	}
	if f.class == classHex || f.class == classBig5 {
		return len(m.bytesField(de)) > 0
	}
	return m.text(de) != ""
}

// Clear removes field de from m (a field the interface does not carry, or
// the MTI, is left alone): for an answer that must not echo a malformed
// field.
func (m *Message) Clear(de int) {
	f, ok := contractFormat(de)
	if !ok {
		return
	}
	if f.class == classHex || f.class == classBig5 {
		m.setBytes(de, nil)
		return
	}
	m.setText(de, "")
}

// Recovered reports whether a message returned by Decode, even with an
// error, holds its MTI and its DE11: enough to be answered. A frame that is
// not recovered gets no answer (decision 1 of the contract).
func Recovered(m *Message) bool {
	return m != nil && m.MTI != "" && m.STAN != ""
}

// wireLen is the number of characters field n's content takes on the wire.
func (m *Message) wireLen(n int, f format) int {
	switch f.class {
	case classHex:
		return 2 * len(m.bytesField(n))
	case classBig5:
		return len(m.bytesField(n))
	}
	return len(m.text(n))
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
	if m == nil {
		return dst, errNilMessage
	}
	if len(m.MTI) != 4 || !isDigits(m.MTI) {
		return dst, &FieldError{Field: 0, Reason: "not 4 digits"}
	}
	var primary, secondary uint64
	size := 4 + 16
	for _, n := range contractFields() {
		f, _ := contractFormat(n)
		l := m.wireLen(n, f)
		if l == 0 {
			continue
		}
		if err := m.check(n, f, l); err != nil {
			return dst, err
		}
		if n <= 64 {
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
	for _, n := range contractFields() {
		f, _ := contractFormat(n)
		l := m.wireLen(n, f)
		if l == 0 {
			continue
		}
		switch f.kind {
		case llvar:
			out = append(out, byte('0'+l/10), byte('0'+l%10))
		case lllvar:
			out = append(out, byte('0'+l/100), byte('0'+l/10%10), byte('0'+l%10))
		}
		switch f.class {
		case classHex:
			for _, c := range m.bytesField(n) {
				out = append(out, hexUpper[c>>4], hexUpper[c&0x0F])
			}
		case classBig5:
			out = append(out, m.bytesField(n)...)
		default:
			out = append(out, m.text(n)...)
		}
	}
	return out, nil
}

// check validates the content of field n for Encode; l is its wire length.
func (m *Message) check(n int, f format, l int) error {
	if f.kind == fixed && l != f.max {
		if f.class == classHex {
			return &FieldError{Field: n, Reason: "must be " + strconv.Itoa(f.max/2) + " bytes"}
		}
		return &FieldError{Field: n, Reason: "must be " + strconv.Itoa(f.max) + " characters"}
	}
	if l > f.max {
		return &FieldError{Field: n, Reason: "longer than " + strconv.Itoa(f.max)}
	}
	switch f.class {
	case classN:
		if !isDigits(m.text(n)) {
			return &FieldError{Field: n, Reason: "not all digits"}
		}
	case classAN:
		if !isAN(m.text(n)) {
			return &FieldError{Field: n, Reason: "not letters, digits and spaces"}
		}
	case classANS:
		if !isANS(m.text(n)) {
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
	for n := 2; n <= 128; n++ {
		if !bitSet(primary, secondary, n) {
			continue
		}
		f, known := contractFormat(n)
		if !known {
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
		if ferr := decodeField(m, s, n, f, known, start, end); ferr != nil {
			errs = append(errs, ferr)
		}
	}
	if off != len(b) {
		errs = append(errs, &StructureError{Field: last, Offset: off, Err: ErrTrailingBytes})
	}
	return m, joinErrors(errs)
}

// decodeField checks the content b[start:end] (s is b as a string) of field
// n and stores it in m. A problem is returned, and the field left empty.
func decodeField(m *Message, s string, n int, f format, known bool, start, end int) error {
	if !known {
		return &FieldError{Field: n, Reason: "not a field of partner interface v1"}
	}
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
		m.setBytes(n, out)
		return nil
	case classBig5:
		m.setBytes(n, []byte(v))
		return nil
	}
	m.setText(n, v)
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
