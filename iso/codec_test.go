package iso_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/bli/atmgw/iso"
)

// wf is one field as it travels: its number and its bytes, length prefix
// included.
type wf struct {
	n    int
	wire string
}

// build packs a message by hand from wire fields (in any order), computing
// the bitmaps: a reference independent of Encode.
func build(mti string, fs ...wf) []byte {
	sort.Slice(fs, func(i, j int) bool { return fs[i].n < fs[j].n })
	var p, s uint64
	for _, f := range fs {
		if f.n <= 64 {
			p |= 1 << (64 - f.n)
		} else {
			s |= 1 << (128 - f.n)
		}
	}
	if s != 0 {
		p |= 1 << 63
	}
	b := []byte(mti + fmt.Sprintf("%016X", p))
	if s != 0 {
		b = append(b, fmt.Sprintf("%016X", s)...)
	}
	for _, f := range fs {
		b = append(b, f.wire...)
	}
	return b
}

const exampleICC = "9F26081A2B3C4D5E6F70819F2701809F3602002A9F3704DEADBEEF5F340101"

// pensionFields is the 0200 of the pension example as wire fields.
func pensionFields() []wf {
	return []wf{
		{2, "16" + examplePAN}, {3, "380000"}, {7, "1124153010"}, {11, "000003"},
		{12, "233010"}, {13, "1124"}, {14, "3012"}, {22, "051"}, {23, "001"},
		{32, "03700"}, {37, "261124000003"}, {41, "ATM70001"}, {42, "BLIQUERY0000001"},
		{55, "062" + exampleICC},
	}
}

// with returns fs with field n's wire bytes replaced (or added); wire ""
// removes the field.
func with(fs []wf, n int, wire string) []wf {
	out := make([]wf, 0, len(fs)+1)
	for _, f := range fs {
		if f.n != n {
			out = append(out, f)
		}
	}
	if wire != "" {
		out = append(out, wf{n, wire})
	}
	return out
}

func TestBuildMatchesExample(t *testing.T) {
	if got, want := build("0200", pensionFields()...), unframed(t, "0200-pension"); !bytes.Equal(got, want) {
		t.Fatalf("test builder\n%s\nwant\n%s", got, want)
	}
}

func TestSecondaryBitmapOnlyAboveDE64(t *testing.T) {
	// 0800 with DE70: bit 1 set, a secondary bitmap with bit 70.
	b, err := iso.Encode(&iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: "000001", Institution: "700", NetworkCode: "001"})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b[4:36]); got != "82200001000000000400000000000000" {
		t.Errorf("0800 bitmaps %s", got)
	}
	// 0200 with DE64: one bitmap, bit 1 clear, bit 64 set.
	m, _ := iso.Decode(unframed(t, "0200-pension"))
	m.MAC = []byte{1, 2, 3, 4, 5, 6, 7, 8}
	b, err = iso.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b[4:20]); got != "623C060108C00201" {
		t.Errorf("0200 bitmap %s", got)
	}
	if !strings.HasSuffix(string(b), "0102030405060708") {
		t.Errorf("DE64 not last: %s", b)
	}
	// 0800 without DE70: no secondary bitmap at all.
	b, _ = iso.Encode(&iso.Message{MTI: "0800", STAN: "000001"})
	if string(b) != "0800"+"0020000000000000"+"000001" {
		t.Errorf("%s", b)
	}
}

