package demo_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/demo"
)

// decision is the response code the consent decisions (11-13) give for an
// answer, or 00.
func decision(inst string, a ledger.Answer, svc card.Service) string {
	err := card.Validate(inst, a.Consent, a.Person, svc)
	switch {
	case err == nil:
		return "00"
	case errors.Is(err, card.ErrNoConsent):
		return "14"
	case errors.Is(err, card.ErrRevoked), errors.Is(err, card.ErrServiceNotConsented):
		return "57"
	case errors.Is(err, card.ErrPersonMismatch):
		return "25"
	}
	return err.Error()
}

func TestDemoLedger(t *testing.T) {
	h, err := card.NewPANHasher([]byte("any key of sixteen bytes or more"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := demo.Open(h)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ask := func(inst, pan string, svc card.Service) ledger.Answer {
		a, err := m.Inquire(ctx, ledger.Query{Institution: inst, PANHash: h.Hash(pan), Service: svc})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	P, I := card.ServicePension, card.ServiceInsurance
	cases := []struct {
		inst, pan string
		svc       card.Service
		want      string
	}{
		{"700", "4700123456789014", P, "00"}, {"700", "4700123456789014", I, "00"},
		{"812", "4700123456789014", P, "00"}, {"812", "4700123456789014", I, "00"},
		{"005", "6005000000000011", P, "00"}, {"005", "6005000000000011", I, "57"},
		{"007", "6007000000000012", P, "00"}, {"007", "6007000000000012", I, "00"},
		{"012", "6012000000000013", P, "57"}, {"012", "6012000000000013", I, "57"},
		{"808", "6808000000000014", P, "00"}, {"808", "6808000000000014", I, "00"},
		{"700", "4700999999999999", P, "25"}, {"700", "4700999999999999", I, "25"},
		{"700", "4700888888888888", P, "25"}, {"700", "4700888888888888", I, "25"},
		{"700", "4700000000000000", P, "14"},
		{"005", "4700123456789014", P, "14"}, // a card is only good at its own institution
	}
	for _, c := range cases {
		if got := decision(c.inst, ask(c.inst, c.pan, c.svc), c.svc); got != c.want {
			t.Errorf("%s %s %v: %s, want %s", c.inst, card.MaskPAN(c.pan), c.svc, got, c.want)
		}
	}

	// The figures ledger/demo/README.md gives.
	a := ask("700", "4700123456789014", P).Pension
	if len(a.Rows) != 6 || a.Rows[0].EntryID != 1035 || a.Rows[5].EntryID != 1025 || a.Contributions != 106338 || a.Earnings != 42818 {
		t.Errorf("A123456789 pension: %+v", a)
	}
	if a.AsOf.Format("2006-01-02") != "2026-10-31" {
		t.Errorf("as of %v", a.AsOf)
	}
	in := ask("700", "4700123456789014", I).Insurance
	if y, d := in.Seniority(); in.SeniorityDays != 6909 || y != 18 || d != 339 || len(in.Rows) != 6 {
		t.Errorf("A123456789 insurance: %d days, %d rows", in.SeniorityDays, len(in.Rows))
	}
	f := ask("007", "6007000000000012", I).Insurance
	if f.SeniorityDays != 9660 {
		t.Errorf("F131234567 seniority %d, want 9660", f.SeniorityDays)
	}
	fp := ask("007", "6007000000000012", P).Pension
	if fp.Contributions != 144230 || fp.Earnings != 26514 {
		t.Errorf("F131234567 totals %d %d", fp.Contributions, fp.Earnings)
	}
	long := "財團法人中華民國台灣省私立某某社會福利慈善事業基金會附設托兒所"
	if fp.Rows[1].Unit != long {
		t.Errorf("the long unit name is not among F131234567's latest rows: %+v", fp.Rows[1])
	}
	e := ask("808", "6808000000000014", P)
	if e.Pension == nil || len(e.Pension.Rows) != 0 || e.Pension.Contributions != 0 {
		t.Errorf("C145678902: %+v", e.Pension)
	}
	b := ask("005", "6005000000000011", P).Pension
	if b.Contributions != 4494 || b.Earnings != 3120 || len(b.Rows) != 4 {
		t.Errorf("B223456781: %+v", b)
	}
}

// The simulator's demo cards must get the answers they expect from the
// demo ledger (those the consent decisions give: expiry, 54, is the
// gateway's and is skipped here).
func TestDemoMatchesSimulatorCards(t *testing.T) {
	raw, err := os.ReadFile("../../sim/cards/demo.json")
	if err != nil {
		t.Skipf("no simulator card file: %v", err)
	}
	var file struct {
		Cards []struct {
			PAN          string            `json:"pan"`
			Institutions []string          `json:"institutions"`
			Expect       map[string]string `json:"expect"`
		} `json:"cards"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	h, _ := card.NewPANHasher([]byte("0123456789abcdef0123456789abcdef"))
	m, err := demo.Open(h)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range file.Cards {
		for svcName, want := range c.Expect {
			if want == "54" {
				continue
			}
			svc := card.ServicePension
			if svcName == "insurance" {
				svc = card.ServiceInsurance
			}
			for _, inst := range c.Institutions {
				a, err := m.Inquire(context.Background(), ledger.Query{Institution: inst, PANHash: h.Hash(c.PAN), Service: svc})
				if err != nil {
					t.Fatal(err)
				}
				if got := decision(inst, a, svc); got != want {
					t.Errorf("card %s at %s, %s: %s, the simulator expects %s", card.MaskPAN(c.PAN), inst, svcName, got, want)
				}
				n++
			}
		}
	}
	if n == 0 {
		t.Errorf("no card checked")
	}
}
