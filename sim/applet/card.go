package applet

import (
	"fmt"
	"time"
)

// aid is the applet's application identifier; see the package comment.
const aid = "\xF0BLIATM\x01"

// label is the application label (tag 50) in the FCI.
const label = "BLI ATM"

// The one record of the applet: SFI 1, record 1.
const (
	recordSFI    = 1
	recordNumber = 1
)

// minPartialAID is the shortest leading part of the AID that selects it (the
// RID).
const minPartialAID = 5

// Card is one chip card: its personalisation and its application transaction
// counter. Process changes ATC (and the card's selection state), so a Card is
// used by one goroutine at a time and must not be copied once in use.
type Card struct {
	PAN      string // the card number, 8 to 19 digits
	Expiry   string // YYMM
	Sequence int    // PAN sequence number, 0 to 99
	Key      []byte // 16 bytes: the DES key K1 || K2 of the cryptogram
	ATC      uint16 // application transaction counter of the last GENERATE AC (0: never used)

	selected bool // the applet is selected (a SELECT since the last reset)
}

// Reset is a cold or warm reset of the card (power off, power on, reset):
// the applet is no longer selected. The ATC is kept.
func (c *Card) Reset() { c.selected = false }

// Process executes one command APDU and returns the response: the response
// data followed by SW1 SW2. It never panics and does not keep apdu.
func (c *Card) Process(apdu []byte) []byte {
	cmd, sw := parseAPDU(apdu)
	if sw != SWOK {
		return statusOnly(sw)
	}
	switch cmd.ins {
	case 0xA4:
		if cmd.cla != 0x00 {
			return statusOnly(SWCLANotSupported)
		}
		return c.selectApp(cmd)
	case 0xB2:
		if cmd.cla != 0x00 {
			return statusOnly(SWCLANotSupported)
		}
		return c.readRecord(cmd)
	case 0xAE:
		if cmd.cla != 0x80 {
			return statusOnly(SWCLANotSupported)
		}
		return c.generateAC(cmd)
	}
	if cmd.cla != 0x00 && cmd.cla != 0x80 {
		return statusOnly(SWCLANotSupported)
	}
	return statusOnly(SWINSNotSupported)
}

func (c *Card) selectApp(cmd command) []byte {
	if cmd.p1 != 0x04 || cmd.p2 != 0x00 {
		// Only selection by DF name, first occurrence, FCI returned.
		return statusOnly(SWWrongP1P2)
	}
	name := cmd.data
	if len(name) < minPartialAID || len(name) > len(aid) || string(name) != aid[:len(name)] {
		// As ISO/IEC 7816-4 says, a failed selection leaves the current one.
		return statusOnly(SWFileNotFound)
	}
	c.selected = true
	prop := encodeTLV(nil, 0x50, []byte(label))
	fci := encodeTLV(nil, 0x84, []byte(aid))
	fci = encodeTLV(fci, 0xA5, prop)
	return respond(cmd, encodeTLV(nil, 0x6F, fci))
}

func (c *Card) readRecord(cmd command) []byte {
	if len(cmd.data) != 0 {
		return statusOnly(SWWrongLength)
	}
	if cmd.p2&0x07 != 0x04 || cmd.p1 == 0 {
		// Only "record number P1 of the file with SFI P2>>3".
		return statusOnly(SWWrongP1P2)
	}
	if !c.selected {
		return statusOnly(SWConditionsNotSatisfied)
	}
	if cmd.p2>>3 != recordSFI {
		return statusOnly(SWFileNotFound)
	}
	if cmd.p1 != recordNumber {
		return statusOnly(SWRecordNotFound)
	}
	rec, err := c.record()
	if err != nil {
		return statusOnly(SWNoPreciseDiagnosis)
	}
	return respond(cmd, rec)
}

// record is the record template of SFI 1 record 1.
func (c *Card) record() ([]byte, error) {
	pan, err := encodePAN(c.PAN)
	if err != nil {
		return nil, err
	}
	exp, err := encodeExpiry(c.Expiry)
	if err != nil {
		return nil, err
	}
	if c.Sequence < 0 || c.Sequence > 99 {
		return nil, fmt.Errorf("applet: PAN sequence number %d is not 0 to 99", c.Sequence)
	}
	seq := byte(c.Sequence/10<<4 | c.Sequence%10)
	var body []byte
	body = encodeTLV(body, 0x5A, pan)
	body = encodeTLV(body, 0x5F24, exp)
	body = encodeTLV(body, 0x5F34, []byte{seq})
	body = encodeTLV(body, 0x8C, []byte{0x9F, 0x37, 0x04}) // CDOL1: the unpredictable number
	return encodeTLV(nil, 0x70, body), nil
}

