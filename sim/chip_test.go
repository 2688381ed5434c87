package sim

import (
	"errors"
	"testing"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/sim/cards"
)

func TestVirtualChip(t *testing.T) {
	c := cards.Demo().Find("4700123456789014")
	c.ATC = 41
	ch, err := VirtualChip(c)
	if err != nil {
		t.Fatal(err)
	}
	if info := ch.Info(); info.PAN != c.PAN || info.Expiry != "3012" || info.Sequence != 1 {
		t.Fatalf("info %+v", info)
	}
	u, err := ch.GenerateWith([4]byte{0xDE, 0xAD, 0xBE, 0xEF})
	if err != nil {
		t.Fatal(err)
	}
	if u.ICC.ATC != 42 || ch.ATC() != 42 {
		t.Errorf("ATC %d / %d, want 42", u.ICC.ATC, ch.ATC())
	}
	icc, err := card.ParseICC(u.DE55, "001")
	if err != nil {
		t.Fatalf("DE55 does not parse: %v", err)
	}
	if icc != u.ICC || icc.CID != 0x80 || icc.Unpredictable != [4]byte{0xDE, 0xAD, 0xBE, 0xEF} {
		t.Errorf("parsed %+v, built %+v", icc, u.ICC)
	}
	// The cryptogram depends on the unpredictable number.
	u2, err := ch.GenerateWith([4]byte{1, 2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	if u2.ICC.ATC != 43 || u2.ICC.Cryptogram == u.ICC.Cryptogram {
		t.Errorf("second use %+v", u2.ICC)
	}
	if err := ch.Replay(); err != nil {
		t.Fatal(err)
	}
	u3, err := ch.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if u3.ICC.ATC != 43 {
		t.Errorf("replayed ATC %d, want 43 again", u3.ICC.ATC)
	}
}

func TestReplayNeverUsed(t *testing.T) {
	ch, err := VirtualChip(cards.Demo().Find("6005000000000011"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Replay(); !errors.Is(err, ErrNeverUsed) {
		t.Errorf("err = %v", err)
	}
}
