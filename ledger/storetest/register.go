package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
)

// runRegister checks online registrations (ledger.ConsentRegistry, which
// every store implements) on the hand-written ledger: each result of
// ledger.ResolveRegistration, and that the next inquiry sees what was
// stored. It changes the store: run it last.
func runRegister(t *testing.T, s ledger.Store, h *card.PANHasher) {
	reg, ok := s.(ledger.ConsentRegistry)
	if !ok {
		t.Fatalf("%T does not take online registrations (ledger.ConsentRegistry)", s)
	}
	day := func(s string) time.Time { return mustDate(s) }
	register := func(t *testing.T, a ledger.ConsentAction, inst, pan string, c card.Consent) ledger.ConsentResult {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c.Institution = inst
		r, err := reg.Register(ctx, ledger.ConsentUpdate{Action: a, PANHash: h.Hash(pan), Consent: c})
		if err != nil {
			t.Fatalf("Register(%v, %s, %s): %v", a, inst, card.MaskPAN(pan), err)
		}
		return r
	}
	want := func(t *testing.T, got, want ledger.ConsentResult) {
		t.Helper()
		if got != want {
			t.Errorf("result %v, want %v", got, want)
		}
	}
	chen := card.Consent{NationalID: "B200000002", Name: "陳美玲", BirthDate: day("1990-02-28"), Pension: true, SignedDate: day("2026-11-20")}

	t.Run("add of a new card is stored and the next inquiry sees it", func(t *testing.T) {
		want(t, register(t, ledger.ConsentAdd, "700", "4000000000000101", chen), ledger.ConsentStored)
		a := inquire(t, s, h, "700", "4000000000000101", pension)
		if err := card.Validate("700", a.Consent, a.Person, pension); err != nil {
			t.Fatalf("inquiry after the add: %v", err)
		}
		if !a.Consent.SignedDate.Equal(day("2026-11-20")) || a.Consent.Insurance {
			t.Errorf("consent %+v", a.Consent)
		}
		// The same add again changes nothing and is answered the same.
		want(t, register(t, ledger.ConsentAdd, "700", "4000000000000101", chen), ledger.ConsentStored)
	})
	t.Run("add with data of no insured person is refused, nothing stored", func(t *testing.T) {
		bad := chen
		bad.BirthDate = day("1990-03-01")
		want(t, register(t, ledger.ConsentAdd, "700", "4000000000000102", bad), ledger.ConsentMismatch)
		bad = chen
		bad.NationalID = "Z999999999"
		want(t, register(t, ledger.ConsentAdd, "700", "4000000000000102", bad), ledger.ConsentMismatch)
		if a := inquire(t, s, h, "700", "4000000000000102", pension); a.Consent != nil {
			t.Errorf("a refused add was stored: %+v", a.Consent)
		}
	})
	t.Run("replace and revoke of no record", func(t *testing.T) {
		want(t, register(t, ledger.ConsentReplace, "700", "4000000000000103", chen), ledger.ConsentNoRecord)
		want(t, register(t, ledger.ConsentRevoke, "700", "4000000000000103", card.Consent{SignedDate: day("2026-11-20")}), ledger.ConsentNoRecord)
		// A record at another institution is no record here.
		want(t, register(t, ledger.ConsentRevoke, "808", "4000000000000002", card.Consent{SignedDate: day("2026-11-20")}), ledger.ConsentNoRecord)
	})
	t.Run("replace of an exported record fixes its data", func(t *testing.T) {
		// 700/…006 was exported with the name 王大明 (25 at inquiry).
		fixed := card.Consent{NationalID: "A100000001", Name: "王小明", BirthDate: day("1985-06-15"), Pension: true, Insurance: true, SignedDate: day("2026-11-21")}
		want(t, register(t, ledger.ConsentReplace, "700", "4000000000000006", fixed), ledger.ConsentStored)
		a := inquire(t, s, h, "700", "4000000000000006", insurance)
		if err := card.Validate("700", a.Consent, a.Person, insurance); err != nil {
			t.Fatalf("inquiry after the replace: %v", err)
		}
	})
	t.Run("revoke, then an older add is superseded", func(t *testing.T) {
		want(t, register(t, ledger.ConsentRevoke, "005", "4000000000000002", card.Consent{SignedDate: day("2026-11-22")}), ledger.ConsentStored)
		a := inquire(t, s, h, "005", "4000000000000002", pension)
		if a.Consent == nil || !a.Consent.Revoked || a.Consent.NationalID != "B200000002" || !a.Consent.SignedDate.Equal(day("2026-11-22")) {
			t.Fatalf("after the revoke: %+v", a.Consent)
		}
		old := chen
		old.SignedDate = day("2026-11-21")
		want(t, register(t, ledger.ConsentAdd, "005", "4000000000000002", old), ledger.ConsentSuperseded)
		if a := inquire(t, s, h, "005", "4000000000000002", pension); a.Consent == nil || !a.Consent.Revoked {
			t.Errorf("a superseded add changed the record: %+v", a.Consent)
		}
		// On the same date the update wins: the worker signed again.
		again := chen
		again.SignedDate = day("2026-11-22")
		want(t, register(t, ledger.ConsentAdd, "005", "4000000000000002", again), ledger.ConsentStored)
		if a := inquire(t, s, h, "005", "4000000000000002", pension); a.Consent == nil || a.Consent.Revoked {
			t.Errorf("the add of the revocation's date was not stored: %+v", a.Consent)
		}
	})
}