func TestDecodeMalformed(t *testing.T) {
	pension := pensionFields()
	good := build("0200", pension...)
	type want struct {
		field     int   // FieldError.Field expected (-1: none, -2: any)
		structure error // sentinel inside a *StructureError (nil: none)
		recovered bool  // MTI and STAN recovered
	}
	cases := []struct {
		name string
		raw  []byte
		want want
		// check, if set, looks at the partial message
		check func(t *testing.T, m *iso.Message)
	}{
		{"empty", []byte{}, want{-1, iso.ErrTruncated, false}, nil},
		{"MTI only, cut", []byte("02"), want{-1, iso.ErrTruncated, false}, nil},
		{"truncated in bitmap", good[:12], want{-1, iso.ErrTruncated, false}, func(t *testing.T, m *iso.Message) {
			if m.MTI != "0200" {
				t.Errorf("MTI %q", m.MTI)
			}
		}},
		{"truncated before DE11", good[:48], want{-1, iso.ErrTruncated, false}, func(t *testing.T, m *iso.Message) {
			if m.PAN != examplePAN || m.ProcessingCode != "380000" || m.TransmissionTime != "" {
				t.Errorf("fields before the cut lost, or a cut field kept: %v", m)
			}
		}},
		{"truncated in DE55", good[:len(good)-5], want{-1, iso.ErrTruncated, true}, func(t *testing.T, m *iso.Message) {
			if m.TerminalID != "ATM70001" || m.Institution != "700" || m.TransmissionTime != "1124153010" || m.ICC != nil {
				t.Errorf("partial message %v", m)
			}
		}},
		{"garbage bitmap", append([]byte("0200ZZ3C060108C00200"), good[20:]...), want{-1, iso.ErrBadBitmap, false}, func(t *testing.T, m *iso.Message) {
			if m.MTI != "0200" {
				t.Errorf("MTI %q", m.MTI)
			}
		}},
		{"garbage secondary bitmap", []byte("080082200000010000000400000G00000000112415300000000103700001"), want{-1, iso.ErrBadBitmap, false}, nil},
		{"letters in MTI", build("02X0", pension...), want{0, nil, false}, func(t *testing.T, m *iso.Message) {
			if m.MTI != "" || m.STAN != "000003" {
				t.Errorf("MTI %q STAN %q", m.MTI, m.STAN)
			}
		}},
		{"letters in DE3", build("0200", with(pension, 3, "38A000")...), want{3, nil, true}, func(t *testing.T, m *iso.Message) {
			if m.ProcessingCode != "" {
				t.Errorf("malformed DE3 kept")
			}
			if m.PAN != examplePAN || m.TerminalID != "ATM70001" || m.Institution != "700" || len(m.ICC) != 31 {
				t.Errorf("fields after DE3 lost: %v", m)
			}
		}},
		{"letters in DE11", build("0200", with(pension, 11, "00000A")...), want{11, nil, false}, nil},
		{"letters in DE2", build("0200", with(pension, 2, "164700123456789O14")...), want{2, nil, true}, func(t *testing.T, m *iso.Message) {
			if m.PAN != "" {
				t.Errorf("malformed PAN kept")
			}
		}},
		{"space in DE7", build("0200", with(pension, 7, "1124 53010")...), want{7, nil, true}, nil},
		{"letters in DE32", build("0200", with(pension, 32, "037A0")...), want{32, nil, true}, nil},
		{"control character in DE41", build("0200", with(pension, 41, "ATM7000\n")...), want{41, nil, true}, nil},
		{"punctuation in DE37", build("0200", with(pension, 37, "2611240000-3")...), want{37, nil, true}, nil},
		{"bad hex in DE55", build("0200", with(pension, 55, "062"+strings.Replace(exampleICC, "DEAD", "DEAG", 1))...), want{55, nil, true}, func(t *testing.T, m *iso.Message) {
			if m.ICC != nil {
				t.Errorf("malformed DE55 kept")
			}
		}},
		{"odd hex in DE55", build("0200", with(pension, 55, "061"+exampleICC[:61])...), want{55, nil, true}, nil},
		{"DE55 over 510", build("0200", with(pension, 55, "512"+strings.Repeat("AB", 256))...), want{55, nil, true}, nil},
		{"DE2 over 19", build("0200", with(pension, 2, "20"+"47001234567890141234")...), want{2, nil, true}, nil},
		{"empty DE32", build("0200", with(pension, 32, "00")...), want{32, nil, true}, nil},
		{"bad length prefix of DE2", build("0200", with(pension, 2, "1A"+examplePAN)...), want{-1, iso.ErrBadLengthPrefix, false}, nil},
		{"bad length prefix of DE55", build("0200", with(pension, 55, "0x2"+exampleICC)...), want{-1, iso.ErrBadLengthPrefix, true}, nil},
		{"DE55 longer than the message", build("0200", with(pension, 55, "099"+exampleICC)...), want{-1, iso.ErrTruncated, true}, nil},
		{"trailing bytes", append(bytes.Clone(good), "XYZ"...), want{-1, iso.ErrTrailingBytes, true}, func(t *testing.T, m *iso.Message) {
			if len(m.ICC) != 31 || m.PAN != examplePAN {
				t.Errorf("fields lost: %v", m)
			}
		}},
		// A fixed field one character short cannot be seen where it is: the
		// fields after it shift, and the message ends inside the last one.
		{"DE3 one digit short", build("0200", with(pension, 3, "38000")...), want{-2, iso.ErrTruncated, true}, nil},
		{"DE7 one digit short", build("0800", wf{7, "112415300"}, wf{11, "000001"}, wf{32, "03700"}, wf{70, "001"}), want{-1, iso.ErrTruncated, true}, nil},
		{"field outside the interface (DE4)", build("0200", with(pension, 4, "000000000000")...), want{4, nil, true}, func(t *testing.T, m *iso.Message) {
			if m.Institution != "700" || len(m.ICC) != 31 {
				t.Errorf("fields after DE4 lost: %v", m)
			}
		}},
		{"field outside the interface (DE35, LLVAR)", build("0200", with(pension, 35, "21"+"4700123456789014=3012")...), want{35, nil, true}, nil},
		{"tertiary bitmap bit", build("0800", wf{11, "000001"}, wf{65, "1"}), want{-1, iso.ErrUnsupportedField, true}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := iso.Decode(c.raw)
			if m == nil {
				t.Fatal("Decode returned a nil message")
			}
			if err == nil {
				t.Fatalf("no error; message %v", m)
			}
			var fe *iso.FieldError
			hasFE := errors.As(err, &fe)
			switch {
			case c.want.field >= 0 && (!hasFE || fe.Field != c.want.field):
				t.Errorf("error %v, want a FieldError for field %d", err, c.want.field)
			case c.want.field == -1 && hasFE:
				t.Errorf("unexpected FieldError %v", err)
			}
			var se *iso.StructureError
			hasSE := errors.As(err, &se)
			switch {
			case c.want.structure != nil && (!hasSE || !errors.Is(err, c.want.structure)):
				t.Errorf("error %v, want a StructureError %v", err, c.want.structure)
			case c.want.structure == nil && c.want.field >= 0 && hasSE:
				t.Errorf("unexpected StructureError %v", err)
			}
			if got := iso.Recovered(m); got != c.want.recovered {
				t.Errorf("Recovered %v, want %v (MTI %q STAN %q): %v", got, c.want.recovered, m.MTI, m.STAN, err)
			}
			assertNoValues(t, err.Error())
			if c.check != nil {
				c.check(t, m)
			}
		})
	}
}

