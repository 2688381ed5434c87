package applet

import (
	"errors"
	"fmt"
)

// tlv is one BER-TLV data object: the tag as its bytes read big-endian
// (0x9F26), the value.
type tlv struct {
	tag   uint32
	value []byte
}

// encodeTLV appends one data object. Tags are written with their significant
// bytes; lengths up to 65535 in the short or 81/82 long form.
func encodeTLV(dst []byte, tag uint32, value []byte) []byte {
	switch {
	case tag > 0xFFFFFF:
		dst = append(dst, byte(tag>>24), byte(tag>>16), byte(tag>>8), byte(tag))
	case tag > 0xFFFF:
		dst = append(dst, byte(tag>>16), byte(tag>>8), byte(tag))
	case tag > 0xFF:
		dst = append(dst, byte(tag>>8), byte(tag))
	default:
		dst = append(dst, byte(tag))
	}
	n := len(value)
	switch {
	case n < 0x80:
		dst = append(dst, byte(n))
	case n <= 0xFF:
		dst = append(dst, 0x81, byte(n))
	default:
		dst = append(dst, 0x82, byte(n>>8), byte(n))
	}
	return append(dst, value...)
}

var errTLV = errors.New("malformed BER-TLV")

// parseTLV splits a sequence of data objects (one level; constructed values
// are left whole). Padding bytes 00 between objects are skipped, as EMV
// allows.
func parseTLV(b []byte) ([]tlv, error) {
	var out []tlv
	for i := 0; i < len(b); {
		if b[i] == 0x00 {
			i++
			continue
		}
		tag := uint32(b[i])
		if b[i]&0x1F == 0x1F {
			for {
				i++
				if i >= len(b) || tag > 0xFFFFFF {
					return nil, fmt.Errorf("%w: tag runs past the end", errTLV)
				}
				tag = tag<<8 | uint32(b[i])
				if b[i]&0x80 == 0 {
					break
				}
			}
		}
		i++
		if i >= len(b) {
			return nil, fmt.Errorf("%w: tag %X has no length", errTLV, tag)
		}
		n := int(b[i])
		i++
		if n&0x80 != 0 {
			k := n & 0x7F
			if k == 0 || k > 2 || i+k > len(b) {
				return nil, fmt.Errorf("%w: tag %X has a bad length", errTLV, tag)
			}
			n = 0
			for j := 0; j < k; j++ {
				n = n<<8 | int(b[i+j])
			}
			i += k
		}
		if n > len(b)-i {
			return nil, fmt.Errorf("%w: tag %X claims %d bytes, %d remain", errTLV, tag, n, len(b)-i)
		}
		out = append(out, tlv{tag: tag, value: b[i : i+n]})
		i += n
	}
	return out, nil
}

// findTLV returns the value of the first object with the tag.
func findTLV(objs []tlv, tag uint32) ([]byte, bool) {
	for _, o := range objs {
		if o.tag == tag {
			return o.value, true
		}
	}
	return nil, false
}
