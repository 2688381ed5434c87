// The DES core of the X9.19 MAC. Adapted from Go's crypto/des (block.go,
// const.go): Copyright 2011 The Go Authors, BSD-style licence (the Go
// distribution's LICENSE file).
//
// Why not crypto/des: an X9.19 MAC is a DES-CBC chain over the whole
// message (an approved 0210 is some 170 blocks), and crypto/des takes each
// block through the initial and final permutations and an interface call.
// The permutations are linear (they commute with XOR), so the chain can stay
// in the permuted domain: each data block is permuted once on the way in,
// and only the MAC is permuted back. The key schedule is computed once per
// key (macKeyOf keeps it).

package iso

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
)

// macKeySchedule is the expanded 16-byte X9.19 key: the DES subkeys of its
// left half (k1) and of its right half (k2).
type macKeySchedule struct {
	k1, k2 [16]uint64
}

// macKeys caches the key schedules of the keys seen (partner keys: a
// handful). Copied on write; at most maxCachedMACKeys keys.
var (
	macKeys   atomic.Pointer[map[[16]byte]*macKeySchedule]
	macKeysMu sync.Mutex
)

const maxCachedMACKeys = 256

// macKeyOf returns the key schedule of a 16-byte key.
func macKeyOf(key []byte) *macKeySchedule {
	var k [16]byte
	copy(k[:], key)
	if m := macKeys.Load(); m != nil {
		if s, ok := (*m)[k]; ok {
			return s
		}
	}
	s := &macKeySchedule{}
	desSubkeys(&s.k1, key[:8])
	desSubkeys(&s.k2, key[8:16])
	macKeysMu.Lock()
	defer macKeysMu.Unlock()
	old := macKeys.Load()
	if old != nil {
		if s2, ok := (*old)[k]; ok {
			return s2
		}
		if len(*old) >= maxCachedMACKeys {
			return s // not cached: keys are configuration, this does not happen
		}
	}
	m := make(map[[16]byte]*macKeySchedule, 1+lenOf(old))
	if old != nil {
		for kk, v := range *old {
			m[kk] = v
		}
	}
	m[k] = s
	macKeys.Store(&m)
	return s
}

func lenOf(m *map[[16]byte]*macKeySchedule) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

// x919 is the X9.19 MAC of data under the key schedule s (see MAC).
func x919(s *macKeySchedule, data []byte) [8]byte {
	// v is the chaining value after the initial permutation, each half
	// rotated left by one (the form the rounds work in).
	var v uint64
	empty := len(data) == 0
	for len(data) >= 8 {
		v = desRounds(&s.k1, v^desIn(binary.BigEndian.Uint64(data)), false)
		data = data[8:]
	}
	if len(data) > 0 || empty {
		var last [8]byte
		copy(last[:], data)
		v = desRounds(&s.k1, v^desIn(binary.BigEndian.Uint64(last[:])), false)
	}
	v = desRounds(&s.k2, v, true)
	v = desRounds(&s.k1, v, false)
	var mac [8]byte
	binary.BigEndian.PutUint64(mac[:], desOut(v))
	return mac
}

// desIn takes a block into the rounds' form: the initial permutation, each
// half rotated left by one. It is linear: desIn(a^b) = desIn(a)^desIn(b).
func desIn(b uint64) uint64 {
	b = permuteInitialBlock(b)
	left, right := uint32(b>>32), uint32(b)
	left = left<<1 | left>>31
	right = right<<1 | right>>31
	return uint64(left)<<32 | uint64(right)
}

// desOut is the inverse of desIn: the halves rotated back, then the final
// permutation.
func desOut(v uint64) uint64 {
	left, right := uint32(v>>32), uint32(v)
	left = left<<31 | left>>1
	right = right<<31 | right>>1
	return permuteFinalBlock(uint64(left)<<32 | uint64(right))
}