// digitRun finds runs of 5 or more digits: error texts hold field numbers,
// byte offsets and lengths (at most 4 digits), never values.
var digitRun = regexp.MustCompile(`[0-9]{5,}`)

func assertNoValues(t *testing.T, text string) {
	t.Helper()
	if strings.Contains(text, examplePAN) || strings.Contains(text, "470012") || digitRun.MatchString(text) {
		t.Errorf("error text may hold a value: %q", text)
	}
}

func TestDecodeLenient(t *testing.T) {
	pension := pensionFields()
	// Lower-case hex in the bitmap and DE55.
	raw := build("0200", with(pension, 55, "062"+strings.ToLower(exampleICC))...)
	copy(raw[4:20], strings.ToLower(string(raw[4:20])))
	m, err := iso.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.ICC) != 31 || m.ICC[0] != 0x9F {
		t.Errorf("ICC %X", m.ICC)
	}
	// An empty secondary bitmap.
	raw = []byte("0800" + "8220000100000000" + "0000000000000000" + "1124153000" + "000001" + "03700")
	if m, err = iso.Decode(raw); err != nil || m.Institution != "700" {
		t.Fatalf("%v %v", err, m)
	}
	// docs/interface.md section 3 writes these down: lower-case DE64, and
	// an all-zero secondary bitmap on a 0200, are tolerated too.
	raw = build("0200", with(pension, 64, "545396b9976a4d0f")...)
	if m, err = iso.Decode(raw); err != nil || len(m.MAC) != 8 || m.MAC[0] != 0x54 || m.MAC[7] != 0x0F {
		t.Fatalf("lower-case DE64: %v %X", err, m.MAC)
	}
	raw = build("0200", pension...)
	if raw[4] != '6' {
		t.Fatalf("the pension bitmap %s should start with 6 (bits 2 and 3)", raw[4:20])
	}
	raw = []byte(string(raw[:4]) + "E" + string(raw[5:20]) + "0000000000000000" + string(raw[20:]))
	if m, err = iso.Decode(raw); err != nil || m.PAN != examplePAN || m.Has(70) {
		t.Fatalf("0200 with an empty secondary bitmap: %v %v", err, m)
	}
	if b, err := iso.Encode(m); err != nil || string(b[4:20]) != "623C060108C00200" {
		t.Fatalf("re-encoded without the secondary bitmap: %v %s", err, b)
	}
}

