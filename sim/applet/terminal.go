package applet

import (
	"errors"
	"fmt"
	"strings"
)

// Transport carries one command APDU to a card and brings its response
// (data and SW1 SW2) back.
type Transport interface {
	Transmit(apdu []byte) ([]byte, error)
}

// LocalTransport is a Transport that calls the card in process, for virtual
// cards. Like the Card, it is for one goroutine at a time.
func LocalTransport(c *Card) Transport { return localTransport{c: c} }

type localTransport struct{ c *Card }

func (t localTransport) Transmit(apdu []byte) ([]byte, error) {
	if t.c == nil {
		return nil, errors.New("applet: no card in the local transport")
	}
	return t.c.Process(apdu), nil
}

// Terminal is the terminal side of the applet: it selects the applet and
// reads or uses the card through its Transport.
type Terminal struct{ T Transport }

// Info is what the card's record says of it.
type Info struct {
	PAN      string
	Expiry   string // YYMM
	Sequence int    // from 5F34; 0 when the card has none
}

// AC is the answer to GENERATE AC.
type AC struct {
	Cryptogram [8]byte // 9F26
	CID        byte    // 9F27: 0x80 ARQC, 0x40 TC, 0x00 AAC
	ATC        uint16  // 9F36
}

// maxGetResponse bounds the 61xx / GET RESPONSE chain of one command.
const maxGetResponse = 16

// ReadCard selects the applet and reads its record (SFI 1, record 1).
func (t Terminal) ReadCard() (Info, error) {
	if err := t.selectApp(); err != nil {
		return Info{}, err
	}
	rec, err := t.exchange("READ RECORD", []byte{0x00, 0xB2, recordNumber, recordSFI<<3 | 0x04, 0x00})
	if err != nil {
		return Info{}, err
	}
	return parseRecord(rec)
}

// GenerateAC selects the applet (each transaction starts with a SELECT) and
// asks it for a first application cryptogram (an ARQC) over the
// unpredictable number.
func (t Terminal) GenerateAC(un [4]byte) (AC, error) {
	if err := t.selectApp(); err != nil {
		return AC{}, err
	}
	apdu := []byte{0x80, 0xAE, acARQC, 0x00, cdol1Len, un[0], un[1], un[2], un[3], 0x00}
	resp, err := t.exchange("GENERATE AC", apdu)
	if err != nil {
		return AC{}, err
	}
	return parseAC(resp)
}

func (t Terminal) selectApp() error {
	apdu := append([]byte{0x00, 0xA4, 0x04, 0x00, byte(len(aid))}, aid...)
	apdu = append(apdu, 0x00)
	fci, err := t.exchange("SELECT", apdu)
	if err != nil {
		return err
	}
	objs, err := parseTLV(fci)
	if err != nil {
		return fmt.Errorf("applet: SELECT: FCI: %w", err)
	}
	tmpl, ok := findTLV(objs, 0x6F)
	if !ok {
		return errors.New("applet: SELECT: no FCI template (6F) in the answer")
	}
	inner, err := parseTLV(tmpl)
	if err != nil {
		return fmt.Errorf("applet: SELECT: FCI: %w", err)
	}
	if name, ok := findTLV(inner, 0x84); ok && !strings.HasPrefix(string(name), aid[:minPartialAID]) {
		return fmt.Errorf("applet: SELECT: the card selected %X, not the applet", name)
	}
	return nil
}

// exchange sends a command and returns its response data, following 61xx
// (GET RESPONSE) and 6Cxx (the same command with the right Le) as a T=0
// reader may leave them to the terminal. Any final status but 9000 is a
// *StatusError.
func (t Terminal) exchange(name string, apdu []byte) ([]byte, error) {
	if t.T == nil {
		return nil, errors.New("applet: terminal has no transport")
	}
	resp, err := t.transmit(name, apdu)
	if err != nil {
		return nil, err
	}
	sw := resp.sw()
	if sw&0xFF00 == swWrongLeBase {
		retry := append([]byte(nil), apdu...)
		if c, st := parseAPDU(apdu); st == SWOK && c.hasLe {
			retry[len(retry)-1] = byte(sw)
		} else {
			retry = append(retry, byte(sw))
		}
		if resp, err = t.transmit(name, retry); err != nil {
			return nil, err
		}
		sw = resp.sw()
	}
	data := append([]byte(nil), resp.data()...)
	for i := 0; sw&0xFF00 == swMoreDataBase; i++ {
		if i == maxGetResponse {
			return nil, fmt.Errorf("applet: %s: more than %d GET RESPONSE", name, maxGetResponse)
		}
		if resp, err = t.transmit(name, []byte{0x00, 0xC0, 0x00, 0x00, byte(sw)}); err != nil {
			return nil, err
		}
		sw = resp.sw()
		data = append(data, resp.data()...)
	}
	if sw != SWOK {
		return nil, &StatusError{Command: name, SW: sw}
	}
	return data, nil
}