// desRounds is the 16 rounds of DES and the swap of the halves, on a block
// in the rounds' form: desOut(desRounds(k, desIn(x))) is DES of x.
func desRounds(k *[16]uint64, v uint64, decrypt bool) uint64 {
	left, right := uint32(v>>32), uint32(v)
	if decrypt {
		left, right = feistel(left, right, k[15], k[14])
		left, right = feistel(left, right, k[13], k[12])
		left, right = feistel(left, right, k[11], k[10])
		left, right = feistel(left, right, k[9], k[8])
		left, right = feistel(left, right, k[7], k[6])
		left, right = feistel(left, right, k[5], k[4])
		left, right = feistel(left, right, k[3], k[2])
		left, right = feistel(left, right, k[1], k[0])
	} else {
		left, right = feistel(left, right, k[0], k[1])
		left, right = feistel(left, right, k[2], k[3])
		left, right = feistel(left, right, k[4], k[5])
		left, right = feistel(left, right, k[6], k[7])
		left, right = feistel(left, right, k[8], k[9])
		left, right = feistel(left, right, k[10], k[11])
		left, right = feistel(left, right, k[12], k[13])
		left, right = feistel(left, right, k[14], k[15])
	}
	return uint64(right)<<32 | uint64(left)
}

// DES Feistel function, two rounds.
func feistel(l, r uint32, k0, k1 uint64) (lout, rout uint32) {
	fb := &feistelBox
	var t uint32

	t = r ^ uint32(k0>>32)
	l ^= fb[7][t&0x3f] ^
		fb[5][(t>>8)&0x3f] ^
		fb[3][(t>>16)&0x3f] ^
		fb[1][(t>>24)&0x3f]

	t = ((r << 28) | (r >> 4)) ^ uint32(k0)
	l ^= fb[6][(t)&0x3f] ^
		fb[4][(t>>8)&0x3f] ^
		fb[2][(t>>16)&0x3f] ^
		fb[0][(t>>24)&0x3f]

	t = l ^ uint32(k1>>32)
	r ^= fb[7][t&0x3f] ^
		fb[5][(t>>8)&0x3f] ^
		fb[3][(t>>16)&0x3f] ^
		fb[1][(t>>24)&0x3f]

	t = ((l << 28) | (l >> 4)) ^ uint32(k1)
	r ^= fb[6][(t)&0x3f] ^
		fb[4][(t>>8)&0x3f] ^
		fb[2][(t>>16)&0x3f] ^
		fb[0][(t>>24)&0x3f]

	return l, r
}

// feistelBox[s][16*i+j] contains the output of permutationFunction
// for sBoxes[s][i][j] << 4*(7-s), rotated left by one.
var feistelBox = initFeistelBox()

// general purpose function to perform DES block permutations.
func permuteBlock(src uint64, permutation []uint8) (block uint64) {
	for position, n := range permutation {
		bit := (src >> n) & 1
		block |= bit << uint((len(permutation)-1)-position)
	}
	return
}

func initFeistelBox() (box [8][64]uint32) {
	for s := range sBoxes {
		for i := 0; i < 4; i++ {
			for j := 0; j < 16; j++ {
				f := uint64(sBoxes[s][i][j]) << (4 * (7 - uint(s)))
				f = permuteBlock(f, permutationFunction[:])

				// Row is determined by the 1st and 6th bit.
				// Column is the middle four bits.
				row := uint8(((i & 2) << 4) | i&1)
				col := uint8(j << 1)
				t := row | col

				// The rotation was performed in the feistel rounds, being factored out and now mixed into the feistelBox.
				f = (f << 1) | (f >> 31)

				box[s][t] = uint32(f)
			}
		}
	}
	return box
}

