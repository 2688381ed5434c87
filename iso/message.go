package iso

// Message is one partner-interface message, decoded. A field that is absent
// is the zero value (empty string or nil slice); Has reports presence where
// the zero value is ambiguous. Numeric fields are kept as the ASCII digits
// that travel (so leading zeros survive). Binary fields (DE55, DE64) hold the
// bytes (the hex digits on the wire are decoded). Big5 fields (DE61-63) hold
// the raw Big5 bytes (DE121 too).
type Message struct {
	MTI string // 4 ASCII digits

	PAN               string // DE2
	ProcessingCode    string // DE3
	TransmissionTime  string // DE7 MMDDhhmmss
	STAN              string // DE11
	LocalTime         string // DE12 hhmmss
	LocalDate         string // DE13 MMDD
	Expiry            string // DE14 YYMM
	EntryMode         string // DE22
	CardSequence      string // DE23
	Institution       string // DE32
	RRN               string // DE37
	AuthID            string // DE38
	ResponseCode      string // DE39
	TerminalID        string // DE41
	CardAcceptor      string // DE42
	AdditionalAmounts string // DE54
	ICC               []byte // DE55 (BER-TLV bytes)
	Screen            []byte // DE61 Big5
	Statement         []byte // DE62 Big5
	Receipt           []byte // DE63 Big5
	MAC               []byte // DE64, 8 bytes
	NetworkCode       string // DE70
	FileUpdateCode    string // DE91 (0302): 1 add, 2 replace, 3 delete
	FileName          string // DE101 (0302)
	ConsentData       string // DE120 (0302): the consent's fixed-layout data
	ConsentName       []byte // DE121 (0302) Big5: the name on the consent
	MAC2              []byte // DE128, 8 bytes: the MAC of a message with a secondary bitmap (0302, 0312)
}
