package card

import (
	"encoding/hex"
	"strconv"
	"testing"
	"time"
)

func BenchmarkParseICC(b *testing.B) {
	data, _ := hex.DecodeString(exampleDE55)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseICC(data, "001"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRateLimiterAllowParallel(b *testing.B) {
	r := NewRateLimiter(DefaultRateLimit, DefaultRateWindow)
	const cards = 100_000
	keys := make([]string, cards)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
	}
	start := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(time.Now().UnixNano()) % cards
		for pb.Next() {
			i = (i + 7919) % cards
			r.Allow(keys[i], start.Add(time.Duration(i)*time.Millisecond))
		}
	})
}

func BenchmarkATCAcceptParallel(b *testing.B) {
	t := NewATCTracker()
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
	}
	b.RunParallel(func(pb *testing.PB) {
		var atc uint16
		i := 0
		for pb.Next() {
			i = (i + 1) % len(keys)
			atc++
			t.Accept(keys[i], atc)
		}
	})
}

func BenchmarkPANHash(b *testing.B) {
	h, _ := NewPANHasher(testKey(0))
	b.ReportAllocs()
	for b.Loop() {
		_ = h.Hash("4700123456789014")
	}
}
