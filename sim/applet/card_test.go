package applet

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func testCard() *Card {
	return &Card{
		PAN:      "4000123456789012",
		Expiry:   "2812",
		Sequence: 1,
		Key:      mustHex("0123456789ABCDEFFEDCBA9876543210"),
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

const (
	selectAID  = "00A4040008F0424C4941544D0100"
	readRecord = "00B2010C00"
	genACUN    = "80AE80000401020304"
)

func sw(resp []byte) uint16 {
	if len(resp) < 2 {
		return 0
	}
	return uint16(resp[len(resp)-2])<<8 | uint16(resp[len(resp)-1])
}

func TestProcessStatusWords(t *testing.T) {
	tests := []struct {
		name   string
		before []string // APDUs sent first
		apdu   string
		want   uint16
	}{
		{"too short", nil, "00A404", SWWrongLength},
		{"Lc larger than data", nil, "00A4040009F0424C4941544D01", SWWrongLength},
		{"extended length", nil, "00A40400000008F0424C4941544D01", SWWrongLength},
		{"select full AID", nil, selectAID, SWOK},
		{"select without Le", nil, "00A4040008F0424C4941544D01", SWOK},
		{"select by RID (partial)", nil, "00A4040005F0424C494100", SWOK},
		{"select too short a prefix", nil, "00A4040004F0424C4900", SWFileNotFound},
		{"select another application", nil, "00A4040007A000000003101000", SWFileNotFound},
		{"select AID with trailing byte", nil, "00A4040009F0424C4941544D010200", SWFileNotFound},
		{"select by file id", nil, "00A4000C023F00", SWWrongP1P2},
		{"select next occurrence", nil, "00A4040208F0424C4941544D0100", SWWrongP1P2},
		{"select with CLA 80", nil, "80A4040008F0424C4941544D0100", SWCLANotSupported},
		{"read record before select", nil, readRecord, SWConditionsNotSatisfied},
		{"generate AC before select", nil, genACUN + "00", SWConditionsNotSatisfied},
		{"read record", []string{selectAID}, readRecord, SWOK},
		{"read record without Le", []string{selectAID}, "00B2010C", SWOK},
		{"read record 2", []string{selectAID}, "00B2020C00", SWRecordNotFound},
		{"read record of SFI 2", []string{selectAID}, "00B2011400", SWFileNotFound},
		{"read current record", []string{selectAID}, "00B2000C00", SWWrongP1P2},
		{"read record by other reference", []string{selectAID}, "00B2010800", SWWrongP1P2},
		{"read record with data", []string{selectAID}, "00B2010C0100", SWWrongLength},
		{"read record with CLA 80", []string{selectAID}, "80B2010C00", SWCLANotSupported},
		{"read record with short Le", []string{selectAID}, "00B2010C05", 0x6C1B},
		{"generate ARQC", []string{selectAID}, genACUN + "00", SWOK},
		{"generate AC without Le", []string{selectAID}, genACUN, SWOK},
		{"generate TC", []string{selectAID}, "80AE40000401020304", SWOK},
		{"generate AAC", []string{selectAID}, "80AE00000401020304", SWOK},
		{"generate AC with RFU type", []string{selectAID}, "80AEC0000401020304", SWWrongP1P2},
		{"generate AC with CDA", []string{selectAID}, "80AE90000401020304", SWWrongP1P2},
		{"generate AC with P2", []string{selectAID}, "80AE80010401020304", SWWrongP1P2},
		{"generate AC with short UN", []string{selectAID}, "80AE800003010203", SWWrongLength},
		{"generate AC with long UN", []string{selectAID}, "80AE8000050102030405", SWWrongLength},
		{"generate AC with CLA 00", []string{selectAID}, "00AE80000401020304", SWCLANotSupported},
		{"generate AC with short Le", []string{selectAID}, genACUN + "02", 0x6C16},
		{"get data", []string{selectAID}, "80CA9F3600", SWINSNotSupported},
		{"get processing options", []string{selectAID}, "80A80000028300", SWINSNotSupported},
		{"unknown CLA and INS", nil, "A0120000", SWCLANotSupported},
		{"failed select keeps the selection", []string{selectAID, "00A4040007A000000003101000"}, readRecord, SWOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testCard()
			for _, b := range tc.before {
				c.Process(mustHex(b))
			}
			resp := c.Process(mustHex(tc.apdu))
			if got := sw(resp); got != tc.want {
				t.Fatalf("%s: SW %04X, want %04X (response %X)", tc.apdu, got, tc.want, resp)
			}
			if tc.want != SWOK && len(resp) != 2 {
				t.Fatalf("error response carries data: %X", resp)
			}
		})
	}
}

func TestSelectAnswersFCI(t *testing.T) {
	c := testCard()
	resp := c.Process(mustHex(selectAID))
	want := mustHex("6F15" + "8408F0424C4941544D01" + "A509" + "5007" + hex.EncodeToString([]byte("BLI ATM")) + "9000")
	if !bytes.Equal(resp, want) {
		t.Fatalf("SELECT answered %X, want %X", resp, want)
	}
	if !bytes.Equal(AID(), mustHex("F0424C4941544D01")) {
		t.Fatalf("AID() = %X", AID())
	}
	a := AID()
	a[0] = 0
	if AID()[0] != 0xF0 {
		t.Fatal("AID() shares its bytes with the applet")
	}
}

func TestReadRecordTemplate(t *testing.T) {
	tests := []struct {
		name string
		card Card
		want string
	}{
		{"16 digits", Card{PAN: "4000123456789012", Expiry: "2812", Sequence: 1},
			"70195A0840001234567890125F24032812315F3401018C039F3704"},
		{"19 digits, F-padded", Card{PAN: "6214850012345678901", Expiry: "2802", Sequence: 12},
			"701B5A0A6214850012345678901F5F24032802295F3401128C039F3704"},
		{"February of a common year", Card{PAN: "62148500123456789", Expiry: "2702", Sequence: 0},
			"701A5A0962148500123456789F5F24032702285F3401008C039F3704"},
		{"April", Card{PAN: "12345678", Expiry: "3004", Sequence: 99},
			"70155A04123456785F24033004305F3401998C039F3704"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.card
			c.Process(mustHex(selectAID))
			resp := c.Process(mustHex(readRecord))
			want := mustHex(tc.want + "9000")
			if !bytes.Equal(resp, want) {
				t.Fatalf("READ RECORD answered\n%X, want\n%X", resp, want)
			}
		})
	}
}

