package iso

import (
	"errors"
	"fmt"
	"io"
)

// MaxFrameLength is the largest message a frame may declare (docs/interface.md,
// section 2). A longer declared length closes the connection.
const MaxFrameLength = 4096

var (
	// ErrFrameTooLarge: the length header declares more than MaxFrameLength
	// bytes. The stream cannot be trusted any more: close the connection.
	ErrFrameTooLarge = errors.New("iso: frame length over 4096")
	// ErrEmptyFrame: the length header declares 0 bytes. The stream is still
	// in step; the caller counts it as an unparseable frame (decision 1).
	ErrEmptyFrame = errors.New("iso: zero-length frame")
)

// ReadFrame reads one frame: a 2-byte unsigned big-endian length, then that
// many bytes of message, which it returns (without the header).
//
// The message is read into buf when it is large enough (the result then
// aliases buf), otherwise into a new slice. Pass nil to get a slice of its
// own (needed when the message outlives the next read).
//
// Errors: io.EOF when the stream ends cleanly before a frame;
// io.ErrUnexpectedEOF when it ends inside one; ErrFrameTooLarge (wrapped,
// with the declared length) when the header declares more than
// MaxFrameLength, in which case nothing more is read; ErrEmptyFrame for a
// zero length; any error of r as it is (deadlines included).
//
// When r is an io.ByteReader (a *bufio.Reader), the header is read without
// allocating.
func ReadFrame(r io.Reader, buf []byte) ([]byte, error) {
	var n int
	if br, ok := r.(io.ByteReader); ok {
		hi, err := br.ReadByte()
		if err != nil {
			return nil, err
		}
		lo, err := br.ReadByte()
		if err != nil {
			return nil, noEOF(err)
		}
		n = int(hi)<<8 | int(lo)
	} else {
		var hdr []byte
		if cap(buf) >= 2 {
			hdr = buf[:2]
		} else {
			hdr = make([]byte, 2)
		}
		if _, err := io.ReadFull(r, hdr); err != nil {
			return nil, err // io.EOF before the header, io.ErrUnexpectedEOF inside it
		}
		n = int(hdr[0])<<8 | int(hdr[1])
	}
	switch {
	case n == 0:
		return nil, ErrEmptyFrame
	case n > MaxFrameLength:
		return nil, fmt.Errorf("%w: %d declared", ErrFrameTooLarge, n)
	}
	var frame []byte
	if cap(buf) >= n {
		frame = buf[:n]
	} else {
		frame = make([]byte, n)
	}
	if _, err := io.ReadFull(r, frame); err != nil {
		return nil, noEOF(err)
	}
	return frame, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// WriteFrame writes msg preceded by its 2-byte big-endian length. A message
// that is empty or longer than MaxFrameLength is refused (ErrEmptyFrame,
// ErrFrameTooLarge) and nothing is written. When w is an io.ByteWriter (a
// *bufio.Writer) nothing is allocated; otherwise header and message go out
// in one Write of a new buffer.
func WriteFrame(w io.Writer, msg []byte) error {
	if err := checkFrame(msg); err != nil {
		return err
	}
	if bw, ok := w.(io.ByteWriter); ok {
		if err := bw.WriteByte(byte(len(msg) >> 8)); err != nil {
			return err
		}
		if err := bw.WriteByte(byte(len(msg))); err != nil {
			return err
		}
		_, err := w.Write(msg)
		return err
	}
	b, _ := AppendFrame(make([]byte, 0, 2+len(msg)), msg)
	_, err := w.Write(b)
	return err
}

// AppendFrame appends msg, preceded by its 2-byte big-endian length, to dst.
// On error dst is returned unchanged.
func AppendFrame(dst, msg []byte) ([]byte, error) {
	if err := checkFrame(msg); err != nil {
		return dst, err
	}
	dst = append(dst, byte(len(msg)>>8), byte(len(msg)))
	return append(dst, msg...), nil
}

func checkFrame(msg []byte) error {
	switch {
	case len(msg) == 0:
		return ErrEmptyFrame
	case len(msg) > MaxFrameLength:
		return fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, len(msg))
	}
	return nil
}
