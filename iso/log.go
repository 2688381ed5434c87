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
// lengths of the byte fields present.
func (m *Message) each(str func(key, val string), num func(key string, n int)) {
	pairs := [...]struct{ key, val string }{
		{"mti", m.MTI},
		{"stan", m.STAN},
		{"tx_time", m.TransmissionTime},
		{"pan", card.MaskPAN(m.PAN)},
		{"proc_code", m.ProcessingCode},
		{"local_time", m.LocalTime},
		{"local_date", m.LocalDate},
		{"entry_mode", m.EntryMode},
		{"card_seq", m.CardSequence},
		{"institution", m.Institution},
		{"rrn", m.RRN},
		{"auth_id", m.AuthID},
		{"rc", m.ResponseCode},
		{"terminal", m.TerminalID},
		{"acceptor", m.CardAcceptor},
		{"net_code", m.NetworkCode},
	}
	for _, p := range pairs {
		if p.val != "" {
			str(p.key, p.val)
		}
	}
	lens := [...]struct {
		key string
		n   int
	}{
		{"amounts_len", len(m.AdditionalAmounts)},
		{"icc_len", len(m.ICC)},
		{"screen_len", len(m.Screen)},
		{"statement_len", len(m.Statement)},
		{"receipt_len", len(m.Receipt)},
		{"mac_len", len(m.MAC)},
	}
	for _, l := range lens {
		if l.n > 0 {
			num(l.key, l.n)
		}
	}
}
