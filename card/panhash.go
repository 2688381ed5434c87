package card

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"strings"
	"sync"
)

// MinPANKeyLen is the shortest key NewPANHasher accepts.
const MinPANKeyLen = 16

// ErrPANKeyShort is returned by NewPANHasher for a key under MinPANKeyLen bytes.
var ErrPANKeyShort = errors.New("card: PAN hash key shorter than 16 bytes")

// PANHasher computes the keyed hash by which consents are found: the ledger
// loader stores it instead of the PAN, and the gateway computes it from
// DE2. Both must use the same key (the configuration's pan_key). Safe for
// concurrent use; it never shows its key when printed.
type PANHasher struct {
	key  []byte
	macs sync.Pool // of *panMAC: HMAC-SHA256 under key, reset before use
}

// panMAC is one HMAC-SHA256 under the hasher's key, with room for a PAN.
type panMAC struct {
	h   hash.Hash
	buf [32]byte
	sum [sha256.Size]byte
}

// NewPANHasher returns a hasher keyed with a copy of key (at least 16 bytes).
func NewPANHasher(key []byte) (*PANHasher, error) {
	if len(key) < MinPANKeyLen {
		return nil, ErrPANKeyShort
	}
	return &PANHasher{key: append([]byte(nil), key...)}, nil
}

// Hash returns the lower-case hex HMAC-SHA256 of the PAN's digits under the
// key. Spaces and hyphens (as a PAN may be written in a file) are dropped
// first, so "4700 1234 ..." and "47001234..." hash alike; any other
// character is kept, so that malformed input never collides with a real
// PAN. Validating the PAN is the caller's business.
func (h *PANHasher) Hash(pan string) string {
	if strings.ContainsAny(pan, " -") {
		pan = strings.NewReplacer(" ", "", "-", "").Replace(pan)
	}
	m, _ := h.macs.Get().(*panMAC)
	if m == nil {
		m = &panMAC{h: hmac.New(sha256.New, h.key)}
	} else {
		m.h.Reset()
	}
	m.h.Write(append(m.buf[:0], pan...))
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], m.h.Sum(m.sum[:0]))
	h.macs.Put(m)
	return string(out[:])
}

// String hides the key.
func (h *PANHasher) String() string { return "card.PANHasher{key: redacted}" }

// GoString hides the key.
func (h *PANHasher) GoString() string { return h.String() }
