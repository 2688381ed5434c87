package iso

import (
	"strconv"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/bli/atmgw/card"
)

// A message as logs may show it: the PAN masked (card.MaskPAN), the card
// expiry left out, DE54's amounts (personal data) and the bytes of DE55,
// DE61-63 and DE64 reduced to their lengths or presence.

// LogFields describes m for a zap logger. Only present fields appear.
func (m *Message) LogFields() []zap.Field {
	if m == nil {
		return nil
	}
	fs := make([]zap.Field, 0, 16)
	m.each(func(key, val string) {
		fs = append(fs, zap.String(key, val))
	}, func(key string, n int) {
		fs = append(fs, zap.Int(key, n))
	})
	return fs
}

// MarshalLogObject lets zap.Object("msg", m) log m as LogFields does,
// without building anything when the level is off.
func (m *Message) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	if m == nil {
		return nil
	}
	m.each(enc.AddString, func(key string, n int) { enc.AddInt(key, n) })
	return nil
}

// String is a one-line safe description, for %v and test failures.
func (m *Message) String() string {
	if m == nil {
		return "<nil>"
	}
	var b strings.Builder
	m.each(func(key, val string) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(key)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(val))
	}, func(key string, n int) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(key)
		b.WriteByte('=')
		b.WriteString(strconv.Itoa(n))
	})
	return b.String()
}

// GoString keeps %#v from printing the PAN.
func (m *Message) GoString() string { return "iso.Message{" + m.String() + "}" }

// each calls str for every loggable text field present and num for the
// lengths of the fields logged by length only, as the field table says
// (contract). The MTI comes first, then DE11 and DE7 (which message, when),
// then the other text fields and the lengths, in wire order.
func (m *Message) each(str func(key, val string), num func(key string, n int)) {
	if m.MTI != "" {
		str("mti", m.MTI)
	}
	lead := [...]int{11, 7}
	for _, n := range lead {
		m.logField(lookup(n), str, num)
	}
	for i := range contract {
		if f := &contract[i]; f.log != logLen && f.n != lead[0] && f.n != lead[1] {
			m.logField(f, str, num)
		}
	}
	for i := range contract {
		if f := &contract[i]; f.log == logLen {
			m.logField(f, str, num)
		}
	}
}

// logField reports field f of m, when present, to str or num as the table
// says.
func (m *Message) logField(f *field, str func(key, val string), num func(key string, n int)) {
	switch f.log {
	case logText:
		if v := *f.str(m); v != "" {
			str(f.key, v)
		}
	case logMasked:
		if v := *f.str(m); v != "" {
			str(f.key, card.MaskPAN(v))
		}
	case logLen:
		var l int
		if f.str != nil {
			l = len(*f.str(m))
		} else {
			l = len(*f.bin(m))
		}
		if l > 0 {
			num(f.key, l)
		}
	}
}
