package limits

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding/traditionalchinese"
)

func TestEncodeBig5(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"ATM 700-1", "ATM 700-1"},
		{"○", "\xA1\xB3"},   // the name mask
		{"？", "\xA1\x48"},   // the replacement itself
		{"－", "\xA1\xD0"},   // full-width hyphen-minus
		{"，", "\xA1\x41"},   // full-width comma
		{"€", "\xA3\xE1"},   // CP950's euro sign
		{"包", "\xA5\x5D"},   // standard code, not HKSCS FABD (x/text's encoder)
		{"婷", "\xB4\x40"},   // not FBB8
		{"港", "\xB4\xE4"},   // not FDBB
		{"碁", "\xF9\xD6"},   // ETEN extension in CP950
		{"═", "\xA2\xA4"},   // duplicate F9F9: the standard code
		{"十", "\xA4\x51"},   // duplicate A2CC
		{"兀", "\xA4\x61"},   // duplicate C94A
		{"▓", "\xF9\xFE"},   // CP950's F9FE (WHATWG has U+FFED there)
		{"𠀋", QuestionMark}, // outside the BMP
		{"😀", QuestionMark}, // emoji
		{"堃", QuestionMark}, // HKSCS FB69, not CP950
		{"犇", QuestionMark}, // HKSCS 9456
		{"①", QuestionMark}, // ETEN C6A1, EUDC in CP950
		{"ア", QuestionMark}, // ETEN C77C
		{"é", QuestionMark},
		{"\u2212", QuestionMark}, // minus sign
		{"\xff", QuestionMark},   // invalid UTF-8: one ？ per byte
		{"\xe5\x8f", QuestionMark + QuestionMark},
		{"王小明", "\xA4\xFD\xA4\x70\xA9\xFA"},
		{"a\tb\n", "a\tb\n"}, // ASCII as it is
	} {
		got := EncodeBig5(c.in)
		if !bytes.Equal(got, []byte(c.want)) {
			t.Errorf("EncodeBig5(%q) = % X, want % X", c.in, got, c.want)
		}
		if len(got) != Width(c.in) {
			t.Errorf("Width(%q) = %d, encoded length %d", c.in, Width(c.in), len(got))
		}
	}
}

// TestTable compares the CP950 table with x/text's decoder (and so with
// glibc's CP950, which agrees with it but for F9FE) over every CP950 code:
// 13,503 codes decode, and each character encodes back to its code but for
// the ten characters with two codes.
func TestTable(t *testing.T) {
	dec := traditionalchinese.Big5.NewDecoder()
	n, dups := 0, 0
	for lead := 0xA1; lead <= 0xF9; lead++ {
		for trail := 0x40; trail <= 0xFE; trail++ {
			code := []byte{byte(lead), byte(trail)}
			if !inCP950(byte(lead), byte(trail)) {
				if s := DecodeBig5(code); utf8.ValidString(s) && s != "\uFFFD" && trail >= 0x40 && (trail <= 0x7E || trail >= 0xA1) {
					t.Errorf("% X is not CP950 but decodes to %q", code, s)
				}
				continue
			}
			n++
			s := DecodeBig5(code)
			want, _ := dec.Bytes(code)
			if lead == 0xF9 && trail == 0xFE {
				want = []byte("▓")
			}
			if s != string(want) || s == "\uFFFD" {
				t.Errorf("DecodeBig5(% X) = %q, x/text %q", code, s, want)
				continue
			}
			back := EncodeBig5(s)
			if len(back) != 2 || DecodeBig5(back) != s {
				t.Errorf("% X → %q → % X", code, s, back)
			}
			if !bytes.Equal(back, code) {
				dups++
			}
		}
	}
	if n != 13503 || dups != 10 {
		t.Errorf("%d CP950 codes, %d encoded to another code of the same character; want 13503 and 10", n, dups)
	}
}

