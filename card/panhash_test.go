package card

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

func testKey(b byte) []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

func TestPANHasher(t *testing.T) {
	if _, err := NewPANHasher(make([]byte, 15)); !errors.Is(err, ErrPANKeyShort) {
		t.Errorf("15-byte key: got %v, want ErrPANKeyShort", err)
	}
	if _, err := NewPANHasher(nil); !errors.Is(err, ErrPANKeyShort) {
		t.Errorf("nil key: got %v", err)
	}
	if _, err := NewPANHasher(make([]byte, 16)); err != nil {
		t.Errorf("16-byte key refused: %v", err)
	}

	key := testKey(0)
	h, err := NewPANHasher(key)
	if err != nil {
		t.Fatal(err)
	}
	const pan = "4700123456789014"
	// HMAC-SHA256(00 01 .. 1F, "4700123456789014"), computed independently.
	const want = "e4574cee4c031aa020b07c365408424d3b6829d52ef53641fd6f92f06146a006"
	if got := h.Hash(pan); got != want {
		t.Errorf("Hash = %s, want %s", got, want)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(h.Hash("1")) {
		t.Errorf("not 64 lower-case hex digits: %s", h.Hash("1"))
	}
	if h.Hash(pan) != h.Hash(pan) {
		t.Error("not deterministic")
	}
	for _, same := range []string{"4700 1234 5678 9014", "4700-1234-5678-9014"} {
		if h.Hash(same) != want {
			t.Errorf("%q hashes differently from its digits", same)
		}
	}
	if h.Hash("4700123456789015") == want {
		t.Error("another PAN hashes alike")
	}
	if h.Hash("4700123456789014X") == want {
		t.Error("a PAN with a stray character hashes like the PAN")
	}

	key[0] ^= 0xFF // the hasher keeps its own copy
	if got := h.Hash(pan); got != want {
		t.Error("changing the caller's key slice changed the hash")
	}
	other, _ := NewPANHasher(testKey(1))
	if other.Hash(pan) == want {
		t.Error("another key gives the same hash")
	}

	for _, s := range []string{fmt.Sprint(h), fmt.Sprintf("%v %+v %#v %s", h, h, h, h)} {
		if strings.Contains(strings.ToLower(s), "0102030405") || strings.Contains(s, "[0 1 2 3") {
			t.Errorf("printing the hasher shows its key: %s", s)
		}
	}
}
