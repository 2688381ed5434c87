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
type Wire struct {
	MTI    string
	Fields map[int]string // DE → wire characters (hex digits for DE55 and DE64, raw bytes for DE61-63)
}

// wireKind is how a contract field's length travels: 0 fixed, 2 LLVAR, 3 LLLVAR.
var wireKind = map[int]int{
	2: 2, 3: 0, 7: 0, 11: 0, 12: 0, 13: 0, 14: 0, 22: 0, 23: 0, 32: 2, 37: 0, 38: 0,
	39: 0, 41: 0, 42: 0, 54: 3, 55: 3, 61: 3, 62: 3, 63: 3, 64: 0, 70: 0,
}

// WireField reports whether the contract carries field de (Pack can write it).
func WireField(de int) bool {
	_, ok := wireKind[de]
	return ok
}

// WireOf turns a message into its wire fields.
func WireOf(m *iso.Message) Wire {
	w := Wire{MTI: m.MTI, Fields: map[int]string{}}
	set := func(de int, v string) {
		if v != "" {
			w.Fields[de] = v
		}
	}
	set(2, m.PAN)
	set(3, m.ProcessingCode)
	set(7, m.TransmissionTime)
	set(11, m.STAN)
	set(12, m.LocalTime)
	set(13, m.LocalDate)
	set(14, m.Expiry)
	set(22, m.EntryMode)
	set(23, m.CardSequence)
	set(32, m.Institution)
	set(37, m.RRN)
	set(38, m.AuthID)
	set(39, m.ResponseCode)
	set(41, m.TerminalID)
	set(42, m.CardAcceptor)
	set(54, m.AdditionalAmounts)
	set(55, strings.ToUpper(hex.EncodeToString(m.ICC)))
	set(61, string(m.Screen))
	set(62, string(m.Statement))
	set(63, string(m.Receipt))
	set(64, strings.ToUpper(hex.EncodeToString(m.MAC)))
	set(70, m.NetworkCode)
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
		switch wireKind[de] {
		case 2:
			fmt.Fprintf(&b, "%02d", len(v))
		case 3:
			fmt.Fprintf(&b, "%03d", len(v))
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
