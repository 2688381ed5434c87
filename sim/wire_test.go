package sim

import (
	"bytes"
	"testing"
	"time"

	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/sim/cards"
)

func sampleInquiry(t *testing.T) *iso.Message {
	t.Helper()
	ch, err := VirtualChip(cards.Demo().Find("4700123456789014"))
	if err != nil {
		t.Fatal(err)
	}
	u, err := ch.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return Inquiry(Terminal{Institution: "812", ID: "ATM81201", Acceptor: DefaultAcceptor}, Pension, u, "000005",
		time.Date(2026, 11, 24, 15, 30, 10, 0, time.UTC))
}

func TestWirePackMatchesEncode(t *testing.T) {
	m := sampleInquiry(t)
	want, err := iso.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if got := WireOf(m).Pack(); !bytes.Equal(got, want) {
		t.Errorf("Pack:\n%s\nEncode:\n%s", got, want)
	}
	key := []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10}
	signed, err := iso.EncodeMAC(m, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := WireOf(m).PackSigned(key, false)
	if err != nil || !bytes.Equal(got, signed) {
		t.Errorf("PackSigned = %s (%v), want %s", got, err, signed)
	}
	wrong, _ := WireOf(m).PackSigned(key, true)
	if iso.VerifyMAC(wrong, key) == nil || len(wrong) != len(signed) {
		t.Error("a wrong MAC verifies")
	}
	// A network message with DE70 after the bitmap's first half.
	n := NetworkRequest(SignOnCode, time.Date(2026, 11, 24, 15, 30, 0, 0, time.UTC))
	n.STAN, n.Institution = "000001", "700"
	want, _ = iso.Encode(n)
	if got := WireOf(n).Pack(); !bytes.Equal(got, want) {
		t.Errorf("0800 Pack %s, Encode %s", got, want)
	}
}

func TestWireTampered(t *testing.T) {
	m := sampleInquiry(t)
	w := WireOf(m)
	w.Fields[14] = "30X2"
	delete(w.Fields, 41)
	key := []byte("0123456789abcdef")
	b, err := w.PackSigned(key, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := iso.VerifyMAC(b, key); err != nil {
		t.Errorf("MAC of a tampered message does not verify: %v", err)
	}
	d, err := iso.Decode(b)
	if err == nil {
		t.Error("a letter in DE14 decodes cleanly")
	}
	if d.STAN != "000005" || d.TerminalID != "" {
		t.Errorf("decoded %+v", d)
	}
}
