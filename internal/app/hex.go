package app

import "encoding/hex"

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic("app: bad built-in hex constant")
	}
	return b
}
