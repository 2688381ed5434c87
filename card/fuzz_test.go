package card

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func FuzzParseTLV(f *testing.F) {
	seed, _ := hex.DecodeString(exampleDE55)
	f.Add(seed)
	for _, s := range []string{
		"", "00", "9F", "9F26", "9F2681", "9F268201", "9F2680", "1F81818101",
		"700B9F3602002A77049F270180", "5A8180", "DF810182000100", "5F340110",
	} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tlvs, err := ParseTLV(data)
		if err != nil {
			var te *TLVError
			if !errors.As(err, &te) || te.Offset < 0 || te.Offset > len(data) {
				t.Fatalf("error %v: not a *TLVError with an offset in the input", err)
			}
		} else {
			enc := EncodeTLV(tlvs)
			if len(enc) > len(data) {
				t.Fatalf("re-encoding grew: %d > %d", len(enc), len(data))
			}
			back, err := ParseTLV(enc)
			if err != nil {
				t.Fatalf("re-encoded input does not parse: %v", err)
			}
			if !sameTLVs(tlvs, back) {
				t.Fatalf("re-encoding changed the objects:\n%+v\n%+v", tlvs, back)
			}
		}

		icc, err := ParseICC(data, "")
		if err != nil {
			var te *TLVError
			if !errors.As(err, &te) {
				t.Fatalf("ParseICC error %T is not a *TLVError", err)
			}
			return
		}
		again, err := ParseICC(BuildICC(icc), "")
		if err != nil || again != icc {
			t.Fatalf("BuildICC does not round-trip: %+v -> %+v, %v", icc, again, err)
		}
	})
}

// sameTLVs compares tags, primitive values and structure (a template's raw
// value may differ by padding or non-minimal lengths).
func sameTLVs(a, b []TLV) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Tag != b[i].Tag || len(a[i].Children) != len(b[i].Children) {
			return false
		}
		if len(a[i].Children) > 0 {
			if !sameTLVs(a[i].Children, b[i].Children) {
				return false
			}
		} else if !a[i].Tag.Constructed() && !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}
