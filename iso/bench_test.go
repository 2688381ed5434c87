package iso_test

import (
	"bufio"
	"bytes"
	"io"
	"testing"

	"github.com/bli/atmgw/iso"
)

// approved0210 is a large response: every field an approved pension answer
// carries, with full-size Big5 texts.
func approved0210(b *testing.B) *iso.Message {
	m, err := iso.Decode(unframed(b, "0200-pension-mac"))
	if err != nil {
		b.Fatal(err)
	}
	m.MTI, m.Expiry, m.EntryMode, m.CardSequence, m.CardAcceptor, m.ICC = "0210", "", "", "", "", nil
	m.ResponseCode, m.AuthID = "00", "00012A"
	m.AdditionalAmounts = iso.FormatAmounts(114500, 812)
	m.Screen = bytes.Repeat([]byte("\xa6\xdc"), 300)
	m.Statement = bytes.Repeat([]byte("P"), 9+6*60+26)
	m.Receipt = bytes.Repeat([]byte("\xa6\xdc"), 450)
	return m
}

func BenchmarkEncode(b *testing.B) {
	for _, c := range []struct {
		name string
		m    func(b *testing.B) *iso.Message
	}{
		{"0200", func(b *testing.B) *iso.Message { m, _ := iso.Decode(unframed(b, "0200-pension")); return m }},
		{"0210", approved0210},
	} {
		b.Run(c.name, func(b *testing.B) {
			m := c.m(b)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := iso.Encode(m); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/append", func(b *testing.B) {
			m := c.m(b)
			buf := make([]byte, 0, iso.MaxFrameLength)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := iso.AppendEncode(buf[:0], m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	raw0210, _ := iso.Encode(approved0210(b))
	for _, c := range []struct {
		name string
		raw  []byte
	}{
		{"0200", unframed(b, "0200-pension")},
		{"0210", raw0210},
		{"0800", unframed(b, "0800-sign-on")},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := iso.Decode(c.raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// loopReader replays the same bytes for ever.
type loopReader struct {
	b   []byte
	off int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := copy(p, r.b[r.off:])
	r.off = (r.off + n) % len(r.b)
	return n, nil
}

func BenchmarkReadFrame(b *testing.B) {
	framed := readExample(b, "0200-pension")
	b.Run("bufio", func(b *testing.B) {
		br := bufio.NewReaderSize(&loopReader{b: framed}, 8192)
		buf := make([]byte, iso.MaxFrameLength)
		b.SetBytes(int64(len(framed)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := iso.ReadFrame(br, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bufio/nil-buf", func(b *testing.B) {
		br := bufio.NewReaderSize(&loopReader{b: framed}, 8192)
		b.SetBytes(int64(len(framed)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := iso.ReadFrame(br, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkWriteFrame(b *testing.B) {
	msg := unframed(b, "0200-pension")
	bw := bufio.NewWriterSize(io.Discard, 8192)
	b.ReportAllocs()
	for b.Loop() {
		if err := iso.WriteFrame(bw, msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMAC(b *testing.B) {
	key := mustHex(b, macKey812)
	raw := unframed(b, "0200-pension-mac")
	b.Run("Verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := iso.VerifyMAC(raw, key); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Sign", func(b *testing.B) {
		msg := bytes.Clone(raw)
		b.ReportAllocs()
		for b.Loop() {
			if err := iso.SignMAC(msg, key); err != nil {
				b.Fatal(err)
			}
		}
	})
}
