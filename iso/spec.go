package iso

import (
	"fmt"

	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/encoding"
	moovfield "github.com/moov-io/iso8583/field"
	"github.com/moov-io/iso8583/prefix"
)

// lenKind is how a field's length is carried.
type lenKind uint8

const (
	fixed  lenKind = iota // no prefix: always max characters
	llvar                 // 2 ASCII digits, then up to max characters
	lllvar                // 3 ASCII digits, then up to max characters
)

// prefixLen is the number of length digits before the field's content.
func (k lenKind) prefixLen() int {
	switch k {
	case llvar:
		return 2
	case lllvar:
		return 3
	}
	return 0
}

// class is what a field's characters may be.
type class uint8

const (
	classN    class = iota + 1 // ASCII digits (carried as text, validated here)
	classAN                    // letters, digits and space
	classANS                   // printable ASCII, 0x20-0x7E
	classHex                   // hex digits, two per byte; the Message holds the bytes
	classBig5                  // raw Big5 bytes, not validated; the length counts bytes
)

// format is one field of the partner interface (docs/interface.md, section 3). max
// counts characters on the wire: digits, hex digits or Big5 bytes.
type format struct {
	kind  lenKind
	max   int
	class class
	name  string
}

// logAs is how logs (LogFields, MarshalLogObject, String) show a field.
type logAs uint8

const (
	logNever  logAs = iota // not at all (DE14: the card expiry)
	logText                // its text
	logMasked              // its text through card.MaskPAN (DE2)
	logLen                 // its length only (personal data, bytes)
)

// field is one field of partner interface v1: its number, its format
// (contract section 3), its key in logs and how logs show it, and where a
// Message holds it: str for a text field (classes n, an, ans), bin for a
// byte field (classHex, classBig5); exactly one of them is set.
type field struct {
	n int
	format
	key string
	log logAs
	str func(*Message) *string
	bin func(*Message) *[]byte
}

