package sim

import (
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/bli/atmgw/iso"
)

// Wire is a message as the characters of its fields on the wire: what a
// scenario tampers with to make malformed requests, which iso.Encode (rightly)
// refuses to pack. Pack writes whatever the fields hold, with correct
// bitmaps and length prefixes.
//
// Which fields the contract carries, their length prefixes and which bytes
// travel as hex come from iso's one field table (iso.FieldLayout,
// Message.Field). Pack itself is deliberately a second packer, apart from
// iso.Encode: it writes what Encode refuses, and the tests check that the
// two agree byte for byte on valid messages.
type Wire struct {
	MTI    string
	Fields map[int]string // DE → wire characters (hex digits for DE55 and DE64, raw bytes for DE61-63)
}

// WireField reports whether the contract carries field de (Pack can write it).
func WireField(de int) bool {
	_, _, ok := iso.FieldLayout(de)
	return ok
}

// WireOf turns a message into its wire fields.
func WireOf(m *iso.Message) Wire {
	w := Wire{MTI: m.MTI, Fields: map[int]string{}}
	for de := 2; de <= 128; de++ {
		_, hexed, ok := iso.FieldLayout(de)
		if !ok {
			continue
		}
		text, b, _ := m.Field(de)
		switch {
		case hexed:
			text = strings.ToUpper(hex.EncodeToString(b))
		case b != nil:
			text = string(b)
		}
		if text != "" {
			w.Fields[de] = text
		}
	}
	return w
}

// Pack writes the message: MTI, primary bitmap (and secondary when a field
// above 64 is present), then the fields in order, variable ones with their
// length prefix (the number of characters, however many digits that takes).
func (w Wire) Pack() []byte {
	des := make([]int, 0, len(w.Fields))
	var primary, secondary uint64
	for de := range w.Fields {
		des = append(des, de)
		if de <= 64 {
			primary |= 1 << (64 - de)
		} else {
			secondary |= 1 << (128 - de)
		}
	}
	sort.Ints(des)
	if secondary != 0 {
		primary |= 1 << 63
	}
	var b strings.Builder
	b.WriteString(w.MTI)
	fmt.Fprintf(&b, "%016X", primary)
	if secondary != 0 {
		fmt.Fprintf(&b, "%016X", secondary)
	}
	for _, de := range des {
		v := w.Fields[de]
		if digits, _, _ := iso.FieldLayout(de); digits > 0 {
			fmt.Fprintf(&b, "%0*d", digits, len(v))
		}
		b.WriteString(v)
	}
	return []byte(b.String())
}

// PackSigned packs the message with a MAC in DE64 computed with key over
// every byte before it (the gateway's check), or with a MAC that is wrong.
func (w Wire) PackSigned(key []byte, wrong bool) ([]byte, error) {
	fields := make(map[int]string, len(w.Fields)+1)
	for k, v := range w.Fields {
		fields[k] = v
	}
	fields[64] = strings.Repeat("0", 16)
	b := Wire{MTI: w.MTI, Fields: fields}.Pack()
	if err := iso.SignMAC(b, key); err != nil {
		// The tampered fields keep iso from walking to DE64; when DE64 is the
		// last field its place is known anyway.
		if _, after := fields[70]; after {
			return nil, fmt.Errorf("cannot place the MAC: %w", err)
		}
		mac, err := iso.MAC(key, b[:len(b)-16])
		if err != nil {
			return nil, err
		}
		copy(b[len(b)-16:], strings.ToUpper(hex.EncodeToString(mac[:])))
	}
	if wrong {
		corruptMAC(b, fields)
	}
	return b, nil
}

// corruptMAC changes the last hex digit of DE64 (the last field of an 0200).
func corruptMAC(b []byte, fields map[int]string) {
	i := len(b) - 1
	if _, after := fields[70]; after {
		i -= 3
	}
	if b[i] == '0' {
		b[i] = '1'
	} else {
		b[i] = '0'
	}
}
