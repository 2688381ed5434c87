package card

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

const exampleDE55 = "9F26081A2B3C4D5E6F70819F2701809F3602002A9F3704DEADBEEF5F340101"

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func TestParseTLVExample(t *testing.T) {
	tlvs, err := ParseTLV(unhex(t, exampleDE55))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		tag   Tag
		value string
	}{
		{0x9F26, "1A2B3C4D5E6F7081"},
		{0x9F27, "80"},
		{0x9F36, "002A"},
		{0x9F37, "DEADBEEF"},
		{0x5F34, "01"},
	}
	if len(tlvs) != len(want) {
		t.Fatalf("got %d objects, want %d", len(tlvs), len(want))
	}
	for i, w := range want {
		if tlvs[i].Tag != w.tag || !bytes.Equal(tlvs[i].Value, unhex(t, w.value)) {
			t.Errorf("object %d: got %s %X, want %s %s", i, tlvs[i].Tag, tlvs[i].Value, w.tag, w.value)
		}
		if tlvs[i].Children != nil {
			t.Errorf("object %d: primitive with children", i)
		}
	}
}

func TestParseTLVForms(t *testing.T) {
	long81 := bytes.Repeat([]byte{0xAB}, 0x80)
	long82 := bytes.Repeat([]byte{0xCD}, 0x100)
	in := []byte{0x5A, 0x81, 0x80}
	in = append(in, long81...)
	in = append(in, 0xDF, 0x81, 0x01, 0x82, 0x01, 0x00) // three-byte tag, 82 form
	in = append(in, long82...)
	in = append(in, 0x00, 0x00)                         // padding between objects
	in = append(in, 0x9F, 0x36, 0x81, 0x02, 0x00, 0x2A) // non-minimal 81 form is still BER
	tlvs, err := ParseTLV(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(tlvs) != 3 {
		t.Fatalf("got %d objects, want 3", len(tlvs))
	}
	if tlvs[0].Tag != 0x5A || !bytes.Equal(tlvs[0].Value, long81) {
		t.Errorf("81 form: got %s len %d", tlvs[0].Tag, len(tlvs[0].Value))
	}
	if tlvs[1].Tag != 0xDF8101 || !bytes.Equal(tlvs[1].Value, long82) {
		t.Errorf("82 form / 3-byte tag: got %s len %d", tlvs[1].Tag, len(tlvs[1].Value))
	}
	if tlvs[2].Tag != TagATC || !bytes.Equal(tlvs[2].Value, []byte{0x00, 0x2A}) {
		t.Errorf("non-minimal length: got %s %X", tlvs[2].Tag, tlvs[2].Value)
	}
}

func TestParseTLVConstructed(t *testing.T) {
	// 70 (template) { 9F36 002A, 77 { 9F27 80 } }, then 9F37.
	in := unhex(t, "700B 9F3602002A 7704 9F270180 9F3704DEADBEEF")
	tlvs, err := ParseTLV(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(tlvs) != 2 || tlvs[0].Tag != 0x70 || !tlvs[0].Tag.Constructed() {
		t.Fatalf("got %+v", tlvs)
	}
	ch := tlvs[0].Children
	if len(ch) != 2 || ch[0].Tag != TagATC || ch[1].Tag != 0x77 {
		t.Fatalf("children: %+v", ch)
	}
	if len(ch[1].Children) != 1 || ch[1].Children[0].Tag != TagCID || ch[1].Children[0].Value[0] != 0x80 {
		t.Fatalf("grandchildren: %+v", ch[1].Children)
	}
	if !bytes.Equal(tlvs[0].Value, in[2:13]) {
		t.Errorf("template keeps its raw value: got %X", tlvs[0].Value)
	}
	if got := EncodeTLV(tlvs); !bytes.Equal(got, in) {
		t.Errorf("re-encoded %X, want %X", got, in)
	}
}

func TestParseTLVErrors(t *testing.T) {
	var nested []byte
	for range maxTLVDepth + 2 {
		nested = append([]byte{0x70, byte(len(nested))}, nested...)
	}
	tests := []struct {
		name   string
		in     []byte
		err    error
		tag    Tag
		offset int
	}{
		{"tag truncated", unhex(t, "9F"), ErrTagTruncated, 0x9F, 0},
		{"tag truncated mid", unhex(t, "5A0112 DF81"), ErrTagTruncated, 0xDF81, 3},
		{"tag too long", unhex(t, "1F81818101 00"), ErrTagTooLong, 0x1F818181, 0},
		{"length missing", unhex(t, "9F26"), ErrLengthTruncated, 0x9F26, 0},
		{"length 81 truncated", unhex(t, "9F2681"), ErrLengthTruncated, 0x9F26, 0},
		{"length 82 truncated", unhex(t, "9F268201"), ErrLengthTruncated, 0x9F26, 0},
		{"indefinite length", unhex(t, "9F2680"), ErrLengthForm, 0x9F26, 0},
		{"length 83", unhex(t, "9F268300000108"), ErrLengthForm, 0x9F26, 0},
		{"value truncated", unhex(t, "9F2608DEADBE"), ErrValueTruncated, 0x9F26, 0},
		{"value truncated 81", unhex(t, "9F270180 9F268190DEADBEEF"), ErrValueTruncated, 0x9F26, 4},
		{"value truncated 82", unhex(t, "9F26820100DEADBEEF"), ErrValueTruncated, 0x9F26, 0},
		{"truncated inside template", unhex(t, "9F270180 7005 9F360300AB"), ErrValueTruncated, 0x9F36, 6},
		{"too deep", nested, ErrTooDeep, 0, 2 * (maxTLVDepth + 1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tlvs, err := ParseTLV(tc.in)
			if err == nil {
				t.Fatalf("no error, got %+v", tlvs)
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			var te *TLVError
			if !errors.As(err, &te) {
				t.Fatalf("error %T is not a *TLVError", err)
			}
			if te.Tag != tc.tag || te.Offset != tc.offset {
				t.Errorf("tag %s offset %d, want %s offset %d (%v)", te.Tag, te.Offset, tc.tag, tc.offset, err)
			}
			msg := strings.ToUpper(err.Error())
			if strings.Contains(msg, "DEADBE") || strings.Contains(msg, "AB)") {
				t.Errorf("error shows the value: %v", err)
			}
			if te.Tag != 0 && !strings.Contains(msg, te.Tag.String()) {
				t.Errorf("error does not name the tag: %v", err)
			}
		})
	}
}

func TestTag(t *testing.T) {
	tests := []struct {
		tag         Tag
		str         string
		valid       bool
		constructed bool
	}{
		{0x5A, "5A", true, false},
		{0x70, "70", true, true},
		{0x9F26, "9F26", true, false},
		{0x5F34, "5F34", true, false},
		{0xBF0C, "BF0C", true, true},
		{0xDF8101, "DF8101", true, false},
		{0x00, "00", false, false},
		{0x1F, "1F", false, false},     // announces more bytes
		{0x9F81, "9F81", false, false}, // last byte has bit 8 set
		{0x5A01, "5A01", false, false}, // first byte stands alone
		{0x9F8101, "9F8101", true, false},
		{0x9F0181, "9F0181", false, false}, // a middle byte without bit 8
	}
	for _, tc := range tests {
		if got := tc.tag.String(); got != tc.str {
			t.Errorf("%#x String = %q, want %q", uint32(tc.tag), got, tc.str)
		}
		if got := tc.tag.Valid(); got != tc.valid {
			t.Errorf("%s Valid = %v, want %v", tc.str, got, tc.valid)
		}
		if got := tc.tag.Constructed(); got != tc.constructed {
			t.Errorf("%s Constructed = %v, want %v", tc.str, got, tc.constructed)
		}
	}
}

func TestAppendTLVLengths(t *testing.T) {
	tests := []struct {
		n    int
		head string
	}{
		{0, "5A00"},
		{0x7F, "5A7F"},
		{0x80, "5A8180"},
		{0xFF, "5A81FF"},
		{0x100, "5A820100"},
		{0xFFFF, "5A82FFFF"},
	}
	for _, tc := range tests {
		v := bytes.Repeat([]byte{0x11}, tc.n)
		got := AppendTLV([]byte{0xEE}, 0x5A, v)
		head := unhex(t, tc.head)
		if got[0] != 0xEE || !bytes.HasPrefix(got[1:], head) || len(got) != 1+len(head)+tc.n {
			t.Errorf("n=%d: got head %X, len %d", tc.n, got[:min(len(got), 5)], len(got))
		}
		back, err := ParseTLV(got[1:])
		if err != nil || len(back) != 1 || len(back[0].Value) != tc.n {
			t.Errorf("n=%d: does not parse back: %v", tc.n, err)
		}
	}
}

func TestAppendTLVPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"invalid tag": func() { AppendTLV(nil, 0x1F, nil) },
		"zero tag":    func() { AppendTLV(nil, 0, nil) },
		"too long":    func() { AppendTLV(nil, 0x5A, make([]byte, 0x10000)) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		})
	}
}

func TestEncodeTLVChildrenOverValue(t *testing.T) {
	got := EncodeTLV([]TLV{
		{Tag: 0x70, Value: []byte{0xFF}, Children: []TLV{{Tag: TagCID, Value: []byte{0x80}}}},
		{Tag: 0x9F37, Value: []byte{1, 2, 3, 4}},
	})
	if want := unhex(t, "7004 9F270180 9F370401020304"); !bytes.Equal(got, want) {
		t.Errorf("got %X, want %X", got, want)
	}
}

func TestFindTLV(t *testing.T) {
	tlvs, err := ParseTLV(unhex(t, exampleDE55))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := FindTLV(tlvs, TagUnpredictable); !ok || !bytes.Equal(v.Value, []byte{0xDE, 0xAD, 0xBE, 0xEF}) {
		t.Errorf("9F37: %v %X", ok, v.Value)
	}
	if _, ok := FindTLV(tlvs, 0x5A); ok {
		t.Error("found 5A, which is absent")
	}
}