type response []byte

func (r response) sw() uint16   { return uint16(r[len(r)-2])<<8 | uint16(r[len(r)-1]) }
func (r response) data() []byte { return r[:len(r)-2] }

func (t Terminal) transmit(name string, apdu []byte) (response, error) {
	resp, err := t.T.Transmit(apdu)
	if err != nil {
		return nil, fmt.Errorf("applet: %s: %w", name, err)
	}
	if len(resp) < 2 {
		return nil, fmt.Errorf("applet: %s: response of %d bytes has no status word", name, len(resp))
	}
	return response(resp), nil
}

func parseRecord(rec []byte) (Info, error) {
	objs, err := parseTLV(rec)
	if err != nil {
		return Info{}, fmt.Errorf("applet: READ RECORD: %w", err)
	}
	tmpl, ok := findTLV(objs, 0x70)
	if !ok {
		return Info{}, errors.New("applet: READ RECORD: no record template (70)")
	}
	if objs, err = parseTLV(tmpl); err != nil {
		return Info{}, fmt.Errorf("applet: READ RECORD: record template: %w", err)
	}
	var info Info
	pan, ok := findTLV(objs, 0x5A)
	if !ok {
		return Info{}, errors.New("applet: READ RECORD: no PAN (5A)")
	}
	if info.PAN, err = decodePAN(pan); err != nil {
		return Info{}, err
	}
	exp, ok := findTLV(objs, 0x5F24)
	if !ok {
		return Info{}, errors.New("applet: READ RECORD: no expiry date (5F24)")
	}
	digits, ok := bcdDigits(exp)
	if !ok || len(exp) != 3 {
		return Info{}, fmt.Errorf("applet: READ RECORD: expiry date (5F24) %X is not YYMMDD", exp)
	}
	info.Expiry = digits[:4]
	if seq, ok := findTLV(objs, 0x5F34); ok {
		d, ok := bcdDigits(seq)
		if !ok || len(seq) != 1 {
			return Info{}, fmt.Errorf("applet: READ RECORD: PAN sequence number (5F34) %X is not BCD", seq)
		}
		info.Sequence = int(d[0]-'0')*10 + int(d[1]-'0')
	}
	return info, nil
}

// decodePAN unpacks BCD digits with F padding at the end only.
func decodePAN(b []byte) (string, error) {
	out := make([]byte, 0, 2*len(b))
	padded := false
	for _, x := range b {
		for _, n := range [2]byte{x >> 4, x & 0x0F} {
			switch {
			case n == 0x0F:
				padded = true
			case n <= 9 && !padded:
				out = append(out, '0'+n)
			default:
				return "", errors.New("applet: READ RECORD: PAN (5A) is not BCD digits with F padding")
			}
		}
	}
	if len(out) < 8 || len(out) > 19 {
		return "", fmt.Errorf("applet: READ RECORD: PAN (5A) has %d digits", len(out))
	}
	return string(out), nil
}

func bcdDigits(b []byte) (string, bool) {
	out := make([]byte, 0, 2*len(b))
	for _, x := range b {
		hi, lo := x>>4, x&0x0F
		if hi > 9 || lo > 9 {
			return "", false
		}
		out = append(out, '0'+hi, '0'+lo)
	}
	return string(out), true
}

func parseAC(resp []byte) (AC, error) {
	objs, err := parseTLV(resp)
	if err != nil {
		return AC{}, fmt.Errorf("applet: GENERATE AC: %w", err)
	}
	var ac AC
	if f1, ok := findTLV(objs, 0x80); ok { // format 1: CID, ATC, AC, [IAD]
		if len(f1) < 11 {
			return AC{}, fmt.Errorf("applet: GENERATE AC: format 1 answer of %d bytes", len(f1))
		}
		ac.CID = f1[0]
		ac.ATC = uint16(f1[1])<<8 | uint16(f1[2])
		copy(ac.Cryptogram[:], f1[3:11])
		return ac, nil
	}
	tmpl, ok := findTLV(objs, 0x77)
	if !ok {
		return AC{}, errors.New("applet: GENERATE AC: no response template (77 or 80)")
	}
	if objs, err = parseTLV(tmpl); err != nil {
		return AC{}, fmt.Errorf("applet: GENERATE AC: response template: %w", err)
	}
	cid, ok1 := findTLV(objs, 0x9F27)
	atc, ok2 := findTLV(objs, 0x9F36)
	cryp, ok3 := findTLV(objs, 0x9F26)
	if !ok1 || !ok2 || !ok3 || len(cid) != 1 || len(atc) != 2 || len(cryp) != 8 {
		return AC{}, errors.New("applet: GENERATE AC: the answer lacks a well-formed 9F27, 9F36 or 9F26")
	}
	ac.CID = cid[0]
	ac.ATC = uint16(atc[0])<<8 | uint16(atc[1])
	copy(ac.Cryptogram[:], cryp)
	return ac, nil
}
