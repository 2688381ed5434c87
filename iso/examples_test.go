package iso_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/moov-io/iso8583"

	"github.com/bli/atmgw/iso"
)

const (
	examplePAN = "4700123456789014"
	macKey812  = "0123456789ABCDEFFEDCBA9876543210"
)

// exampleNames are the reference messages of the partner interface
// (docs/interface.md), kept in testdata.
var exampleNames = []string{"0800-sign-on", "0800-echo", "0200-pension", "0200-insurance", "0200-pension-mac"}

// readExample returns the framed bytes of testdata/<name>.hex.
func readExample(t testing.TB, name string) []byte {
	t.Helper()
	h, err := os.ReadFile(filepath.Join("testdata", name+".hex"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(h)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b
}

// unframed returns the message of an example without its length header.
func unframed(t testing.TB, name string) []byte {
	t.Helper()
	frame, err := iso.ReadFrame(bytes.NewReader(readExample(t, name)), nil)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return frame
}

// readmeFields parses testdata/README.md: for each example, the field values
// it lists ("MTI" and "DE<n>" lines inside the code block after its
// heading).
func readmeFields(t *testing.T) map[string]map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string]string{}
	line := regexp.MustCompile(`^(MTI|DE\d+)\s+(\S+)$`)
	var cur string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		s := sc.Text()
		if name, ok := strings.CutPrefix(s, "## "); ok {
			cur = strings.TrimSuffix(strings.TrimSpace(name), ".hex")
			out[cur] = map[string]string{}
			continue
		}
		if m := line.FindStringSubmatch(s); m != nil && cur != "" {
			out[cur][m[1]] = m[2]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// wireValue is field de of m as the README writes it (hex for DE55/64).
func wireValue(m *iso.Message, de string) string {
	if de == "MTI" {
		return m.MTI
	}
	n, _ := strconv.Atoi(strings.TrimPrefix(de, "DE"))
	text, b, ok := m.Field(n)
	_, hexed, _ := iso.FieldLayout(n)
	switch {
	case !ok:
		return "?"
	case hexed:
		return strings.ToUpper(hex.EncodeToString(b))
	case b != nil:
		return string(b)
	}
	return text
}

func TestExamplesDecodeToReadme(t *testing.T) {
	want := readmeFields(t)
	for _, name := range exampleNames {
		t.Run(name, func(t *testing.T) {
			fields, ok := want[name]
			if !ok || len(fields) < 5 {
				t.Fatalf("README lists no fields for %s", name)
			}
			m, err := iso.Decode(unframed(t, name))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			for de, v := range fields {
				if name == "0200-pension-mac" && de == "DE64" {
					continue // the README shows a placeholder: see TestExampleMAC
				}
				if got := wireValue(m, de); got != v {
					t.Errorf("%s = %q, README says %q", de, got, v)
				}
			}
			// Nothing beyond what the README lists.
			for n := 2; n <= 128; n++ {
				_, listed := fields["DE"+strconv.Itoa(n)]
				if m.Has(n) != listed {
					t.Errorf("DE%d present %v, README lists it %v", n, m.Has(n), listed)
				}
			}
		})
	}
}

func TestExamplesReencodeByteForByte(t *testing.T) {
	for _, name := range exampleNames {
		t.Run(name, func(t *testing.T) {
			framed := readExample(t, name)
			m, err := iso.Decode(unframed(t, name))
			if err != nil {
				t.Fatal(err)
			}
			b, err := iso.Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := iso.WriteFrame(&out, b); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), framed) {
				t.Fatalf("re-encoded\n%X\nwant\n%X", out.Bytes(), framed)
			}
		})
	}
}

func TestExampleMAC(t *testing.T) {
	key, _ := hex.DecodeString(macKey812)
	raw := unframed(t, "0200-pension-mac")
	if err := iso.VerifyMAC(raw, key); err != nil {
		t.Fatalf("the example's DE64 does not verify: %v", err)
	}
	m, _ := iso.Decode(raw)
	if got := strings.ToUpper(hex.EncodeToString(m.MAC)); got == "0000000000000000" {
		t.Fatalf("DE64 is the README's placeholder")
	}
	// The README's DE64 of zeros is not the MAC: a message carrying it fails.
	zero := bytes.Clone(raw)
	copy(zero[len(zero)-16:], "0000000000000000")
	if err := iso.VerifyMAC(zero, key); err != iso.ErrMACMismatch {
		t.Fatalf("zero DE64 verifies: %v", err)
	}
	// Signing the message with a placeholder gives the example back.
	m.MAC = make([]byte, 8)
	b, err := iso.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := iso.SignMAC(b, key); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, raw) {
		t.Fatalf("signed\n%s\nwant\n%s", b, raw)
	}
	m.MAC = nil
	if b, err := iso.EncodeMAC(m, key); err != nil || !bytes.Equal(b, raw) {
		t.Fatalf("EncodeMAC: %v\n%s", err, b)
	}
	if m.MAC != nil {
		t.Errorf("EncodeMAC changed its message")
	}
	// Any changed byte before DE64 breaks it; so does another key.
	for _, i := range []int{0, 4, 30, len(raw) - 17} {
		bad := bytes.Clone(raw)
		bad[i] ^= 0x01
		if err := iso.VerifyMAC(bad, key); err == nil {
			t.Errorf("byte %d changed: still verifies", i)
		}
	}
	other := bytes.Clone(key)
	other[15] ^= 0x02
	if err := iso.VerifyMAC(raw, other); err != iso.ErrMACMismatch {
		t.Errorf("other key: %v", err)
	}
	// The examples without DE64 have no MAC to verify.
	if err := iso.VerifyMAC(unframed(t, "0200-pension"), key); err != iso.ErrNoMAC {
		t.Errorf("no DE64: %v", err)
	}
}

// TestMoovAgrees checks that moov-io/iso8583, driven by Spec(), reads each
// example as Decode does and packs it to the same bytes.
func TestMoovAgrees(t *testing.T) {
	for _, name := range exampleNames {
		t.Run(name, func(t *testing.T) {
			raw := unframed(t, name)
			ours, err := iso.Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			checkMoov(t, raw, ours)
		})
	}
}

// checkMoov unpacks raw with moov and Spec(), compares every field with m,
// and checks that moov packs the same bytes.
func checkMoov(t *testing.T, raw []byte, m *iso.Message) {
	t.Helper()
	mm := iso8583.NewMessage(iso.Spec())
	if err := mm.Unpack(raw); err != nil {
		t.Fatalf("moov unpack: %v", err)
	}
	mti, _ := mm.GetMTI()
	if mti != m.MTI {
		t.Errorf("moov MTI %q, ours %q", mti, m.MTI)
	}
	got := map[int]bool{}
	for n, f := range mm.GetFields() {
		if n < 2 {
			continue
		}
		got[n] = true
		v, _ := f.String()
		want := wireValue(m, "DE"+strconv.Itoa(n))
		if v != want {
			t.Errorf("DE%d: moov %q, ours %q", n, v, want)
		}
	}
	for n := 2; n <= 128; n++ {
		if m.Has(n) != got[n] {
			t.Errorf("DE%d: moov has %v, ours %v", n, got[n], m.Has(n))
		}
	}
	packed, err := mm.Pack()
	if err != nil {
		t.Fatalf("moov pack: %v", err)
	}
	if !bytes.Equal(packed, raw) {
		t.Errorf("moov packs\n%s\nwant\n%s", packed, raw)
	}
}