// GENERATE AC reference control parameter (P1), bits 8-7.
const (
	acTypeMask = 0xC0
	acAAC      = 0x00
	acTC       = 0x40
	acARQC     = 0x80
)

// cdol1Len is the length of the data GENERATE AC takes: the UN (9F37 04).
const cdol1Len = 4

func (c *Card) generateAC(cmd command) []byte {
	if cmd.p1&acTypeMask == acTypeMask || cmd.p1&^(acTypeMask) != 0 || cmd.p2 != 0 {
		// RFU cryptogram type, CDA or other bits requested, or P2 not 00.
		return statusOnly(SWWrongP1P2)
	}
	if len(cmd.data) != cdol1Len {
		return statusOnly(SWWrongLength)
	}
	if !c.selected || c.ATC == 0xFFFF {
		return statusOnly(SWConditionsNotSatisfied)
	}
	if len(c.Key) != KeyLen {
		return statusOnly(SWNoPreciseDiagnosis)
	}
	if _, err := encodePAN(c.PAN); err != nil {
		return statusOnly(SWNoPreciseDiagnosis)
	}
	var un [4]byte
	copy(un[:], cmd.data)
	cid := byte(acARQC) // an online-only card: a TC request is answered with an ARQC
	if cmd.p1&acTypeMask == acAAC {
		cid = acAAC
	}
	atc := c.ATC + 1
	ac, err := Cryptogram(c.Key, atc, un, c.PAN)
	if err != nil {
		return statusOnly(SWNoPreciseDiagnosis)
	}
	var body []byte
	body = encodeTLV(body, 0x9F27, []byte{cid})
	body = encodeTLV(body, 0x9F36, []byte{byte(atc >> 8), byte(atc)})
	body = encodeTLV(body, 0x9F26, ac[:])
	resp := respond(cmd, encodeTLV(nil, 0x77, body))
	if len(resp) > 2 {
		// The transaction took place (a 6Cxx for a short Le leaves the card as it was).
		c.ATC = atc
	}
	return resp
}

// respond returns data with 9000, or 6Cxx when the terminal asked for fewer
// bytes (Le) than there are, as a T=0 card does.
func respond(cmd command, data []byte) []byte {
	if cmd.hasLe && cmd.le < len(data) && len(data) <= 256 {
		return statusOnly(swWrongLeBase | uint16(len(data)&0xFF))
	}
	return withSW(data, SWOK)
}

// encodePAN packs the digits as BCD, padded with F to a whole byte.
func encodePAN(pan string) ([]byte, error) {
	if len(pan) < 8 || len(pan) > 19 {
		return nil, fmt.Errorf("applet: PAN has %d digits, want 8 to 19", len(pan))
	}
	out := make([]byte, (len(pan)+1)/2)
	for i := 0; i < len(pan); i++ {
		d := pan[i]
		if d < '0' || d > '9' {
			return nil, fmt.Errorf("applet: PAN has a non-digit at position %d", i+1)
		}
		if i%2 == 0 {
			out[i/2] = (d - '0') << 4
		} else {
			out[i/2] |= d - '0'
		}
	}
	if len(pan)%2 == 1 {
		out[len(out)-1] |= 0x0F
	}
	return out, nil
}

// encodeExpiry turns YYMM into the BCD YYMMDD of tag 5F24, DD being the
// last day of the month (as issuers personalise it).
func encodeExpiry(yymm string) ([]byte, error) {
	if len(yymm) != 4 {
		return nil, fmt.Errorf("applet: expiry %q is not YYMM", yymm)
	}
	for i := 0; i < 4; i++ {
		if yymm[i] < '0' || yymm[i] > '9' {
			return nil, fmt.Errorf("applet: expiry %q is not YYMM", yymm)
		}
	}
	yy := int(yymm[0]-'0')*10 + int(yymm[1]-'0')
	mm := int(yymm[2]-'0')*10 + int(yymm[3]-'0')
	if mm < 1 || mm > 12 {
		return nil, fmt.Errorf("applet: expiry %q has no month %d", yymm, mm)
	}
	dd := time.Date(2000+yy, time.Month(mm)+1, 0, 0, 0, 0, 0, time.UTC).Day()
	bcd := func(v int) byte { return byte(v/10<<4 | v%10) }
	return []byte{bcd(yy), bcd(mm), bcd(dd)}, nil
}
