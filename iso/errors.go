package iso

import (
	"errors"
	"strconv"
	"strings"
)

// Structural problems: the message cannot be walked past them. A
// *StructureError wraps one of these (errors.Is works).
var (
	// ErrTruncated: the message ends inside the MTI, a bitmap, a length
	// prefix or a field.
	ErrTruncated = errors.New("message truncated")
	// ErrBadBitmap: a bitmap is not 16 hex digits.
	ErrBadBitmap = errors.New("bitmap is not 16 hex digits")
	// ErrBadLengthPrefix: an LLVAR/LLLVAR prefix is not all digits.
	ErrBadLengthPrefix = errors.New("length prefix is not digits")
	// ErrUnsupportedField: the bitmap names a field whose layout is unknown
	// (bit 65, a tertiary bitmap), so nothing after it can be found.
	ErrUnsupportedField = errors.New("field layout unknown")
	// ErrTrailingBytes: bytes follow the last field the bitmap names.
	ErrTrailingBytes = errors.New("bytes after the last field")
)

// FieldError is a field whose content is malformed while the message
// structure around it is intact: letters in a numeric field, a wrong fixed
// length (Encode), odd or invalid hex digits, a variable field over its
// maximum length or empty, or a field partner interface v1 does not carry.
// Field 0 is the MTI. The text never holds the field's value.
type FieldError struct {
	Field  int
	Reason string
}

func (e *FieldError) Error() string {
	if e.Field == 0 {
		return "iso: MTI: " + e.Reason
	}
	return "iso: DE" + strconv.Itoa(e.Field) + ": " + e.Reason
}

// StructureError is a message that cannot be walked further: Decode stops
// there. Field is the field being read (0 the MTI, 1 the bitmaps; for
// ErrTrailingBytes the last field read), Offset the byte offset in the
// message where the problem was found. Err is one of the Err* variables
// above. The text never holds message content.
type StructureError struct {
	Field  int
	Offset int
	Err    error
}

func (e *StructureError) Error() string {
	var where string
	switch e.Field {
	case 0:
		where = "MTI"
	case 1:
		where = "bitmap"
	default:
		where = "DE" + strconv.Itoa(e.Field)
	}
	return "iso: " + where + " at byte " + strconv.Itoa(e.Offset) + ": " + e.Err.Error()
}

func (e *StructureError) Unwrap() error { return e.Err }

// decodeErrors holds more than one problem found by Decode, in the order
// found. errors.As finds the first *FieldError among them.
type decodeErrors []error

func (e decodeErrors) Error() string {
	var b strings.Builder
	for i, err := range e {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

func (e decodeErrors) Unwrap() []error { return e }

func joinErrors(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return decodeErrors(errs)
}