// contract is the one field table of partner interface v1, in wire order:
// the codec (Encode, Decode, the MAC's walk), Field/Has/Clear, the log
// description and Spec all read it. A new Message field is one line here
// (TestFieldTable checks that every Message field has its line). Read only.
var contract = [...]field{
	{2, format{llvar, 19, classN, "primary account number"}, "pan", logMasked, func(m *Message) *string { return &m.PAN }, nil},
	{3, format{fixed, 6, classN, "processing code"}, "proc_code", logText, func(m *Message) *string { return &m.ProcessingCode }, nil},
	{7, format{fixed, 10, classN, "transmission date and time"}, "tx_time", logText, func(m *Message) *string { return &m.TransmissionTime }, nil},
	{11, format{fixed, 6, classN, "systems trace audit number"}, "stan", logText, func(m *Message) *string { return &m.STAN }, nil},
	{12, format{fixed, 6, classN, "local time"}, "local_time", logText, func(m *Message) *string { return &m.LocalTime }, nil},
	{13, format{fixed, 4, classN, "local date"}, "local_date", logText, func(m *Message) *string { return &m.LocalDate }, nil},
	{14, format{fixed, 4, classN, "card expiry"}, "", logNever, func(m *Message) *string { return &m.Expiry }, nil},
	{22, format{fixed, 3, classN, "POS entry mode"}, "entry_mode", logText, func(m *Message) *string { return &m.EntryMode }, nil},
	{23, format{fixed, 3, classN, "card sequence number"}, "card_seq", logText, func(m *Message) *string { return &m.CardSequence }, nil},
	{32, format{llvar, 11, classN, "acquiring institution code"}, "institution", logText, func(m *Message) *string { return &m.Institution }, nil},
	{37, format{fixed, 12, classAN, "retrieval reference number"}, "rrn", logText, func(m *Message) *string { return &m.RRN }, nil},
	{38, format{fixed, 6, classAN, "authorization id"}, "auth_id", logText, func(m *Message) *string { return &m.AuthID }, nil},
	{39, format{fixed, 2, classAN, "response code"}, "rc", logText, func(m *Message) *string { return &m.ResponseCode }, nil},
	{41, format{fixed, 8, classANS, "terminal id"}, "terminal", logText, func(m *Message) *string { return &m.TerminalID }, nil},
	{42, format{fixed, 15, classANS, "card acceptor id"}, "acceptor", logText, func(m *Message) *string { return &m.CardAcceptor }, nil},
	{54, format{lllvar, 120, classAN, "additional amounts"}, "amounts_len", logLen, func(m *Message) *string { return &m.AdditionalAmounts }, nil},
	{55, format{lllvar, 510, classHex, "ICC data"}, "icc_len", logLen, nil, func(m *Message) *[]byte { return &m.ICC }},
	{61, format{lllvar, 999, classBig5, "screen text"}, "screen_len", logLen, nil, func(m *Message) *[]byte { return &m.Screen }},
	{62, format{lllvar, 999, classBig5, "statement data"}, "statement_len", logLen, nil, func(m *Message) *[]byte { return &m.Statement }},
	{63, format{lllvar, 999, classBig5, "receipt text"}, "receipt_len", logLen, nil, func(m *Message) *[]byte { return &m.Receipt }},
	{64, format{fixed, 16, classHex, "MAC"}, "mac_len", logLen, nil, func(m *Message) *[]byte { return &m.MAC }},
	{70, format{fixed, 3, classN, "network management code"}, "net_code", logText, func(m *Message) *string { return &m.NetworkCode }, nil},
	// The 0302/0312 of a consent registered online (docs/interface.md,
	// section 11), exactly as iso87ascii packs them: DE91 IF_CHAR(1),
	// DE101 IFA_LLCHAR(17), DE120 and DE121 IFA_LLLCHAR(999) (DE121 holds
	// Big5 bytes, as DE61-63 do), DE128 IFA_BINARY(8) as 16 hex digits (as
	// DE64). DE120 holds a national ID and a birth date, DE121 a name:
	// logs show their lengths only.
	{91, format{fixed, 1, classANS, "file update code"}, "file_code", logText, func(m *Message) *string { return &m.FileUpdateCode }, nil},
	{101, format{llvar, 17, classANS, "file name"}, "file", logText, func(m *Message) *string { return &m.FileName }, nil},
	{120, format{lllvar, 999, classANS, "consent data"}, "consent_len", logLen, func(m *Message) *string { return &m.ConsentData }, nil},
	{121, format{lllvar, 999, classBig5, "consent name"}, "consent_name_len", logLen, nil, func(m *Message) *[]byte { return &m.ConsentName }},
	{128, format{fixed, 16, classHex, "MAC of a message with fields above 64"}, "mac2_len", logLen, nil, func(m *Message) *[]byte { return &m.MAC2 }},
}

