package postgres_test

import (
	"testing"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/loadfile"
	"github.com/bli/atmgw/ledger/storetest"
)

// TestConsentReconciliation: an online registration and a later export of
// the core ledger (atmgw load) are reconciled by signed date: the later
// wins; on the same date the online record stays; an exported record is
// replaced by the next export as before.
func TestConsentReconciliation(t *testing.T) {
	ctx := ctxT(t)
	st := migrated(t)
	h := storetest.Hasher()
	l := storetest.Hand()
	load(t, st, l.Files(), h)
	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	wang := card.Consent{NationalID: "A100000001", Name: "王小明", BirthDate: day("1985-06-15"), Pension: true, Insurance: true}
	register := func(a ledger.ConsentAction, inst, pan, signed string) {
		t.Helper()
		c := wang
		c.Institution, c.SignedDate = inst, day(signed)
		r, err := st.Register(ctx, ledger.ConsentUpdate{Action: a, PANHash: h.Hash(pan), Consent: c})
		if err != nil || r != ledger.ConsentStored {
			t.Fatalf("Register(%v, %s): %v %v", a, inst, r, err)
		}
	}
	// Online, on 2026-11-20: three cards revoked, one new card added.
	register(ledger.ConsentRevoke, "700", "4000000000000001", "2026-11-20") // the export will still say active, signed 2026-01-05
	register(ledger.ConsentRevoke, "007", "4000000000000003", "2026-11-20") // the export will say active, signed the same day
	register(ledger.ConsentRevoke, "808", "4000000000000007", "2026-11-20") // the export will say active, signed later
	register(ledger.ConsentAdd, "005", "4000000000000009", "2026-11-20")    // not in the export at all

	// The next export: taken 2026-11-30.
	next := storetest.Hand()
	next.AsOf = "2026-11-30"
	for i := range next.Consents {
		c := &next.Consents[i]
		switch c.Inst + c.PAN {
		case "0074000000000000003":
			c.Signed = "2026-11-20"
		case "8084000 0000 0000 0007":
			c.Signed = "2026-11-25"
		case "0054000000000000002":
			c.Name = "陳美麗" // the core ledger corrects its own row: the export wins as before
		}
	}
	rep := load(t, st, next.Files(), h)
	if len(rep.Errors) > 0 {
		t.Fatalf("refused rows: %v", rep.Errors)
	}
	if got := rep.File(loadfile.FileConsents).Changed; got != 2 {
		t.Errorf("consents changed by the export: %d, want 2 (808 signed later, 005 exported)", got)
	}
	consent := func(inst, pan string) (*card.Consent, string) {
		t.Helper()
		a, err := st.Inquire(ctx, ledger.Query{Institution: inst, PANHash: h.Hash(pan), Service: card.ServicePension})
		if err != nil || a.Consent == nil {
			t.Fatalf("inquire %s: %v %+v", inst, err, a)
		}
		var source string
		if err := st.Pool().QueryRow(ctx, "SELECT source FROM consents WHERE institution = $1 AND pan_hash = $2",
			inst, h.Hash(pan)).Scan(&source); err != nil {
			t.Fatal(err)
		}
		return a.Consent, source
	}
	for _, c := range []struct {
		inst, pan string
		revoked   bool
		signed    string
		source    string
		why       string
	}{
		{"700", "4000000000000001", true, "2026-11-20", "online", "the export's row was signed before the revocation"},
		{"007", "4000000000000003", true, "2026-11-20", "online", "same date: the online record stays"},
		{"808", "4000 0000 0000 0007", false, "2026-11-25", "export", "the export's row was signed after the revocation"},
		{"005", "4000000000000009", false, "2026-11-20", "online", "a card the export does not name stays"},
	} {
		got, source := consent(c.inst, c.pan)
		if got.Revoked != c.revoked || !got.SignedDate.Equal(day(c.signed)) || source != c.source {
			t.Errorf("%s: revoked %v signed %s source %s, want %v %s %s (%s)", c.inst, got.Revoked,
				got.SignedDate.Format(time.DateOnly), source, c.revoked, c.signed, c.source, c.why)
		}
	}
	if got, _ := consent("005", "4000000000000002"); got.Name != "陳美麗" {
		t.Errorf("an exported record not replaced by the next export: %q", got.Name)
	}
	// Loading the same export again changes nothing.
	if rep := load(t, st, next.Files(), h); rep.File(loadfile.FileConsents).Changed != 0 {
		t.Errorf("second load changed %d consents", rep.File(loadfile.FileConsents).Changed)
	}
	// An online registration after the load replaces the exported record
	// of the same date (the later arrival).
	register(ledger.ConsentRevoke, "808", "4000 0000 0000 0007", "2026-11-25")
	if got, source := consent("808", "4000 0000 0000 0007"); !got.Revoked || source != "online" {
		t.Errorf("online revoke of the export's date: revoked %v source %s", got.Revoked, source)
	}
}