func TestDecodeReportsEveryFieldProblem(t *testing.T) {
	raw := build("0200", with(with(pensionFields(), 3, "38A000"), 41, "ATM\x007001")...)
	m, err := iso.Decode(raw)
	if !iso.Recovered(m) {
		t.Fatal("not recovered")
	}
	for _, n := range []string{"DE3", "DE41"} {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("%v does not name %s", err, n)
		}
	}
	var fe *iso.FieldError
	if !errors.As(err, &fe) || fe.Field != 3 {
		t.Errorf("first FieldError %v", fe)
	}
}

func TestDecodeDoesNotAliasInput(t *testing.T) {
	raw := bytes.Clone(unframed(t, "0200-pension"))
	m, err := iso.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	before := m.String() + fmt.Sprintf("%X", m.ICC)
	for i := range raw {
		raw[i] = 'Z'
	}
	if after := m.String() + fmt.Sprintf("%X", m.ICC); after != before {
		t.Fatalf("message changed with its input buffer")
	}
}

func TestEncodeRejects(t *testing.T) {
	base := func() *iso.Message {
		m, _ := iso.Decode(unframed(t, "0200-pension"))
		return m
	}
	cases := []struct {
		name  string
		mod   func(m *iso.Message)
		field int
	}{
		{"MTI short", func(m *iso.Message) { m.MTI = "200" }, 0},
		{"MTI letters", func(m *iso.Message) { m.MTI = "02A0" }, 0},
		{"DE2 letters", func(m *iso.Message) { m.PAN = "47001234567890X4" }, 2},
		{"DE2 over 19", func(m *iso.Message) { m.PAN = strings.Repeat("4", 20) }, 2},
		{"DE3 short", func(m *iso.Message) { m.ProcessingCode = "38000" }, 3},
		{"DE3 long", func(m *iso.Message) { m.ProcessingCode = "3800000" }, 3},
		{"DE11 short", func(m *iso.Message) { m.STAN = "123" }, 11},
		{"DE11 letters", func(m *iso.Message) { m.STAN = "00000A" }, 11},
		{"DE7 short", func(m *iso.Message) { m.TransmissionTime = "112415301" }, 7},
		{"DE32 over 11", func(m *iso.Message) { m.Institution = "123456789012" }, 32},
		{"DE37 punctuation", func(m *iso.Message) { m.RRN = "26112400000." }, 37},
		{"DE39 long", func(m *iso.Message) { m.ResponseCode = "000" }, 39},
		{"DE41 short", func(m *iso.Message) { m.TerminalID = "ATM" }, 41},
		{"DE41 not ASCII", func(m *iso.Message) { m.TerminalID = "ATM7000\xa4" }, 41},
		{"DE54 over 120", func(m *iso.Message) { m.AdditionalAmounts = strings.Repeat("0", 121) }, 54},
		{"DE55 over 255 bytes", func(m *iso.Message) { m.ICC = make([]byte, 256) }, 55},
		{"DE61 over 999 bytes", func(m *iso.Message) { m.Screen = make([]byte, 1000) }, 61},
		{"DE64 not 8 bytes", func(m *iso.Message) { m.MAC = make([]byte, 7) }, 64},
		{"DE70 short", func(m *iso.Message) { m.NetworkCode = "1" }, 70},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := base()
			c.mod(m)
			b, err := iso.Encode(m)
			var fe *iso.FieldError
			if !errors.As(err, &fe) || fe.Field != c.field {
				t.Fatalf("Encode: %v (%d bytes), want a FieldError for field %d", err, len(b), c.field)
			}
			assertNoValues(t, err.Error())
			// AppendEncode leaves dst alone on error.
			dst := []byte("keep")
			if out, err := iso.AppendEncode(dst, m); err == nil || string(out) != "keep" {
				t.Errorf("AppendEncode on error: %q %v", out, err)
			}
		})
	}
	if _, err := iso.Encode(nil); err == nil {
		t.Error("Encode(nil) succeeded")
	}
}