// permuteInitialBlock is equivalent to the permutation defined
// by initialPermutation.
func permuteInitialBlock(block uint64) uint64 {
	// block = b7 b6 b5 b4 b3 b2 b1 b0 (8 bytes)
	b1 := block >> 48
	b2 := block << 48
	block ^= b1 ^ b2 ^ b1<<48 ^ b2>>48

	// block = b1 b0 b5 b4 b3 b2 b7 b6
	b1 = block >> 32 & 0xff00ff
	b2 = (block & 0xff00ff00)
	block ^= b1<<32 ^ b2 ^ b1<<8 ^ b2<<24 // exchange b0 b4 with b3 b7

	// block is now b1 b3 b5 b7 b0 b2 b4 b6, the permutation:
	//                  ...  8
	//                  ... 24
	//                  ... 40
	//                  ... 56
	//  7  6  5  4  3  2  1  0
	// 23 22 21 20 19 18 17 16
	//                  ... 32
	//                  ... 48

	// exchange 4,5,6,7 with 32,33,34,35 etc.
	b1 = block & 0x0f0f00000f0f0000
	b2 = block & 0x0000f0f00000f0f0
	block ^= b1 ^ b2 ^ b1>>12 ^ b2<<12

	// block is the permutation:
	//
	//   [+8]         [+40]
	//
	//  7  6  5  4
	// 23 22 21 20
	//  3  2  1  0
	// 19 18 17 16    [+32]

	// exchange 0,1,4,5 with 18,19,22,23
	b1 = block & 0x3300330033003300
	b2 = block & 0x00cc00cc00cc00cc
	block ^= b1 ^ b2 ^ b1>>6 ^ b2<<6

	// block is the permutation:
	// 15 14
	// 13 12
	// 11 10
	//  9  8
	//  7  6
	//  5  4
	//  3  2
	//  1  0 [+16] [+32] [+64]

	// exchange 0,2,4,6 with 9,11,13,15:
	b1 = block & 0xaaaaaaaa55555555
	block ^= b1 ^ b1>>33 ^ b1<<33

	// block is the permutation:
	// 6 14 22 30 38 46 54 62
	// 4 12 20 28 36 44 52 60
	// 2 10 18 26 34 42 50 58
	// 0  8 16 24 32 40 48 56
	// 7 15 23 31 39 47 55 63
	// 5 13 21 29 37 45 53 61
	// 3 11 19 27 35 43 51 59
	// 1  9 17 25 33 41 49 57
	return block
}

// permuteFinalBlock is equivalent to the permutation defined
// by finalPermutation.
func permuteFinalBlock(block uint64) uint64 {
	// Perform the same bit exchanges as permuteInitialBlock
	// but in reverse order.
	b1 := block & 0xaaaaaaaa55555555
	block ^= b1 ^ b1>>33 ^ b1<<33

	b1 = block & 0x3300330033003300
	b2 := block & 0x00cc00cc00cc00cc
	block ^= b1 ^ b2 ^ b1>>6 ^ b2<<6

	b1 = block & 0x0f0f00000f0f0000
	b2 = block & 0x0000f0f00000f0f0
	block ^= b1 ^ b2 ^ b1>>12 ^ b2<<12

	b1 = block >> 32 & 0xff00ff
	b2 = (block & 0xff00ff00)
	block ^= b1<<32 ^ b2 ^ b1<<8 ^ b2<<24

	b1 = block >> 48
	b2 = block << 48
	block ^= b1 ^ b2 ^ b1<<48 ^ b2>>48
	return block
}

// ksRotate creates 16 28-bit blocks rotated according to the rotation
// schedule.
func ksRotate(in uint32) (out [16]uint32) {
	last := in
	for i := 0; i < 16; i++ {
		// 28-bit circular left shift
		left := (last << (4 + ksRotations[i])) >> 4
		right := (last << 4) >> (32 - ksRotations[i])
		out[i] = left | right
		last = out[i]
	}
	return
}

