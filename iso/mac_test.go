package iso_test

import (
	"bytes"
	"crypto/des"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/bli/atmgw/iso"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMACKnownAnswer(t *testing.T) {
	// The ANSI X9.19 test message "Now is the time for all " with the
	// double-length key 0123456789ABCDEF FEDCBA9876543210.
	key := mustHex(t, "0123456789ABCDEFFEDCBA9876543210")
	mac, err := iso.MAC(key, []byte("Now is the time for all "))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(mac[:]); got != "a1c72e74ea3fa9b6" {
		t.Fatalf("MAC %s", got)
	}
}

// referenceMAC is ISO 9797-1 algorithm 3 written another way: single-DES
// CBC over all blocks but the last, then the last block through two-key
// triple DES (K1, K2, K1), padding method 1.
func referenceMAC(t *testing.T, key, data []byte) [8]byte {
	padded := bytes.Clone(data)
	for len(padded) == 0 || len(padded)%8 != 0 {
		padded = append(padded, 0)
	}
	k1, _ := des.NewCipher(key[:8])
	tdes, err := des.NewTripleDESCipher(append(bytes.Clone(key), key[:8]...))
	if err != nil {
		t.Fatal(err)
	}
	var h [8]byte
	for i := 0; i < len(padded); i += 8 {
		for j := range h {
			h[j] ^= padded[i+j]
		}
		if i+8 < len(padded) {
			k1.Encrypt(h[:], h[:])
		} else {
			tdes.Encrypt(h[:], h[:])
		}
	}
	return h
}

func TestMACMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	key := make([]byte, 16)
	for n := 0; n <= 41; n++ { // every padding case, empty data included
		for i := range key {
			key[i] = byte(r.IntN(256))
		}
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(r.IntN(256))
		}
		got, err := iso.MAC(key, data)
		if err != nil {
			t.Fatal(err)
		}
		if want := referenceMAC(t, key, data); got != want {
			t.Fatalf("%d bytes: %X, want %X", n, got, want)
		}
	}
	// Long data (an approved 0210 is some 1400 bytes), under keys seen
	// before (their schedule is cached) and new ones.
	keys := [][]byte{bytes.Clone(key), mustHex(t, "0123456789ABCDEFFEDCBA9876543210"), bytes.Clone(key)}
	for _, n := range []int{64, 333, 1399, 4096} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(r.IntN(256))
		}
		for _, k := range keys {
			got, _ := iso.MAC(k, data)
			if want := referenceMAC(t, k, data); got != want {
				t.Fatalf("%d bytes: %X, want %X", n, got, want)
			}
		}
	}
	// Padding method 1: trailing zero bytes up to the block do not change it.
	a, _ := iso.MAC(key, []byte("12345"))
	b, _ := iso.MAC(key, []byte("12345\x00\x00\x00"))
	if a != b {
		t.Error("zero padding is not method 1")
	}
}

func TestMACErrors(t *testing.T) {
	if _, err := iso.MAC(make([]byte, 8), []byte("x")); !errors.Is(err, iso.ErrMACKey) {
		t.Errorf("8-byte key: %v", err)
	}
	key := mustHex(t, macKey812)
	m, _ := iso.Decode(unframed(t, "0200-pension"))
	b, _ := iso.Encode(m)
	if err := iso.SignMAC(b, key); !errors.Is(err, iso.ErrNoMAC) {
		t.Errorf("sign without DE64: %v", err)
	}
	if _, err := iso.EncodeMAC(m, key[:15]); !errors.Is(err, iso.ErrMACKey) {
		t.Errorf("EncodeMAC short key: %v", err)
	}
	signed, err := iso.EncodeMAC(m, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := iso.SignMAC(bytes.Clone(signed), key[:8]); !errors.Is(err, iso.ErrMACKey) {
		t.Errorf("SignMAC short key: %v", err)
	}
	// DE64 that is not hex does not verify.
	bad := bytes.Clone(signed)
	bad[len(bad)-1] = 'G'
	if err := iso.VerifyMAC(bad, key); !errors.Is(err, iso.ErrMACMismatch) {
		t.Errorf("non-hex DE64: %v", err)
	}
	// Lower-case hex digits of the right MAC verify.
	lower := bytes.Clone(signed)
	copy(lower[len(lower)-16:], bytes.ToLower(lower[len(lower)-16:]))
	if err := iso.VerifyMAC(lower, key); err != nil {
		t.Errorf("lower-case DE64: %v", err)
	}
	// Truncated inside DE64, or garbage: structural errors, no panic.
	for _, b := range [][]byte{signed[:len(signed)-3], signed[:10], []byte("02"), nil} {
		var se *iso.StructureError
		if err := iso.VerifyMAC(b, key); !errors.As(err, &se) {
			t.Errorf("%d bytes: %v", len(b), err)
		}
	}
}

func TestSignMACWithFieldsAfterDE64(t *testing.T) {
	// DE64 need not be last: with DE70 after it, the MAC still covers the
	// bytes before DE64 only.
	key := mustHex(t, macKey812)
	m := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: "000001", Institution: "812", NetworkCode: "001"}
	b, err := iso.EncodeMAC(m, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := iso.VerifyMAC(b, key); err != nil {
		t.Fatal(err)
	}
	off := len(b) - 3 - 16
	want, _ := iso.MAC(key, b[:off])
	if got := string(b[off : off+16]); got != upperHex(want[:]) {
		t.Fatalf("DE64 %s, want %X", got, want)
	}
	b[len(b)-1] = '2' // DE70 is after DE64: not covered
	if err := iso.VerifyMAC(b, key); err != nil {
		t.Fatal(err)
	}
}

func upperHex(b []byte) string {
	return string(bytes.ToUpper([]byte(hex.EncodeToString(b))))
}