func TestDecodeBig5(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"abc\n", "abc\n"},
		{"\xA4\xFD\xA1\xB3\xA9\xFA", "王○明"},
		{"\xFB\x69", "\uFFFD"},      // HKSCS 堃: not CP950
		{"\xC6\xA1", "\uFFFD"},      // EUDC
		{"\xA4", "\uFFFD"},          // cut at the end
		{"\xA4\nx", "\uFFFD\nx"},    // cut before LF
		{"\x80\xA4\xFD", "\uFFFD王"}, // stray byte
	} {
		if got := DecodeBig5([]byte(c.in)); got != c.want {
			t.Errorf("DecodeBig5(% X) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestWidthFit(t *testing.T) {
	for _, c := range []struct {
		in    string
		cols  int
		width int
		fit   string
	}{
		{"", 5, 0, ""},
		{"ABC", 2, 3, "AB"},
		{"王小明", 6, 6, "王小明"},
		{"王小明", 5, 6, "王小"},
		{"王小明", 4, 6, "王小"},
		{"王小明", 1, 6, ""},
		{"ab王c", 3, 5, "ab"}, // 王 would straddle the limit: left out whole
		{"ab王c", 4, 5, "ab王"},
		{"𠀋x", 2, 3, "𠀋"},
		{"\xffx", 2, 3, "\xff"},
		{"abc", 0, 3, ""},
		{"abc", -1, 3, ""},
	} {
		if got := Width(c.in); got != c.width {
			t.Errorf("Width(%q) = %d, want %d", c.in, got, c.width)
		}
		if got := Fit(c.in, c.cols); got != c.fit {
			t.Errorf("Fit(%q, %d) = %q, want %q", c.in, c.cols, got, c.fit)
		}
	}
}

func TestTruncateBig5(t *testing.T) {
	b := EncodeBig5("ab王小明")
	for n, want := range map[int]string{0: "", 1: "a", 2: "ab", 3: "ab", 4: "ab王", 5: "ab王", 8: "ab王小明", 20: "ab王小明"} {
		if got := DecodeBig5(TruncateBig5(b, n)); got != want {
			t.Errorf("TruncateBig5(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestEncodeRandom: for any string, the encoding is as long as its width,
// well-formed CP950, and Fit never exceeds the columns.
func TestEncodeRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 2000 {
		s := randText(r, 30)
		b := EncodeBig5(s)
		if len(b) != Width(s) {
			t.Fatalf("%q: %d bytes, width %d", s, len(b), Width(s))
		}
		clean := bytes.Clone(b)
		for j := 0; j < len(clean); j++ {
			switch c := clean[j]; {
			case c >= 0x80:
				j++ // a trail byte is never a control byte
			case c < 0x20 || c == 0x7F:
				clean[j] = ' '
			}
		}
		if err := Check(Profile{Columns: 1000, Lines: 1}, clean); err != nil {
			t.Fatalf("case %d %q: %v", i, s, err)
		}
		cols := r.IntN(40)
		if f := Fit(s, cols); Width(f) > cols || len(f) > len(s) || s[:len(f)] != f {
			t.Fatalf("Fit(%q, %d) = %q", s, cols, f)
		}
	}
}

func TestCheck(t *testing.T) {
	p := Profile{Columns: 6, Lines: 2}
	big5 := func(s string) string { return string(EncodeBig5(s)) }
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"", true},
		{big5("王小明"), true},
		{big5("王小明\nabcdef"), true},
		{big5("王小明a"), false},     // 7 columns
		{"a\nb\nc", false},        // 3 lines
		{"a\n\n", false},          // 3 lines, the last empty
		{"\xA4\nab", false},       // cut character
		{"ab\xA4", false},         // cut at the end
		{"\xFB\x69", false},       // not CP950
		{"a\tb", false},           // control byte
		{big5("王") + "\r", false}, // control byte
		{"\xA4\x40\xA4\x40", true},
		{"\xA4\x5C", true}, // a trail byte that is ASCII '\\'
	} {
		if err := Check(p, []byte(c.in)); (err == nil) != c.ok {
			t.Errorf("Check(% X) = %v, want ok %v", c.in, err, c.ok)
		}
	}
	if err := Check(Profile{Columns: 2000, Lines: 2}, bytes.Repeat([]byte("a"), MaxText+1)); err == nil {
		t.Error("Check accepted more than MaxText bytes")
	}
}

func ExampleEncodeBig5() {
	fmt.Printf("% X\n", EncodeBig5("王○明 堃"))
	fmt.Println(Width("王○明 堃"), DecodeBig5(EncodeBig5("王○明 堃")))
	// Output:
	// A4 FD A1 B3 A9 FA 20 A1 48
	// 9 王○明 ？
}
