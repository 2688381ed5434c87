package iso_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/bli/atmgw/iso"
)

// readers gives the two paths of ReadFrame: a plain io.Reader (one byte at
// a time, the worst case) and a *bufio.Reader (an io.ByteReader).
func readers(b []byte) map[string]io.Reader {
	return map[string]io.Reader{
		"plain":  iotest.OneByteReader(bytes.NewReader(b)),
		"bufio":  bufio.NewReader(bytes.NewReader(b)),
		"reader": struct{ io.Reader }{bytes.NewReader(b)},
	}
}

func TestReadFrame(t *testing.T) {
	var stream []byte
	for _, name := range exampleNames {
		stream = append(stream, readExample(t, name)...)
	}
	for kind, r := range readers(stream) {
		t.Run(kind, func(t *testing.T) {
			for _, name := range exampleNames {
				frame, err := iso.ReadFrame(r, nil)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if want := readExample(t, name)[2:]; !bytes.Equal(frame, want) {
					t.Fatalf("%s: %q", name, frame)
				}
			}
			if _, err := iso.ReadFrame(r, nil); err != io.EOF {
				t.Fatalf("at the end: %v, want io.EOF", err)
			}
		})
	}
}

func TestReadFrameErrors(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"declared 4097", append([]byte{0x10, 0x01}, make([]byte, 4097)...), iso.ErrFrameTooLarge},
		{"declared 65535", []byte{0xFF, 0xFF, 'x'}, iso.ErrFrameTooLarge},
		{"zero length", []byte{0x00, 0x00, 0x00, 0x04, '0', '8', '0', '0'}, iso.ErrEmptyFrame},
		{"half a header", []byte{0x00}, io.ErrUnexpectedEOF},
		{"short body", []byte{0x00, 0x10, '0', '2'}, io.ErrUnexpectedEOF},
		{"header only", []byte{0x00, 0x10}, io.ErrUnexpectedEOF},
		{"nothing", nil, io.EOF},
	}
	for _, c := range cases {
		for kind, r := range readers(c.in) {
			t.Run(c.name+"/"+kind, func(t *testing.T) {
				frame, err := iso.ReadFrame(r, nil)
				if !errors.Is(err, c.want) || frame != nil {
					t.Fatalf("%q, %v; want %v", frame, err, c.want)
				}
			})
		}
	}
	// 4096 itself is allowed.
	in := append([]byte{0x10, 0x00}, bytes.Repeat([]byte{'x'}, 4096)...)
	if frame, err := iso.ReadFrame(bytes.NewReader(in), nil); err != nil || len(frame) != 4096 {
		t.Fatalf("4096: %d %v", len(frame), err)
	}
	// After a zero-length frame the stream is still in step.
	r := bufio.NewReader(bytes.NewReader([]byte{0, 0, 0, 2, 'o', 'k'}))
	if _, err := iso.ReadFrame(r, nil); err != iso.ErrEmptyFrame {
		t.Fatal(err)
	}
	if frame, err := iso.ReadFrame(r, nil); err != nil || string(frame) != "ok" {
		t.Fatalf("%q %v", frame, err)
	}
	// An error of the reader passes through.
	boom := errors.New("boom")
	if _, err := iso.ReadFrame(iotest.ErrReader(boom), nil); err != boom {
		t.Fatalf("%v", err)
	}
	if _, err := iso.ReadFrame(io.MultiReader(bytes.NewReader([]byte{0, 9, 'a'}), iotest.ErrReader(boom)), nil); err != boom {
		t.Fatalf("%v", err)
	}
}

func TestReadFrameUsesBuf(t *testing.T) {
	in := append(readExample(t, "0800-echo"), readExample(t, "0200-pension")...)
	buf := make([]byte, 64)
	r := bytes.NewReader(in)
	frame, err := iso.ReadFrame(r, buf)
	if err != nil {
		t.Fatal(err)
	}
	if &frame[0] != &buf[0] {
		t.Error("a large enough buf was not used")
	}
	// The 0200 is larger than buf: a new slice, buf untouched beyond the header.
	frame, err = iso.ReadFrame(r, buf)
	if err != nil || len(frame) != 0xB9 || &frame[0] == &buf[0] {
		t.Fatalf("%d %v", len(frame), err)
	}
}

func TestWriteFrame(t *testing.T) {
	msg := unframed(t, "0800-echo")
	want := readExample(t, "0800-echo")
	var plain bytes.Buffer
	if err := iso.WriteFrame(struct{ io.Writer }{&plain}, msg); err != nil || !bytes.Equal(plain.Bytes(), want) {
		t.Fatalf("plain writer: %v %X", err, plain.Bytes())
	}
	var buffered bytes.Buffer
	bw := bufio.NewWriter(&buffered)
	if err := iso.WriteFrame(bw, msg); err != nil {
		t.Fatal(err)
	}
	bw.Flush()
	if !bytes.Equal(buffered.Bytes(), want) {
		t.Fatalf("bufio writer: %X", buffered.Bytes())
	}
	out, err := iso.AppendFrame([]byte("x"), msg)
	if err != nil || !bytes.Equal(out, append([]byte("x"), want...)) {
		t.Fatalf("AppendFrame: %v %X", err, out)
	}
	// A 4096-byte message has header 0x1000.
	big := bytes.Repeat([]byte{'9'}, 4096)
	if out, err := iso.AppendFrame(nil, big); err != nil || out[0] != 0x10 || out[1] != 0x00 {
		t.Fatalf("4096: %v %X", err, out[:2])
	}
	// Too large or empty: refused, nothing written.
	for _, m := range [][]byte{nil, {}, bytes.Repeat([]byte{'9'}, 4097)} {
		var w bytes.Buffer
		err := iso.WriteFrame(&w, m)
		if err == nil || w.Len() != 0 {
			t.Errorf("%d bytes: %v, wrote %d", len(m), err, w.Len())
		}
		if out, err := iso.AppendFrame([]byte("k"), m); err == nil || string(out) != "k" {
			t.Errorf("AppendFrame %d bytes: %v", len(m), err)
		}
	}
	if err := iso.WriteFrame(&bytes.Buffer{}, make([]byte, 5000)); !errors.Is(err, iso.ErrFrameTooLarge) {
		t.Errorf("5000: %v", err)
	}
	// A failing writer's error comes back.
	if err := iso.WriteFrame(failWriter{}, msg); err == nil || !strings.Contains(err.Error(), "full") {
		t.Errorf("failing writer: %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
