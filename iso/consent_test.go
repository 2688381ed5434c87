package iso_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/moov-io/iso8583"

	"github.com/bli/atmgw/iso"
)

// consent0302 is an 0302 of a consent registered online (interface.md
// section 11): 王小明 in Big5.
func consent0302() *iso.Message {
	return &iso.Message{
		MTI: iso.MTIFileUpdate, PAN: "4700555555555555", TransmissionTime: "1124153020", STAN: "000007",
		Institution: "700", TerminalID: "CTR70001", FileUpdateCode: iso.FileAdd, FileName: iso.FileConsent,
		ConsentData: "A1234567890740615B1151124", ConsentName: []byte{0xA4, 0xFD, 0xA4, 0x70, 0xA9, 0xFA},
	}
}

// TestConsentRoundTrip: an 0302 and its 0312 encode and decode back to the
// same message, signed with DE128 (not DE64: the fields run past it) over
// every byte before it; moov-io/iso8583 with Spec() reads and packs them
// alike; logs never show DE120 (a national ID and a birth date) or DE121.
func TestConsentRoundTrip(t *testing.T) {
	key, _ := hex.DecodeString("0123456789ABCDEFFEDCBA9876543210")
	req := consent0302()
	resp := &iso.Message{MTI: iso.MTIFileUpdateResp, PAN: req.PAN, TransmissionTime: req.TransmissionTime, STAN: req.STAN,
		Institution: req.Institution, ResponseCode: iso.RCApproved, TerminalID: req.TerminalID,
		FileUpdateCode: req.FileUpdateCode, FileName: req.FileName}
	for _, m := range []*iso.Message{req, resp} {
		t.Run(m.MTI, func(t *testing.T) {
			raw, err := iso.Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			back, err := iso.Decode(raw)
			if err != nil || !reflect.DeepEqual(back, m) {
				t.Fatalf("decode: %v\n%#v\nwant\n%#v", err, back, m)
			}
			if raw[4] < '8' {
				t.Errorf("no secondary bitmap: %s", raw[:36])
			}
			signed, err := iso.EncodeMAC(m, key)
			if err != nil {
				t.Fatal(err)
			}
			if len(signed) != len(raw)+16 || signed[35] != '1' {
				t.Errorf("DE128 not set: %s", signed[:36])
			}
			if err := iso.VerifyMAC(signed, key); err != nil {
				t.Fatalf("verify: %v", err)
			}
			sm, err := iso.Decode(signed)
			if err != nil || len(sm.MAC2) != 8 || len(sm.MAC) != 0 {
				t.Fatalf("signed: %v, DE128 %x, DE64 %x", err, sm.MAC2, sm.MAC)
			}
			// Every byte before DE128 is covered: the last one of the field before it too.
			tampered := bytes.Clone(signed)
			tampered[len(tampered)-17] ^= 1
			if err := iso.VerifyMAC(tampered, key); !errors.Is(err, iso.ErrMACMismatch) {
				t.Errorf("tampered: %v", err)
			}
			checkMoovConsent(t, signed, sm)
			if s := sm.String(); strings.Contains(s, "A123456789") || strings.Contains(s, "0740615") || strings.Contains(s, req.PAN) {
				t.Errorf("the log shows personal data: %s", s)
			}
		})
	}
}

func checkMoovConsent(t *testing.T, raw []byte, m *iso.Message) {
	t.Helper()
	mm := iso8583.NewMessage(iso.Spec())
	if err := mm.Unpack(raw); err != nil {
		t.Fatalf("moov unpack: %v", err)
	}
	for n, f := range mm.GetFields() {
		if n < 2 {
			continue
		}
		v, _ := f.String()
		text, b, ok := m.Field(n)
		if b != nil && (n == 64 || n == 128 || n == 55) {
			text = strings.ToUpper(hex.EncodeToString(b))
		} else if b != nil {
			text = string(b)
		}
		if !ok || v != text {
			t.Errorf("DE%d: moov %q, ours %q", n, v, text)
		}
	}
	packed, err := mm.Pack()
	if err != nil || !bytes.Equal(packed, raw) {
		t.Errorf("moov packs %q (%v), want %q", packed, err, raw)
	}
}

// TestConsentFieldsOnlyIn0302: a field above 64 other than DE70 in an 0800
// or an 0200 still decodes (the gateway answers it 30), and a DE128 without
// the secondary bitmap's bit is no MAC.
func TestConsentFieldsOnlyIn0302(t *testing.T) {
	m := consent0302()
	m.MTI = "0200"
	raw, err := iso.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iso.Decode(raw); err != nil {
		t.Fatal(err)
	}
	if err := iso.VerifyMAC(raw, make([]byte, 16)); !errors.Is(err, iso.ErrNoMAC) {
		t.Errorf("no DE64, no DE128: %v", err)
	}
}