// desSubkeys creates the 16 56-bit subkeys of an 8-byte DES key.
func desSubkeys(subkeys *[16]uint64, keyBytes []byte) {
	// apply PC1 permutation to key
	key := binary.BigEndian.Uint64(keyBytes)
	permutedKey := permuteBlock(key, permutedChoice1[:])

	// rotate halves of permuted key according to the rotation schedule
	leftRotations := ksRotate(uint32(permutedKey >> 28))
	rightRotations := ksRotate(uint32(permutedKey<<4) >> 4)

	// generate subkeys
	for i := 0; i < 16; i++ {
		// combine halves to form 56-bit input to PC2
		pc2Input := uint64(leftRotations[i])<<28 | uint64(rightRotations[i])
		// apply PC2 permutation to 7 byte input
		subkeys[i] = unpack(permuteBlock(pc2Input, permutedChoice2[:]))
	}
}

// Expand 48-bit input to 64-bit, with each 6-bit block padded by extra two bits at the top.
// By doing so, we can have the input blocks (four bits each), and the key blocks (six bits each) well-aligned without
// extra shifts/rotations for alignments.
func unpack(x uint64) uint64 {
	return ((x>>(6*1))&0xff)<<(8*0) |
		((x>>(6*3))&0xff)<<(8*1) |
		((x>>(6*5))&0xff)<<(8*2) |
		((x>>(6*7))&0xff)<<(8*3) |
		((x>>(6*0))&0xff)<<(8*4) |
		((x>>(6*2))&0xff)<<(8*5) |
		((x>>(6*4))&0xff)<<(8*6) |
		((x>>(6*6))&0xff)<<(8*7)
}

// Used in the key schedule to select 56 bits
// from a 64-bit input.
var permutedChoice1 = [56]byte{
	7, 15, 23, 31, 39, 47, 55, 63,
	6, 14, 22, 30, 38, 46, 54, 62,
	5, 13, 21, 29, 37, 45, 53, 61,
	4, 12, 20, 28, 1, 9, 17, 25,
	33, 41, 49, 57, 2, 10, 18, 26,
	34, 42, 50, 58, 3, 11, 19, 27,
	35, 43, 51, 59, 36, 44, 52, 60,
}

// Used in the key schedule to produce each subkey by selecting 48 bits from
// the 56-bit input
var permutedChoice2 = [48]byte{
	42, 39, 45, 32, 55, 51, 53, 28,
	41, 50, 35, 46, 33, 37, 44, 52,
	30, 48, 40, 49, 29, 36, 43, 54,
	15, 4, 25, 19, 9, 1, 26, 16,
	5, 11, 23, 8, 12, 7, 17, 0,
	22, 3, 10, 14, 6, 20, 27, 24,
}

// 8 S-boxes composed of 4 rows and 16 columns
// Used in the DES cipher function
var sBoxes = [8][4][16]uint8{
	// S-box 1
	{
		{14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7},
		{0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8},
		{4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0},
		{15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13},
	},
	// S-box 2
	{
		{15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10},
		{3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5},
		{0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15},
		{13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9},
	},
	// S-box 3
	{
		{10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8},
		{13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1},
		{13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7},
		{1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12},
	},
	// S-box 4
	{
		{7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15},
		{13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9},
		{10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4},
		{3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14},
	},
	// S-box 5
	{
		{2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9},
		{14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6},
		{4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14},
		{11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3},
	},
	// S-box 6
	{
		{12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11},
		{10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8},
		{9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6},
		{4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13},
	},
	// S-box 7
	{
		{4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1},
		{13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6},
		{1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2},
		{6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12},
	},
	// S-box 8
	{
		{13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7},
		{1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2},
		{7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8},
		{2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11},
	},
}

// Size of left rotation per round in each half of the key schedule
var ksRotations = [16]uint8{1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1}

// P permutation of the Feistel function.
var permutationFunction = [32]byte{
	16, 25, 12, 11, 3, 20, 4, 15,
	31, 17, 9, 6, 27, 14, 1, 22,
	30, 24, 8, 18, 0, 5, 29, 23,
	13, 19, 2, 26, 10, 21, 28, 7,
}
