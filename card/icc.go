package card

import "fmt"

// MaxICCLen is the longest DE55 the contract allows (b..255).
const MaxICCLen = 255

// ICC is what the gateway reads of DE55.
type ICC struct {
	Cryptogram    [8]byte // 9F26
	CID           byte    // 9F27
	ATC           uint16  // 9F36
	Unpredictable [4]byte // 9F37
	// PANSequence is 5F34 when HasPANSequence: 0-99, from its one BCD
	// byte (EMV format n2: 0x01 is 1, 0x10 is 10).
	PANSequence    int
	HasPANSequence bool
}

// ParseICC reads DE55. It must carry 9F26 (8 bytes), 9F27 (1), 9F36 (2) and
// 9F37 (4) at its top level; their values are not checked (the cryptogram
// is not verified: the gateway holds no card keys). 5F34 (1 byte) is
// optional; when present it must be BCD (EMV format n2: 0x10 is 10, and a
// byte such as 0x0A is refused, ErrSequenceNotBCD), DE23 (cardSequence,
// three ASCII digits, "" when absent) must be present
// (ErrSequenceWithoutDE23) and must agree with it: DE23 "010" goes with
// 5F34 0x10 only. A DE23 without 5F34 is accepted as it is. A tag present
// twice at the top level is an error. Other tags, and the contents of
// constructed templates, are allowed and not looked into. Every error is a
// *TLVError (tag, offset, reason; never a value).
func ParseICC(data []byte, cardSequence string) (ICC, error) {
	var icc ICC
	if len(data) > MaxICCLen {
		return icc, &TLVError{Offset: -1, Err: ErrICCTooLong, Detail: fmt.Sprintf("%d bytes", len(data))}
	}
	seq := -1
	if cardSequence != "" {
		if len(cardSequence) != 3 || !allDigits(cardSequence) {
			return icc, &TLVError{Offset: -1, Err: ErrCardSequence}
		}
		seq = int(cardSequence[0]-'0')*100 + int(cardSequence[1]-'0')*10 + int(cardSequence[2]-'0')
	}
	var tlvBuf [8]TLV
	var offBuf [8]int
	tlvs, offsets, err := parseTopLevel(tlvBuf[:0], offBuf[:0], data)
	if err != nil {
		return icc, err
	}
	for i := range tlvs {
		for j := range i {
			if tlvs[j].Tag == tlvs[i].Tag {
				return icc, &TLVError{Tag: tlvs[i].Tag, Offset: offsets[i], Err: ErrDuplicateTag}
			}
		}
	}
	// The tags read, with the length each must have.
	iccSpec := [...]struct {
		tag       Tag
		length    int
		mandatory bool
	}{
		{TagCryptogram, 8, true},
		{TagCID, 1, true},
		{TagATC, 2, true},
		{TagUnpredictable, 4, true},
		{TagPANSequence, 1, false},
	}
	var found [len(iccSpec)]int
	for k, spec := range iccSpec {
		found[k] = -1
		for i := range tlvs {
			if tlvs[i].Tag == spec.tag {
				found[k] = i
				break
			}
		}
		if found[k] < 0 {
			if spec.mandatory {
				return icc, &TLVError{Tag: spec.tag, Offset: -1, Err: ErrMissingTag}
			}
			continue
		}
		if n := len(tlvs[found[k]].Value); n != spec.length {
			return icc, &TLVError{Tag: spec.tag, Offset: offsets[found[k]], Err: ErrTagLength,
				Detail: fmt.Sprintf("%d bytes, want %d", n, spec.length)}
		}
	}
	copy(icc.Cryptogram[:], tlvs[found[0]].Value)
	icc.CID = tlvs[found[1]].Value[0]
	v := tlvs[found[2]].Value
	icc.ATC = uint16(v[0])<<8 | uint16(v[1])
	copy(icc.Unpredictable[:], tlvs[found[3]].Value)
	if i := found[4]; i >= 0 {
		n, ok := decodeSequence(tlvs[i].Value[0])
		switch {
		case !ok:
			return ICC{}, &TLVError{Tag: TagPANSequence, Offset: offsets[i], Err: ErrSequenceNotBCD}
		case seq < 0:
			return ICC{}, &TLVError{Tag: TagPANSequence, Offset: offsets[i], Err: ErrSequenceWithoutDE23}
		case seq != n:
			return ICC{}, &TLVError{Tag: TagPANSequence, Offset: offsets[i], Err: ErrSequenceMismatch}
		}
		icc.PANSequence, icc.HasPANSequence = n, true
	}
	return icc, nil
}

// parseTopLevel parses the top-level objects of DE55 without looking into
// templates, with the offset of each.
// The objects and offsets are appended to tlvs and offsets (which the
// caller may keep on its stack).
func parseTopLevel(tlvs []TLV, offsets []int, data []byte) ([]TLV, []int, error) {
	for i := 0; i < len(data); {
		t, start, next, err := nextTLV(data, i, 0)
		if err != nil {
			return nil, nil, err
		}
		if next < 0 {
			break
		}
		tlvs = append(tlvs, t)
		offsets = append(offsets, start)
		i = next
	}
	return tlvs, offsets, nil
}

// decodeSequence reads the 5F34 byte as two BCD digits; ok is false when
// a nibble is not a digit (0x0A, 0xFF).
func decodeSequence(b byte) (n int, ok bool) {
	hi, lo := b>>4, b&0x0F
	if hi > 9 || lo > 9 {
		return 0, false
	}
	return int(hi)*10 + int(lo), true
}

// encodeSequence is the inverse of decodeSequence for 0-99 (BCD); other
// values travel as their low byte (which ParseICC may refuse).
func encodeSequence(n int) byte {
	if n >= 0 && n <= 99 {
		return byte(n/10)<<4 | byte(n%10)
	}
	return byte(n)
}

// BuildICC encodes the DE55 of an ICC, tags in the order 9F26 9F27 9F36
// 9F37 and, when HasPANSequence, 5F34 (BCD for 0-99). For the simulator.
func BuildICC(icc ICC) []byte {
	b := make([]byte, 0, 35)
	b = AppendTLV(b, TagCryptogram, icc.Cryptogram[:])
	b = AppendTLV(b, TagCID, []byte{icc.CID})
	b = AppendTLV(b, TagATC, []byte{byte(icc.ATC >> 8), byte(icc.ATC)})
	b = AppendTLV(b, TagUnpredictable, icc.Unpredictable[:])
	if icc.HasPANSequence {
		b = AppendTLV(b, TagPANSequence, []byte{encodeSequence(icc.PANSequence)})
	}
	return b
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
