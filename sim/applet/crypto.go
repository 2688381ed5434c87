package applet

import (
	"crypto/des"
	"errors"
	"fmt"
)

// KeyLen is the length of a card key: a double-length DES key K1 || K2.
const KeyLen = 16

// Cryptogram is the application cryptogram (9F26) the applet computes:
// ISO/IEC 9797-1 MAC algorithm 3 (the retail MAC: DES-CBC with K1, the last
// block then decrypted with K2 and encrypted with K1) with padding method 2
// (a byte 80, then zero bytes up to a multiple of 8), over
// ATC (2 bytes, big-endian) || UN (4 bytes) || PAN (BCD, F-padded, as in tag 5A).
func Cryptogram(key []byte, atc uint16, un [4]byte, pan string) ([8]byte, error) {
	var out [8]byte
	if len(key) != KeyLen {
		return out, fmt.Errorf("applet: card key has %d bytes, want %d", len(key), KeyLen)
	}
	panBCD, err := encodePAN(pan)
	if err != nil {
		return out, err
	}
	data := make([]byte, 0, 6+len(panBCD))
	data = append(data, byte(atc>>8), byte(atc))
	data = append(data, un[:]...)
	data = append(data, panBCD...)
	return retailMAC(key, padMethod2(data))
}

// padMethod2 is ISO/IEC 9797-1 padding method 2.
func padMethod2(data []byte) []byte {
	out := make([]byte, len(data), len(data)+8)
	copy(out, data)
	out = append(out, 0x80)
	for len(out)%8 != 0 {
		out = append(out, 0)
	}
	return out
}

// retailMAC is ISO/IEC 9797-1 MAC algorithm 3 with DES over data already
// padded to a multiple of 8 bytes.
func retailMAC(key, data []byte) ([8]byte, error) {
	var out [8]byte
	if len(data) == 0 || len(data)%8 != 0 {
		return out, errors.New("applet: MAC input is not a whole number of blocks")
	}
	k1, err := des.NewCipher(key[:8])
	if err != nil {
		return out, err
	}
	k2, err := des.NewCipher(key[8:16])
	if err != nil {
		return out, err
	}
	var h [8]byte
	for i := 0; i < len(data); i += 8 {
		for j := range 8 {
			h[j] ^= data[i+j]
		}
		k1.Encrypt(h[:], h[:])
	}
	k2.Decrypt(h[:], h[:])
	k1.Encrypt(out[:], h[:])
	return out, nil
}