func TestAppendEncode(t *testing.T) {
	m, _ := iso.Decode(unframed(t, "0800-echo"))
	out, err := iso.AppendEncode([]byte{0xAA, 0xBB}, m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out[:2], []byte{0xAA, 0xBB}) || !bytes.Equal(out[2:], unframed(t, "0800-echo")) {
		t.Fatalf("%X", out)
	}
	buf := make([]byte, 0, 512)
	out, _ = iso.AppendEncode(buf, m)
	if &out[0] != &buf[:1][0] {
		t.Error("AppendEncode did not reuse a large enough dst")
	}
}

func TestHasAndRecovered(t *testing.T) {
	m, _ := iso.Decode(unframed(t, "0800-sign-on"))
	for n, want := range map[int]bool{0: true, 2: false, 7: true, 11: true, 32: true, 64: false, 70: true, 4: false, 200: false} {
		if m.Has(n) != want {
			t.Errorf("Has(%d) = %v", n, !want)
		}
	}
	if iso.Recovered(nil) || iso.Recovered(&iso.Message{MTI: "0200"}) || iso.Recovered(&iso.Message{STAN: "000001"}) {
		t.Error("Recovered without MTI and STAN")
	}
	if !iso.Recovered(m) {
		t.Error("sign-on not recovered")
	}
}

// randomMessage makes a message with a random subset of the fields of the
// field table, each a random valid value of its format: 0200/0210/0800/0810
// shapes and beyond.
func randomMessage(r *rand.Rand) *iso.Message {
	digits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + r.IntN(10))
		}
		return string(b)
	}
	chars := func(n int, set string) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = set[r.IntN(len(set))]
		}
		return string(b)
	}
	const an = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 "
	ans := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(0x20 + r.IntN(0x5F))
		}
		return string(b)
	}
	raw := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return b
	}
	maybe := func() bool { return r.IntN(2) == 0 }
	m := &iso.Message{MTI: digits(4)}
	for _, f := range iso.ContractFields() {
		if !maybe() {
			continue
		}
		l := f.Max
		if f.Class == "hex" {
			l /= 2 // bytes
		}
		if !f.Fixed {
			l = 1 + r.IntN(l)
		}
		switch f.Class {
		case "n":
			m.SetField(f.N, digits(l), nil)
		case "an":
			m.SetField(f.N, chars(l, an), nil)
		case "ans":
			m.SetField(f.N, ans(l), nil)
		default:
			m.SetField(f.N, "", raw(l))
		}
	}
	return m
}

func TestRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		m := randomMessage(r)
		b, err := iso.Encode(m)
		if err != nil {
			t.Fatalf("#%d Encode: %v", i, err)
		}
		got, err := iso.Decode(b)
		if err != nil {
			t.Fatalf("#%d Decode: %v", i, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("#%d round trip\n got %#v\nwant %#v", i, got, m)
		}
		// The secondary bitmap is there exactly when a field above 64 is
		// (DE70, or the fields of an 0302: DE91, DE101, DE120, DE121, DE128).
		above := m.NetworkCode != "" || m.FileUpdateCode != "" || m.FileName != "" || m.ConsentData != "" ||
			len(m.ConsentName) > 0 || len(m.MAC2) > 0
		if (b[4] >= '8') != above {
			t.Fatalf("#%d bitmap %s with a field above 64: %v", i, b[4:20], above)
		}
		// moov, driven by Spec(), reads and writes the same bytes.
		if i%10 == 0 {
			checkMoov(t, b, m)
		}
		// A MAC over any message verifies, and fails on any change before it
		// (DE128 when the message has it: the last field, after everything).
		if len(m.MAC) == 8 || len(m.MAC2) == 8 {
			key := []byte("0123456789ABCDEF")
			if err := iso.SignMAC(b, key); err != nil {
				t.Fatal(err)
			}
			if err := iso.VerifyMAC(b, key); err != nil {
				t.Fatalf("#%d: %v", i, err)
			}
			j := r.IntN(len(b) - 16)
			if above && len(m.MAC2) != 8 {
				j = r.IntN(36) // fields follow DE64; change a byte of the header
			}
			b[j] ^= 0x04
			if err := iso.VerifyMAC(b, key); err == nil {
				t.Fatalf("#%d: byte %d changed and the MAC still verifies", i, j)
			}
		}
	}
}

// Fields the interface does not carry are stepped over as jPOS's stock
// ISO87APackager packs them (DE93 six characters, DE96 sixteen bytes as 32
// hex digits), so that a jPOS message carrying them is answered 30 for
// that field, not for bytes left over.
func TestStepOverJPOSFields(t *testing.T) {
	base := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: "000001", Institution: "700", NetworkCode: "001"}
	for _, c := range []struct {
		field int
		value string
	}{
		{93, "ABCDEF"},
		{96, strings.Repeat("0F", 16)},
	} {
		b, err := iso.Encode(base)
		if err != nil {
			t.Fatal(err)
		}
		// Set the field's bit in the secondary bitmap and append its value.
		sec := []byte(string(b[20:36]))
		bit := c.field - 65
		v := hexNibble(sec[bit/4]) | 8>>(bit%4)
		sec[bit/4] = "0123456789ABCDEF"[v]
		raw := append(append(append([]byte{}, b[:20]...), sec...), b[36:]...)
		raw = append(raw, c.value...)
		m, err := iso.Decode(raw)
		var fe *iso.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("DE%d as jPOS packs it: %v, want a FieldError of DE%d", c.field, err, c.field)
		}
		var se *iso.StructureError
		if errors.As(err, &se) {
			t.Errorf("DE%d as jPOS packs it: %v: the field's length is not jPOS's", c.field, err)
		}
		if m.STAN != "000001" || m.NetworkCode != "001" {
			t.Errorf("DE%d: fields not recovered: %+v", c.field, m)
		}
	}
}

func hexNibble(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
