package applet

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestTerminalRoundTrip(t *testing.T) {
	c := &Card{PAN: "6214850012345678901", Expiry: "2802", Sequence: 3, Key: mustHex("00112233445566778899AABBCCDDEEFF"), ATC: 9}
	term := Terminal{T: LocalTransport(c)}
	info, err := term.ReadCard()
	if err != nil {
		t.Fatal(err)
	}
	if want := (Info{PAN: c.PAN, Expiry: "2802", Sequence: 3}); info != want {
		t.Fatalf("ReadCard = %+v, want %+v", info, want)
	}
	seen := map[[8]byte]bool{}
	for i, un := range [][4]byte{{1, 2, 3, 4}, {1, 2, 3, 4}, {0xFF, 0, 0, 0xFF}} {
		ac, err := term.GenerateAC(un)
		if err != nil {
			t.Fatal(err)
		}
		wantATC := uint16(10 + i)
		if ac.ATC != wantATC || ac.CID != 0x80 {
			t.Fatalf("AC %d: ATC %d CID %02X, want ATC %d CID 80", i, ac.ATC, ac.CID, wantATC)
		}
		want, err := Cryptogram(c.Key, wantATC, un, c.PAN)
		if err != nil {
			t.Fatal(err)
		}
		if ac.Cryptogram != want {
			t.Fatalf("AC %d: cryptogram %X, want %X", i, ac.Cryptogram, want)
		}
		if seen[ac.Cryptogram] {
			t.Fatalf("AC %d repeats a cryptogram", i)
		}
		seen[ac.Cryptogram] = true
	}
	if c.ATC != 12 {
		t.Fatalf("card ATC %d, want 12", c.ATC)
	}
}

func TestTerminalExhaustedCard(t *testing.T) {
	c := testCard()
	c.ATC = 0xFFFF
	_, err := Terminal{T: LocalTransport(c)}.GenerateAC([4]byte{})
	var se *StatusError
	if !errors.As(err, &se) || se.SW != SWConditionsNotSatisfied || se.Command != "GENERATE AC" {
		t.Fatalf("err = %v, want a 6985 StatusError of GENERATE AC", err)
	}
	if !strings.Contains(err.Error(), "6985") {
		t.Fatalf("error %q does not name the status word", err)
	}
}

func TestTerminalWithoutCard(t *testing.T) {
	if _, err := (Terminal{}).ReadCard(); err == nil {
		t.Fatal("a terminal without transport read a card")
	}
	if _, err := (Terminal{T: LocalTransport(nil)}).GenerateAC([4]byte{}); err == nil {
		t.Fatal("a local transport without card answered")
	}
}

// scripted answers each INS with a fixed response, and counts the commands.
type scripted struct {
	answers map[byte]string
	err     error
	sent    [][]byte
}

func (s *scripted) Transmit(apdu []byte) ([]byte, error) {
	s.sent = append(s.sent, append([]byte(nil), apdu...))
	if s.err != nil {
		return nil, s.err
	}
	return mustHex(s.answers[apdu[1]]), nil
}

const okFCI = "6F0A8408F0424C4941544D019000"

func TestTerminalRefusesMalformedAnswers(t *testing.T) {
	tests := []struct {
		name    string
		answers map[byte]string
		gen     bool // GenerateAC rather than ReadCard
	}{
		{"no status word", map[byte]string{0xA4: "90"}, false},
		{"select not found", map[byte]string{0xA4: "6A82"}, false},
		{"FCI not a template", map[byte]string{0xA4: "84029000" + "9000"}, false},
		{"FCI truncated", map[byte]string{0xA4: "6F0A84089000"}, false},
		{"another application selected", map[byte]string{0xA4: "6F098407A00000000310109000"}, false},
		{"record not a template", map[byte]string{0xA4: okFCI, 0xB2: "5A0840001234567890129000"}, false},
		{"record without PAN", map[byte]string{0xA4: okFCI, 0xB2: "70065F24032812319000"}, false},
		{"record without expiry", map[byte]string{0xA4: okFCI, 0xB2: "700A5A0840001234567890129000"}, false},
		{"PAN with F inside", map[byte]string{0xA4: okFCI, 0xB2: "70105A084000F234567890125F24032812319000"}, false},
		{"PAN too short", map[byte]string{0xA4: okFCI, 0xB2: "700B5A0312345F5F24032812319000"}, false},
		{"expiry not BCD", map[byte]string{0xA4: okFCI, 0xB2: "70105A0840001234567890125F2403281A319000"}, false},
		{"expiry of two bytes", map[byte]string{0xA4: okFCI, 0xB2: "700F5A0840001234567890125F240228129000"}, false},
		{"sequence not BCD", map[byte]string{0xA4: okFCI, 0xB2: "70145A0840001234567890125F24032812315F34010A9000"}, false},
		{"AC without template", map[byte]string{0xA4: okFCI, 0xAE: "9F2701809000"}, true},
		{"AC without cryptogram", map[byte]string{0xA4: okFCI, 0xAE: "77099F2701809F360200019000"}, true},
		{"AC with short cryptogram", map[byte]string{0xA4: okFCI, 0xAE: "770E9F2701809F360200019F2603AABBCC9000"}, true},
		{"AC format 1 too short", map[byte]string{0xA4: okFCI, 0xAE: "80038000019000"}, true},
		{"AC refused", map[byte]string{0xA4: okFCI, 0xAE: "6985"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			term := Terminal{T: &scripted{answers: tc.answers}}
			var err error
			if tc.gen {
				_, err = term.GenerateAC([4]byte{})
			} else {
				_, err = term.ReadCard()
			}
			if err == nil {
				t.Fatal("a malformed answer was taken")
			}
			if strings.Contains(err.Error(), "4000123456789012") {
				t.Fatalf("error shows the PAN: %v", err)
			}
		})
	}
}