// lookup is field n's line in the table, or nil for a field partner
// interface v1 does not carry.
func lookup(n int) *field {
	lo, hi := 0, len(contract)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		switch {
		case contract[mid].n == n:
			return &contract[mid]
		case contract[mid].n < n:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return nil
}

// wireLen is the number of characters f's content in m takes on the wire.
func (f *field) wireLen(m *Message) int {
	switch {
	case f.str != nil:
		return len(*f.str(m))
	case f.class == classHex:
		return 2 * len(*f.bin(m))
	}
	return len(*f.bin(m))
}

// format1987 is the ISO 8583:1987 ASCII layout of a field the partner
// interface does not carry, as jPOS's stock ISO87APackager (iso87ascii)
// packs it, binary fields as hex digits. It is used only to step over such
// a field, so that the fields after it (DE11, DE32, DE41...) are still
// recovered and the request can be answered 30 instead of not at all.
// One field differs on purpose: ok is false for field 65 (jPOS: one byte,
// "bitmap, extended": a tertiary bitmap, which the contract does not
// allow), so the fields after it are not read (interface.md section 3);
// and for numbers outside 2..128.
func format1987(n int) (kind lenKind, max int, ok bool) {
	switch {
	case n == 2:
		return llvar, 19, true
	case n == 32 || n == 33 || n == 99 || n == 100:
		return llvar, 11, true
	case n == 34:
		return llvar, 28, true
	case n == 35:
		return llvar, 37, true
	case n == 44:
		return llvar, 25, true
	case n == 45:
		return llvar, 76, true
	case n == 101:
		return llvar, 17, true
	case n == 102 || n == 103:
		return llvar, 28, true
	case n == 36:
		return lllvar, 104, true
	case n == 54:
		return lllvar, 120, true
	case n == 104:
		return lllvar, 100, true
	case (n >= 46 && n <= 48) || (n >= 55 && n <= 63) || (n >= 105 && n <= 127):
		return lllvar, 999, true
	case n == 52 || n == 64 || n == 128:
		return fixed, 16, true // b64 as hex digits
	case n == 96:
		return fixed, 32, true // IFA_BINARY(16) in jPOS: 16 bytes as hex digits
	case n == 65:
		return 0, 0, false
	}
	switch n {
	case 3, 11, 12, 73:
		return fixed, 6, true
	case 4, 5, 6, 82, 83, 84, 85:
		return fixed, 12, true
	case 7, 74, 75, 76, 77, 78, 79, 80, 81:
		return fixed, 10, true
	case 8, 9, 10:
		return fixed, 8, true
	case 13, 14, 15, 16, 17, 18, 71, 72:
		return fixed, 4, true
	case 19, 20, 21, 22, 23, 24, 40, 49, 50, 51, 68, 69, 70:
		return fixed, 3, true
	case 25, 26, 39, 67, 92:
		return fixed, 2, true
	case 27, 66, 91:
		return fixed, 1, true
	case 28, 29, 30, 31:
		return fixed, 9, true // x+n8
	case 37:
		return fixed, 12, true
	case 38:
		return fixed, 6, true
	case 41:
		return fixed, 8, true
	case 42:
		return fixed, 15, true
	case 43:
		return fixed, 40, true
	case 53, 86, 87, 88, 89:
		return fixed, 16, true
	case 90, 95:
		return fixed, 42, true
	case 93:
		return fixed, 6, true // IF_CHAR(6) in jPOS
	case 94:
		return fixed, 7, true
	case 97:
		return fixed, 17, true // x+n16
	case 98:
		return fixed, 25, true
	}
	return 0, 0, false
}

// Spec is partner interface v1 as a moov-io/iso8583 message spec: ISO
// 8583:1987 ASCII, a 4-digit MTI, bitmaps as 16 upper-case hex digits each
// (a secondary one only when a field above 64 is present), every numeric
// field as ASCII text (field.String: DE3 keeps its leading zeros, a 19-digit
// PAN does not overflow), DE55 and DE64 as text holding hex digits (the DE55
// prefix counts hex digits, as jPOS's IFA_LLLCHAR does), DE61-63 as raw Big5
// bytes whose prefix counts bytes.
//
// Each call builds a new spec: callers may change theirs. Encode and Decode
// implement the same layout directly (faster, with typed errors that never
// carry field values and recovery past a malformed field); the tests check
// that moov packs and unpacks every reference message exactly as they do.
// Field content rules moov does not express (digits only in n fields, hex
// digits in DE55/DE64) are checked by Encode and Decode, not by moov.
func Spec() *iso8583.MessageSpec {
	fields := map[int]moovfield.Field{
		0: moovfield.NewString(&moovfield.Spec{
			Length:      4,
			Description: "Message Type Indicator",
			Enc:         encoding.ASCII,
			Pref:        prefix.ASCII.Fixed,
		}),
		1: moovfield.NewBitmap(&moovfield.Spec{
			Length:      8,
			Description: "Bitmap",
			Enc:         encoding.BytesToASCIIHex,
			Pref:        prefix.Hex.Fixed,
		}),
	}
	for i := range contract {
		n, f := contract[i].n, contract[i].format
		var pref prefix.Prefixer
		switch f.kind {
		case fixed:
			pref = prefix.ASCII.Fixed
		case llvar:
			pref = prefix.ASCII.LL
		case lllvar:
			pref = prefix.ASCII.LLL
		}
		enc := encoding.Encoder(encoding.ASCII)
		if f.class == classBig5 {
			enc = encoding.Binary // Big5 bytes are above 0x7F: ASCII would refuse them
		}
		fields[n] = moovfield.NewString(&moovfield.Spec{
			Length:      f.max,
			Description: fmt.Sprintf("DE%d %s", n, f.name),
			Enc:         enc,
			Pref:        pref,
		})
	}
	return &iso8583.MessageSpec{Name: "atmgw partner interface v1 (ISO 8583:1987 ASCII)", Fields: fields}
}
