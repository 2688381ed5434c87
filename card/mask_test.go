package card

import (
	"strings"
	"testing"
)

func TestMaskPAN(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"1", "*"},
		{"12", "**"},
		{"1234", "**34"},
		{"1234567890", "********90"},
		{"12345678901", "123456*8901"},
		{"4700123456789014", "470012******9014"},
		{"4700123456789014123", "470012*********4123"},
	}
	for _, tc := range tests {
		if got := MaskPAN(tc.in); got != tc.want {
			t.Errorf("MaskPAN(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// Whatever the length, never more than the first 6 and the last 4.
	const digits = "9876543210987654321"
	for n := 0; n <= len(digits); n++ {
		pan := digits[:n]
		got := MaskPAN(pan)
		if len(got) != n {
			t.Fatalf("n=%d: length %d", n, len(got))
		}
		shown := 0
		for i := range n {
			if got[i] == '*' {
				continue
			}
			shown++
			if got[i] != pan[i] || (i >= 6 && i < n-4) {
				t.Errorf("n=%d: position %d shown (%s)", n, i, got)
			}
		}
		if shown > 10 || (n > 0 && n <= 10 && shown > 2) {
			t.Errorf("n=%d: %d digits shown (%s)", n, shown, got)
		}
	}
}

func TestMaskID(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"A12", "***"},
		{"A123", "A*23"},
		{"A123456789", "A*******89"},
	}
	for _, tc := range tests {
		got := MaskID(tc.in)
		if got != tc.want {
			t.Errorf("MaskID(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if len(tc.in) >= 10 && strings.Contains(got, tc.in[1:8]) {
			t.Errorf("MaskID(%q) shows the middle", tc.in)
		}
	}
}

func TestPANLast4(t *testing.T) {
	for in, want := range map[string]string{"4700123456789014": "9014", "123": "123", "": ""} {
		if got := PANLast4(in); got != want {
			t.Errorf("PANLast4(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestScrub(t *testing.T) {
	for in, want := range map[string]string{
		"panic: card 4700123456789014 at 0x1234":   "panic: card 470012******9014 at 0x1234",
		"id A123456789 and B223456789x":            "id A*******89 and B*******89x",
		"goroutine 17 [running]:\n\tmain.go:42":    "goroutine 17 [running]:\n\tmain.go:42",
		"0xc000123456 +0x1f5":                      "0xc000123456 +0x1f5",
		"XA123456789":                              "XA123456789",
		"stan 000123 rrn 261124000123 pan 1234567": "stan 000123 rrn 261124**0123 pan 1234567",
	} {
		if got := Scrub(in); got != want {
			t.Errorf("Scrub(%q) = %q, want %q", in, got, want)
		}
	}
}