func TestBadPersonalisation(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Card)
		apdu string
	}{
		{"PAN with a letter", func(c *Card) { c.PAN = "40001234567890AB" }, readRecord},
		{"PAN too short", func(c *Card) { c.PAN = "1234567" }, readRecord},
		{"PAN too long", func(c *Card) { c.PAN = "12345678901234567890" }, readRecord},
		{"month 13", func(c *Card) { c.Expiry = "2813" }, readRecord},
		{"month 00", func(c *Card) { c.Expiry = "2800" }, readRecord},
		{"expiry YYYYMM", func(c *Card) { c.Expiry = "202812" }, readRecord},
		{"expiry with a letter", func(c *Card) { c.Expiry = "28A2" }, readRecord},
		{"sequence 100", func(c *Card) { c.Sequence = 100 }, readRecord},
		{"sequence -1", func(c *Card) { c.Sequence = -1 }, readRecord},
		{"8-byte key", func(c *Card) { c.Key = c.Key[:8] }, genACUN + "00"},
		{"no key", func(c *Card) { c.Key = nil }, genACUN + "00"},
		{"bad PAN at GENERATE AC", func(c *Card) { c.PAN = "not a pan" }, genACUN + "00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testCard()
			tc.mod(c)
			c.Process(mustHex(selectAID))
			resp := c.Process(mustHex(tc.apdu))
			if !bytes.Equal(resp, []byte{0x6F, 0x00}) {
				t.Fatalf("answered %X, want 6F00", resp)
			}
			if c.ATC != 0 {
				t.Fatalf("ATC moved to %d on a refused command", c.ATC)
			}
		})
	}
}

