package card

import (
	"errors"
	"fmt"
	"strconv"
)

// Tag is a BER-TLV tag as it reads in hex: 0x9F26 is the two tag bytes
// 9F 26, 0x5A the single byte 5A. Up to four tag bytes are supported.
type Tag uint32

// The DE55 tags the gateway reads.
const (
	TagCryptogram    Tag = 0x9F26 // application cryptogram, 8 bytes
	TagCID           Tag = 0x9F27 // cryptogram information data, 1 byte
	TagATC           Tag = 0x9F36 // application transaction counter, 2 bytes
	TagUnpredictable Tag = 0x9F37 // unpredictable number, 4 bytes
	TagPANSequence   Tag = 0x5F34 // PAN sequence number, 1 byte (n2, BCD)
)

// String is the tag in upper-case hex ("9F26").
func (t Tag) String() string {
	n := t.size()
	const hexd = "0123456789ABCDEF"
	b := make([]byte, 0, 2*n)
	for i := n - 1; i >= 0; i-- {
		c := byte(t >> (8 * i))
		b = append(b, hexd[c>>4], hexd[c&0x0F])
	}
	return string(b)
}

// Constructed reports whether the tag marks a constructed object (a
// template holding further TLVs): bit 6 of the first tag byte.
func (t Tag) Constructed() bool {
	return byte(t>>(8*(t.size()-1)))&0x20 != 0
}

// size is the number of tag bytes (1 for the tag 00).
func (t Tag) size() int {
	switch {
	case t > 0xFFFFFF:
		return 4
	case t > 0xFFFF:
		return 3
	case t > 0xFF:
		return 2
	}
	return 1
}

// Valid reports whether the tag is well formed BER: a first byte with the
// low five bits all set is followed by more bytes, every byte but the last
// of those has bit 8 set, and a first byte without them stands alone. The
// tag 00 is not valid: ParseTLV skips 00 bytes as padding.
func (t Tag) Valid() bool {
	if t == 0 {
		return false
	}
	n := t.size()
	first := byte(t >> (8 * (n - 1)))
	if first&0x1F != 0x1F {
		return n == 1
	}
	if n == 1 {
		return false
	}
	for i := n - 2; i >= 0; i-- {
		c := byte(t >> (8 * i))
		if (c&0x80 != 0) != (i > 0) {
			return false
		}
	}
	return true
}

// TLV is one BER-TLV data object.
type TLV struct {
	Tag Tag
	// Value is the contents. The parser leaves it aliasing its input: copy
	// it to keep it beyond the input's life.
	Value []byte
	// Children are the objects inside a constructed object, as the tests'
	// general parser (ParseTLV, tlv_oracle_test.go) found them; its
	// EncodeTLV encodes Children instead of Value when not empty.
	Children []TLV
}

// Errors of the TLV parser and of ParseICC. They come wrapped in a
// *TLVError that names the tag and the offset; test with errors.Is.
var (
	ErrTagTruncated     = errors.New("tag truncated")
	ErrTagTooLong       = errors.New("tag longer than 4 bytes")
	ErrLengthTruncated  = errors.New("length truncated")
	ErrLengthForm       = errors.New("unsupported length form (only short, 81 and 82)")
	ErrValueTruncated   = errors.New("value truncated")
	ErrDuplicateTag     = errors.New("tag present more than once")
	ErrMissingTag       = errors.New("mandatory tag missing")
	ErrTagLength        = errors.New("wrong value length")
	ErrSequenceMismatch = errors.New("PAN sequence number disagrees with DE23")
	// ErrSequenceNotBCD: 5F34 is not two BCD digits (EMV format n2).
	ErrSequenceNotBCD = errors.New("PAN sequence number is not BCD")
	// ErrSequenceWithoutDE23: 5F34 is present and DE23 is not; the
	// contract's check that they agree needs both.
	ErrSequenceWithoutDE23 = errors.New("PAN sequence number without DE23")
	ErrCardSequence        = errors.New("DE23 is not 3 digits")
	ErrICCTooLong          = errors.New("ICC data longer than 255 bytes")
)

