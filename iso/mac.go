package iso

import (
	"crypto/subtle"
	"errors"
)

var (
	// ErrMACKey: a MAC key is not 16 bytes (a double-length DES key).
	ErrMACKey = errors.New("iso: MAC key must be 16 bytes")
	// ErrNoMAC: the message has no DE64 (nor DE128).
	ErrNoMAC = errors.New("iso: message has no DE64")
	// ErrMACMismatch: DE64 is not the MAC of the message.
	ErrMACMismatch = errors.New("iso: MAC does not verify")
)

// MAC is the ANSI X9.19 retail MAC of data (ISO 9797-1 MAC algorithm 3 with
// DES): data zero-padded to a multiple of 8 bytes (nothing added when it
// already is one; empty data is one block of zeros), DES-CBC with the key's
// left half and a zero IV, then the last block decrypted with the right half
// and encrypted again with the left. key is the 16-byte double-length key.
func MAC(key, data []byte) ([8]byte, error) {
	if len(key) != 16 {
		return [8]byte{}, ErrMACKey
	}
	return x919(macKeyOf(key), data), nil
}

// macField is the field that carries m's MAC: DE128 when m has a field
// after DE70 (the 0302 and 0312 of docs/interface.md section 11: a MAC in
// DE64 would not cover them), DE64 otherwise, fields after it or not (DE70:
// an 0800 is never signed, and its MAC would stay in DE64).
func macField(m *Message) int {
	for i := range contract {
		if f := &contract[i]; f.n > 70 && f.n < 128 && f.wireLen(m) > 0 {
			return 128
		}
	}
	return 64
}

// macOffset returns where the MAC's 16 hex digits start in the packed
// message b: DE64's, or DE128's when the secondary bitmap has bit 128 (then
// the last 16 characters). Only the bitmaps and the fields before DE64 are
// looked at.
func macOffset(b []byte) (int, error) {
	if len(b) < 4 {
		return 0, &StructureError{Field: 0, Offset: 0, Err: ErrTruncated}
	}
	primary, ok := parseBitmap(b, 4)
	if !ok {
		return 0, bitmapError(b, 4)
	}
	off := 20
	if primary>>63 != 0 {
		secondary, ok := parseBitmap(b, off)
		if !ok {
			return 0, bitmapError(b, off)
		}
		off += 16
		if secondary&1 != 0 {
			if len(b)-off < 16 {
				return 0, &StructureError{Field: 128, Offset: off, Err: ErrTruncated}
			}
			return len(b) - 16, nil
		}
	}
	if primary&1 == 0 {
		return 0, ErrNoMAC
	}
	for n := 2; n < 64; n++ {
		if !bitSet(primary, 0, n) {
			continue
		}
		var f format
		if def := lookup(n); def != nil {
			f = def.format
		} else {
			kind, max, ok := format1987(n)
			if !ok {
				return 0, &StructureError{Field: n, Offset: off, Err: ErrUnsupportedField}
			}
			f = format{kind: kind, max: max}
		}
		_, end, err := span(b, off, n, f)
		if err != nil {
			return 0, err
		}
		off = end
	}
	if len(b)-off < 16 {
		return 0, &StructureError{Field: 64, Offset: off, Err: ErrTruncated}
	}
	return off, nil
}

// SignMAC writes into the packed message b (as Encode returns it, without
// the length header) the MAC of every byte before DE64, as 16 upper-case hex
// digits over DE64's placeholder. b must carry DE64: Encode it with MAC set
// to 8 bytes of anything (make([]byte, 8)). key is the 16-byte MAC key.
func SignMAC(b, key []byte) error {
	off, err := macOffset(b)
	if err != nil {
		return err
	}
	mac, err := MAC(key, b[:off])
	if err != nil {
		return err
	}
	for i, c := range mac {
		b[off+2*i] = hexUpper[c>>4]
		b[off+2*i+1] = hexUpper[c&0x0F]
	}
	return nil
}

// VerifyMAC checks DE64 of the packed message b (without the length header)
// against the MAC of every byte before it, in constant time. It returns nil,
// ErrNoMAC, ErrMACMismatch (a wrong MAC, or DE64 not hex), ErrMACKey, or the
// *StructureError that kept it from finding DE64.
func VerifyMAC(b, key []byte) error {
	off, err := macOffset(b)
	if err != nil {
		return err
	}
	want, err := MAC(key, b[:off])
	if err != nil {
		return err
	}
	var got [8]byte
	valid := 1
	for i := range got {
		hi, ok1 := unhex(b[off+2*i])
		lo, ok2 := unhex(b[off+2*i+1])
		if !ok1 || !ok2 {
			valid = 0
		}
		got[i] = hi<<4 | lo
	}
	if subtle.ConstantTimeCompare(got[:], want[:])&valid != 1 {
		return ErrMACMismatch
	}
	return nil
}

// EncodeMAC packs m signed with key: m with an 8-byte DE64 placeholder (DE128
// when m has fields above 64: macField) is encoded, then SignMAC writes the
// MAC. m itself is not changed.
func EncodeMAC(m *Message, key []byte) ([]byte, error) {
	b, err := AppendEncodeMAC(nil, m, key)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// macPlaceholder is the DE64 EncodeMAC packs before signing (read only).
var macPlaceholder [8]byte

// AppendEncodeMAC is EncodeMAC appending to dst (which may be reused
// between messages to avoid allocation). On error dst is returned
// unchanged.
func AppendEncodeMAC(dst []byte, m *Message, key []byte) ([]byte, error) {
	if m == nil {
		return dst, errNilMessage
	}
	if len(key) != 16 {
		return dst, ErrMACKey
	}
	out, err := appendEncode(dst, m, macPlaceholder[:])
	if err != nil {
		return dst, err
	}
	if err := SignMAC(out[len(dst):], key); err != nil {
		return dst, err
	}
	return out, nil
}