func TestGenerateACIncrementsATC(t *testing.T) {
	c := testCard()
	c.ATC = 41
	c.Process(mustHex(selectAID))
	un := [4]byte{1, 2, 3, 4}
	for want := uint16(42); want < 45; want++ {
		resp := c.Process(mustHex(genACUN + "00"))
		if sw(resp) != SWOK {
			t.Fatalf("SW %04X", sw(resp))
		}
		ac, err := Cryptogram(c.Key, want, un, c.PAN)
		if err != nil {
			t.Fatal(err)
		}
		wantResp := []byte{0x77, 0x14, 0x9F, 0x27, 0x01, 0x80, 0x9F, 0x36, 0x02, byte(want >> 8), byte(want), 0x9F, 0x26, 0x08}
		wantResp = append(append(wantResp, ac[:]...), 0x90, 0x00)
		if !bytes.Equal(resp, wantResp) {
			t.Fatalf("GENERATE AC answered\n%X, want\n%X", resp, wantResp)
		}
		if c.ATC != want {
			t.Fatalf("card ATC %d, want %d", c.ATC, want)
		}
	}
}

func TestGenerateACKinds(t *testing.T) {
	for _, tc := range []struct {
		p1      byte
		wantCID byte
	}{{0x80, 0x80}, {0x40, 0x80}, {0x00, 0x00}} {
		c := testCard()
		c.Process(mustHex(selectAID))
		resp := c.Process([]byte{0x80, 0xAE, tc.p1, 0x00, 0x04, 9, 9, 9, 9, 0x00})
		if sw(resp) != SWOK || len(resp) < 6 || resp[5] != tc.wantCID {
			t.Fatalf("P1 %02X: answered %X, want CID %02X", tc.p1, resp, tc.wantCID)
		}
	}
}

func TestATCExhausted(t *testing.T) {
	c := testCard()
	c.ATC = 0xFFFE
	c.Process(mustHex(selectAID))
	resp := c.Process(mustHex(genACUN + "00"))
	if sw(resp) != SWOK || c.ATC != 0xFFFF {
		t.Fatalf("last transaction: SW %04X, ATC %04X", sw(resp), c.ATC)
	}
	for range 2 {
		resp = c.Process(mustHex(genACUN + "00"))
		if !bytes.Equal(resp, []byte{0x69, 0x85}) {
			t.Fatalf("after FFFF: answered %X, want 6985", resp)
		}
		if c.ATC != 0xFFFF {
			t.Fatalf("ATC wrapped to %04X", c.ATC)
		}
	}
	// Reading the card still works.
	if resp = c.Process(mustHex(readRecord)); sw(resp) != SWOK {
		t.Fatalf("READ RECORD on an exhausted card: %04X", sw(resp))
	}
}

func TestResetDeselects(t *testing.T) {
	c := testCard()
	c.ATC = 7
	c.Process(mustHex(selectAID))
	c.Reset()
	if resp := c.Process(mustHex(readRecord)); sw(resp) != SWConditionsNotSatisfied {
		t.Fatalf("READ RECORD after reset: %X", resp)
	}
	if c.ATC != 7 {
		t.Fatalf("reset changed the ATC to %d", c.ATC)
	}
}

func TestProcessDoesNotKeepInput(t *testing.T) {
	c := testCard()
	apdu := mustHex(selectAID)
	resp := c.Process(apdu)
	for i := range apdu {
		apdu[i] = 0
	}
	if resp2 := c.Process(mustHex(readRecord)); sw(resp2) != SWOK || sw(resp) != SWOK {
		t.Fatalf("answers %X, %X", resp, resp2)
	}
}

func FuzzProcess(f *testing.F) {
	for _, s := range []string{selectAID, readRecord, genACUN + "00", genACUN + "02", "80AEC0000401020304", "00B2010C05", "00", "00A40400FF"} {
		f.Add(mustHex(s))
	}
	f.Fuzz(func(t *testing.T, apdu []byte) {
		c := testCard()
		c.Process(mustHex(selectAID))
		before := c.ATC
		resp := c.Process(apdu)
		if len(resp) < 2 {
			t.Fatalf("response %X has no status word", resp)
		}
		if c.ATC != before && c.ATC != before+1 {
			t.Fatalf("ATC moved from %d to %d", before, c.ATC)
		}
		if c.ATC == before+1 && sw(resp) != SWOK {
			t.Fatalf("ATC moved on a refused command (%04X)", sw(resp))
		}
	})
}