// TLVError is what the TLV parser and ParseICC return: which tag, where,
// and what is wrong. It never holds the value.
type TLVError struct {
	Tag    Tag    // the tag concerned (as far as it was read); 0 when none
	Offset int    // byte offset of the object in the input; -1 when not tied to one
	Err    error  // one of the Err* sentinels above
	Detail string // lengths and the like; never the value
}

func (e *TLVError) Error() string {
	s := "card: ICC data"
	if e.Tag != 0 {
		s += ": tag " + e.Tag.String()
	}
	if e.Offset >= 0 {
		s += " at offset " + strconv.Itoa(e.Offset)
	}
	s += ": " + e.Err.Error()
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

func (e *TLVError) Unwrap() error { return e.Err }

// nextTLV reads the object at b[i:], '00' bytes before it skipped (b starts
// at offset base of the outermost input): the object (not looked into), the
// offset in b where it starts, and where the next one starts (-1: only '00'
// bytes were left).
func nextTLV(b []byte, i, base int) (t TLV, start, next int, err error) {
	for i < len(b) && b[i] == 0x00 {
		i++
	}
	if i == len(b) {
		return TLV{}, i, -1, nil
	}
	start = i
	tag, n, err := readTag(b[i:])
	if err != nil {
		return TLV{}, start, 0, &TLVError{Tag: tag, Offset: base + start, Err: err}
	}
	i += n
	length, n, err := readLength(b[i:])
	if err != nil {
		return TLV{}, start, 0, &TLVError{Tag: tag, Offset: base + start, Err: err}
	}
	i += n
	if length > len(b)-i {
		return TLV{}, start, 0, &TLVError{Tag: tag, Offset: base + start, Err: ErrValueTruncated,
			Detail: fmt.Sprintf("declares %d bytes, %d left", length, len(b)-i)}
	}
	return TLV{Tag: tag, Value: b[i : i+length : i+length]}, start, i + length, nil
}

// readTag reads one tag at the start of b: the tag, the bytes it took.
func readTag(b []byte) (Tag, int, error) {
	if len(b) == 0 {
		return 0, 0, ErrTagTruncated
	}
	tag := Tag(b[0])
	if b[0]&0x1F != 0x1F {
		return tag, 1, nil
	}
	for i := 1; ; i++ {
		if i >= len(b) {
			return tag, i, ErrTagTruncated
		}
		if i >= 4 {
			return tag, i, ErrTagTooLong
		}
		tag = tag<<8 | Tag(b[i])
		if b[i]&0x80 == 0 {
			return tag, i + 1, nil
		}
	}
}

// readLength reads one length at the start of b: the length, the bytes it took.
func readLength(b []byte) (int, int, error) {
	if len(b) == 0 {
		return 0, 0, ErrLengthTruncated
	}
	switch c := b[0]; {
	case c < 0x80:
		return int(c), 1, nil
	case c == 0x81:
		if len(b) < 2 {
			return 0, 0, ErrLengthTruncated
		}
		return int(b[1]), 2, nil
	case c == 0x82:
		if len(b) < 3 {
			return 0, 0, ErrLengthTruncated
		}
		return int(b[1])<<8 | int(b[2]), 3, nil
	}
	return 0, 0, ErrLengthForm
}

// AppendTLV appends one object (tag, minimal length, value) to dst. It
// panics when the tag is not valid BER (see Tag.Valid) or the value is
// longer than 65535 bytes: both are programming errors of the caller (the
// simulator), not data from outside.
func AppendTLV(dst []byte, tag Tag, value []byte) []byte {
	if !tag.Valid() {
		panic("card: AppendTLV: invalid tag " + tag.String())
	}
	for i := tag.size() - 1; i >= 0; i-- {
		dst = append(dst, byte(tag>>(8*i)))
	}
	switch n := len(value); {
	case n < 0x80:
		dst = append(dst, byte(n))
	case n <= 0xFF:
		dst = append(dst, 0x81, byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x82, byte(n>>8), byte(n))
	default:
		panic("card: AppendTLV: value of tag " + tag.String() + " longer than 65535 bytes")
	}
	return append(dst, value...)
}