func TestTerminalFormat1AndNoSequence(t *testing.T) {
	s := &scripted{answers: map[byte]string{
		0xA4: okFCI,
		0xB2: "70105A0840001234567890125F24032812319000",
		0xAE: "800B400102A1A2A3A4A5A6A7A89000",
	}}
	term := Terminal{T: s}
	info, err := term.ReadCard()
	if err != nil {
		t.Fatal(err)
	}
	if info != (Info{PAN: "4000123456789012", Expiry: "2812"}) {
		t.Fatalf("ReadCard = %+v", info)
	}
	ac, err := term.GenerateAC([4]byte{5, 6, 7, 8})
	if err != nil {
		t.Fatal(err)
	}
	if ac.CID != 0x40 || ac.ATC != 0x0102 || ac.Cryptogram != [8]byte{0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8} {
		t.Fatalf("AC = %+v", ac)
	}
	last := s.sent[len(s.sent)-1]
	if want := mustHex("80AE80000405060708" + "00"); !bytes.Equal(last, want) {
		t.Fatalf("GENERATE AC sent as %X, want %X", last, want)
	}
}

func TestTerminalTransportError(t *testing.T) {
	boom := errors.New("reader unplugged")
	_, err := Terminal{T: &scripted{err: boom}}.ReadCard()
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want it to wrap the transport's", err)
	}
}

// t0Reader leaves T=0 procedure bytes to the terminal, as some readers do:
// a response with data comes as 61xx, to be fetched with GET RESPONSE in
// pieces of at most 16 bytes; a command whose Le is 00 is first refused with
// 6Cxx (checked on a copy of the card, so that the real one runs once).
type t0Reader struct {
	c       *Card
	pending []byte
	sent    int
}

func (r *t0Reader) Transmit(apdu []byte) ([]byte, error) {
	r.sent++
	if apdu[1] == 0xC0 {
		n := min(int(apdu[4]), len(r.pending), 16)
		out := append([]byte(nil), r.pending[:n]...)
		r.pending = r.pending[n:]
		if len(r.pending) > 0 {
			return append(out, 0x61, byte(len(r.pending))), nil
		}
		return append(out, 0x90, 0x00), nil
	}
	if apdu[len(apdu)-1] == 0x00 && len(apdu) > 4 {
		probe := *r.c
		if resp := probe.Process(apdu); len(resp) > 2 {
			return []byte{0x6C, byte(len(resp) - 2)}, nil
		}
	}
	resp := r.c.Process(apdu)
	if len(resp) == 2 {
		return resp, nil
	}
	r.pending = resp[:len(resp)-2]
	return []byte{0x61, byte(len(r.pending))}, nil
}

func TestTerminalT0ProcedureBytes(t *testing.T) {
	c := testCard()
	r := &t0Reader{c: c}
	term := Terminal{T: r}
	info, err := term.ReadCard()
	if err != nil {
		t.Fatal(err)
	}
	if info.PAN != c.PAN || info.Expiry != c.Expiry || info.Sequence != c.Sequence {
		t.Fatalf("ReadCard = %+v", info)
	}
	ac, err := term.GenerateAC([4]byte{1, 1, 1, 1})
	if err != nil {
		t.Fatal(err)
	}
	if ac.ATC != 1 || c.ATC != 1 {
		t.Fatalf("ATC %d on the AC, %d on the card, want 1 and 1", ac.ATC, c.ATC)
	}
	if r.sent <= 4 {
		t.Fatalf("only %d commands: the 6Cxx and 61xx paths were not taken", r.sent)
	}
}
