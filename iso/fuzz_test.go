package iso_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/bli/atmgw/iso"
)

// FuzzDecode: Decode never panics, always returns a message, never puts a
// value in an error text, and what it returns — even beside an error —
// re-encodes (the gateway echoes it) and decodes back to itself. The seed
// corpus is in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	for _, name := range exampleNames {
		f.Add(unframed(f, name))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := iso.Decode(b)
		if m == nil {
			t.Fatal("nil message")
		}
		if err != nil && len(b) <= iso.MaxFrameLength && digitRun.MatchString(err.Error()) {
			t.Fatalf("error text may hold a value: %q", err)
		}
		if iso.Recovered(m) && (len(m.MTI) != 4 || len(m.STAN) != 6) {
			t.Fatalf("recovered MTI %q STAN %q", m.MTI, m.STAN)
		}
		if m.MTI == "" {
			m.MTI = "0000"
		}
		out, eerr := iso.Encode(m)
		if eerr != nil {
			t.Fatalf("decoded fields do not re-encode: %v (decode error %v)", eerr, err)
		}
		back, derr := iso.Decode(out)
		if derr != nil || !reflect.DeepEqual(back, m) {
			t.Fatalf("re-decode: %v\n got %v\nwant %v", derr, back, m)
		}
		if err == nil && len(b) >= 20 && !bytes.EqualFold(b[20:], out[20:]) && b[4] < '8' {
			// Without a secondary bitmap, a clean decode re-encodes to the
			// same bytes but for the case of hex digits.
			t.Fatalf("clean decode re-encodes differently\n%q\n%q", b, out)
		}
	})
}

// FuzzReadFrame: ReadFrame never panics, never returns more than
// MaxFrameLength bytes, returns exactly the bytes the header declares, and
// gives the same frames on its two paths (plain reader and bufio). The
// seed corpus is in testdata/fuzz/FuzzReadFrame.
func FuzzReadFrame(f *testing.F) {
	var all []byte
	for _, name := range exampleNames {
		framed := readExample(f, name)
		f.Add(framed)
		all = append(all, framed...)
	}
	f.Add(all)
	f.Add([]byte{0, 0, 0, 1, 'x'})
	f.Add([]byte{0x10, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		plain := struct{ io.Reader }{bytes.NewReader(b)}
		buffered := bufio.NewReader(bytes.NewReader(b))
		buf := make([]byte, 128)
		off := 0
		for i := 0; ; i++ {
			f1, err1 := iso.ReadFrame(plain, buf)
			f2, err2 := iso.ReadFrame(buffered, nil)
			if !bytes.Equal(f1, f2) || !errors.Is(err1, unwrapAll(err2)) {
				t.Fatalf("frame %d: plain %q %v, bufio %q %v", i, f1, err1, f2, err2)
			}
			if len(f1) > iso.MaxFrameLength {
				t.Fatalf("frame of %d bytes", len(f1))
			}
			if err1 == iso.ErrEmptyFrame {
				off += 2
				continue
			}
			if err1 != nil {
				return
			}
			n := int(b[off])<<8 | int(b[off+1])
			if n != len(f1) || !bytes.Equal(f1, b[off+2:off+2+n]) {
				t.Fatalf("frame %d: %d bytes, header says %d", i, len(f1), n)
			}
			off += 2 + n
		}
	})
}

func unwrapAll(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}
