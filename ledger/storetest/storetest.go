package storetest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
)

// NewStore builds the store under test from a set of load files (all
// good rows), hashing consents with h. It fails the test when it cannot;
// the suite closes the store.
type NewStore func(t *testing.T, files fs.FS, h *card.PANHasher) ledger.Store

// Run is the suite every ledger.Store passes: the hand-written ledger
// (Hand) with its expectations worked out by hand, then random ledgers
// (Random) against the suite's own computation of what each inquiry must
// show.
func Run(t *testing.T, newStore NewStore) {
	h := Hasher()
	t.Run("hand", func(t *testing.T) {
		l := Hand()
		s := newStore(t, l.Files(), h)
		defer s.Close()
		runHand(t, s, l, h)
		Check(t, s, l, h)
		t.Run("register", func(t *testing.T) { runRegister(t, s, h) })
	})
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprintf("random-%d", seed), func(t *testing.T) {
			l := Random(seed, 150)
			s := newStore(t, l.Files(), h)
			defer s.Close()
			Check(t, s, l, h)
		})
	}
}

func inquire(t *testing.T, s ledger.Store, h *card.PANHasher, inst, pan string, svc card.Service) ledger.Answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ans, err := s.Inquire(ctx, ledger.Query{Institution: inst, PANHash: h.Hash(pan), Service: svc})
	if err != nil {
		t.Fatalf("Inquire(%s, %s, %v): %v", inst, card.MaskPAN(pan), svc, err)
	}
	return ans
}

var (
	pension   = card.ServicePension
	insurance = card.ServiceInsurance
)

// runHand checks the hand-written ledger against literal values.
func runHand(t *testing.T, s ledger.Store, l *Ledger, h *card.PANHasher) {
	asOf := time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)

	t.Run("latest six pension rows by entry id, totals over all rows", func(t *testing.T) {
		a := inquire(t, s, h, "700", "4000000000000001", pension)
		if a.Consent == nil || a.Person == nil || a.Pension == nil {
			t.Fatalf("answer %+v", a)
		}
		if a.Insurance != nil {
			t.Errorf("insurance statement on a pension inquiry")
		}
		var ids []int64
		for _, r := range a.Pension.Rows {
			ids = append(ids, r.EntryID)
		}
		if fmt.Sprint(ids) != "[18 17 16 15 14 13]" {
			t.Errorf("entry ids %v, want [18 17 16 15 14 13]", ids)
		}
		if a.Pension.Contributions != 61450 || a.Pension.Earnings != 580 {
			t.Errorf("totals %d %d, want 61450 580", a.Pension.Contributions, a.Pension.Earnings)
		}
		if !a.Pension.AsOf.Equal(asOf) {
			t.Errorf("as of %v", a.Pension.AsOf)
		}
		r := a.Pension.Rows[0]
		if r.Year != 2024 || r.Month != 6 || r.Kind != ledger.KindEmployer || r.Amount != 3200 ||
			r.Unit != "財團法人中華民國台灣省私立某某社會福利慈善事業基金會附設托兒所" {
			t.Errorf("row 18: %+v", r)
		}
		if r := a.Pension.Rows[1]; r.Kind != ledger.KindEarnings || r.Amount != -120 || r.Unit != "" {
			t.Errorf("row 17: %+v", r)
		}
		if r := a.Pension.Rows[2]; r.Year != 2020 || r.Month != 5 {
			t.Errorf("row 16 (an old period posted late): %+v", r)
		}
	})

	t.Run("seniority with overlaps, re-enrolment, open intervals, as-of inclusive", func(t *testing.T) {
		a := inquire(t, s, h, "700", "4000000000000001", insurance)
		if a.Insurance == nil {
			t.Fatalf("no insurance statement")
		}
		if a.Pension != nil {
			t.Errorf("pension statement on an insurance inquiry")
		}
		if a.Insurance.SeniorityDays != HandSeniorityA {
			t.Errorf("seniority %d days, want %d", a.Insurance.SeniorityDays, HandSeniorityA)
		}
		if y, d := a.Insurance.Seniority(); y != 36 || d != 313 {
			t.Errorf("seniority %d years %d days, want 36 313", y, d)
		}
		var got []string
		for _, r := range a.Insurance.Rows {
			got = append(got, fmt.Sprintf("%d:%s:%v", r.EntryID, r.Date.Format(time.DateOnly), r.Kind))
		}
		want := "[115:2026-10-31:withdraw 114:2020-06-30:salary_change 113:2020-01-01:enroll 112:2015-01-01:enroll 501:2010-06-01:withdraw 500:2010-06-01:enroll]"
		if fmt.Sprint(got) != want {
			t.Errorf("rows %v\nwant %s", got, want)
		}
		if r := a.Insurance.Rows[1]; r.Salary != 45800 || r.Unit != "己" {
			t.Errorf("row 114: %+v", r)
		}
	})

	t.Run("closed intervals only, leap day", func(t *testing.T) {
		a := inquire(t, s, h, "007", "4000000000000003", insurance)
		if a.Insurance == nil || a.Insurance.SeniorityDays != 3 {
			t.Fatalf("answer %+v, want 3 days", a.Insurance)
		}
		if n := len(a.Insurance.Rows); n != 5 {
			t.Errorf("%d rows, want 5", n)
		}
	})

	t.Run("enrolled on the as-of date: one day", func(t *testing.T) {
		a := inquire(t, s, h, "808", "4000000000000007", insurance)
		if a.Insurance == nil || a.Insurance.SeniorityDays != 1 || len(a.Insurance.Rows) != 1 {
			t.Fatalf("answer %+v, want 1 day, 1 row", a.Insurance)
		}
	})

	t.Run("ROC range of dates", func(t *testing.T) {
		a := inquire(t, s, h, "812", "4000000000000001", pension)
		if a.Pension == nil || len(a.Pension.Rows) != 3 {
			t.Fatalf("answer %+v", a.Pension)
		}
		if r := a.Pension.Rows[0]; r.Year != 2000 || r.Month != 2 { // entry 32
			t.Errorf("row 32: %+v", r)
		}
		if r := a.Pension.Rows[1]; r.Year != 2910 || r.Month != 12 { // ROC 999
			t.Errorf("row 31: %+v", r)
		}
		if r := a.Pension.Rows[2]; r.Year != 1912 || r.Month != 1 { // ROC 1
			t.Errorf("row 30: %+v", r)
		}
		if a.Pension.Contributions != 46 || a.Pension.Earnings != 56 {
			t.Errorf("totals %d %d", a.Pension.Contributions, a.Pension.Earnings)
		}
	})

	t.Run("person without rows", func(t *testing.T) {
		for _, svc := range []card.Service{pension, insurance} {
			a := inquire(t, s, h, "005", "4000000000000002", svc)
			if a.Person == nil || a.Person.Name != "陳美玲" {
				t.Fatalf("%v: person %+v", svc, a.Person)
			}
			switch {
			case svc == pension && (a.Pension == nil || len(a.Pension.Rows) != 0 || a.Pension.Contributions != 0 || a.Pension.Earnings != 0 || !a.Pension.AsOf.Equal(asOf)):
				t.Errorf("pension %+v, want an empty statement as of %v", a.Pension, asOf)
			case svc == insurance && (a.Insurance == nil || len(a.Insurance.Rows) != 0 || a.Insurance.SeniorityDays != 0 || !a.Insurance.AsOf.Equal(asOf)):
				t.Errorf("insurance %+v, want an empty statement", a.Insurance)
			}
		}
	})

	t.Run("consents in every state", func(t *testing.T) {
		// Validate is the gateway's decision; the store only has to
		// return the right records for it.
		cases := []struct {
			inst, pan string
			svc       card.Service
			want      error
		}{
			{"700", "4000000000000001", pension, nil},
			{"812", "4000000000000001", pension, nil},                           // same PAN, other institution, other person
			{"812", "4000000000000001", insurance, card.ErrServiceNotConsented}, // pension only
			{"007", "4000000000000003", pension, card.ErrServiceNotConsented},   // insurance only
			{"012", "4000000000000004", pension, card.ErrRevoked},
			{"700", "4000000000000005", pension, card.ErrPersonMismatch}, // unknown person
			{"700", "4000000000000006", insurance, card.ErrPersonMismatch},
			{"808", "4000000000000007", pension, nil},   // PAN written with spaces in the file
			{"700", "4000000000000008", insurance, nil}, // lower-case ID, "BOTH", "Active"
			{"005", "4000000000000001", pension, card.ErrNoConsent},
			{"700", "4000000000000009", pension, card.ErrNoConsent},
		}
		for _, c := range cases {
			a := inquire(t, s, h, c.inst, c.pan, c.svc)
			err := card.Validate(c.inst, a.Consent, a.Person, c.svc)
			if (c.want == nil) != (err == nil) || c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("%s %s %v: %v, want %v", c.inst, c.pan, c.svc, err, c.want)
			}
		}
		a := inquire(t, s, h, "700", "4000000000000005", pension)
		if a.Consent == nil || a.Person != nil || a.Pension != nil {
			t.Errorf("consent of an unknown person: %+v", a)
		}
		if a.Consent != nil && (a.Consent.NationalID != "Z999999999" || a.Consent.Name != "無此人") {
			t.Errorf("consent %+v", a.Consent)
		}
		a = inquire(t, s, h, "012", "4000000000000004", insurance)
		if a.Consent == nil || !a.Consent.Revoked || a.Consent.Institution != "012" ||
			!a.Consent.SignedDate.Equal(time.Date(2022, 1, 10, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("revoked consent %+v", a.Consent)
		}
	})

	t.Run("context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := s.Inquire(ctx, ledger.Query{Institution: "700", PANHash: h.Hash("4000000000000001"), Service: pension}); err == nil {
			t.Errorf("Inquire with a cancelled context succeeded")
		}
		ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Ping(ctx); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})
}

// Check inquires both services for every consent of l and compares the
// answers with the suite's own computation.
func Check(t *testing.T, s ledger.Store, l *Ledger, h *card.PANHasher) {
	asOf := mustDate(l.AsOf)
	for _, c := range l.Consents {
		pan := strings.NewReplacer(" ", "", "-", "").Replace(c.PAN)
		id := strings.ToUpper(c.ID)
		p := l.person(id)
		for _, svc := range []card.Service{pension, insurance} {
			a := inquire(t, s, h, c.Inst, pan, svc)
			where := fmt.Sprintf("%s %s %v", c.Inst, card.MaskPAN(pan), svc)
			if a.Consent == nil {
				t.Errorf("%s: no consent", where)
				continue
			}
			checkConsent(t, where, a.Consent, c)
			if p == nil {
				if a.Person != nil || a.Pension != nil || a.Insurance != nil {
					t.Errorf("%s: unknown person, answer %+v", where, a)
				}
				continue
			}
			if a.Person == nil || a.Person.NationalID != p.ID || a.Person.Name != p.Name || a.Person.BirthDate.Format(time.DateOnly) != p.Birth {
				t.Errorf("%s: person %+v, want %+v", where, a.Person, p)
				continue
			}
			if svc == pension {
				checkPension(t, where, a, l, id, asOf)
			} else {
				checkInsurance(t, where, a, l, id, asOf)
			}
		}
	}
}

func checkConsent(t *testing.T, where string, got *card.Consent, want Consent) {
	t.Helper()
	services := strings.ToLower(want.Services)
	ok := got.Institution == want.Inst && got.NationalID == strings.ToUpper(want.ID) && got.Name == want.Name &&
		got.BirthDate.Format(time.DateOnly) == want.Birth && got.SignedDate.Format(time.DateOnly) == want.Signed &&
		got.Pension == (services != "insurance") && got.Insurance == (services != "pension") &&
		got.Revoked == (strings.ToLower(want.Status) == "revoked")
	if !ok {
		t.Errorf("%s: consent %+v, want %+v", where, got, want)
	}
}

func checkPension(t *testing.T, where string, a ledger.Answer, l *Ledger, id string, asOf time.Time) {
	t.Helper()
	if a.Pension == nil || a.Insurance != nil {
		t.Errorf("%s: statements %+v", where, a)
		return
	}
	rows, contributions, earnings := expectedPension(l, id)
	st := a.Pension
	if !st.AsOf.Equal(asOf) || st.Contributions != contributions || st.Earnings != earnings {
		t.Errorf("%s: as of %v totals %d %d, want %v %d %d", where, st.AsOf, st.Contributions, st.Earnings, asOf, contributions, earnings)
	}
	if len(st.Rows) != len(rows) {
		t.Errorf("%s: %d rows, want %d", where, len(st.Rows), len(rows))
		return
	}
	for i, r := range rows {
		g := st.Rows[i]
		if g.EntryID != r.EntryID || fmt.Sprintf("%04d-%02d", g.Year, g.Month) != r.Period || g.Kind.String() != r.Kind ||
			g.Unit != r.Unit || g.Amount != r.Amount {
			t.Errorf("%s: row %d %+v, want %+v", where, i, g, r)
		}
	}
}

func checkInsurance(t *testing.T, where string, a ledger.Answer, l *Ledger, id string, asOf time.Time) {
	t.Helper()
	if a.Insurance == nil || a.Pension != nil {
		t.Errorf("%s: statements %+v", where, a)
		return
	}
	rows, seniority := expectedInsurance(l, id)
	st := a.Insurance
	if !st.AsOf.Equal(asOf) || st.SeniorityDays != seniority {
		t.Errorf("%s: as of %v seniority %d, want %v %d", where, st.AsOf, st.SeniorityDays, asOf, seniority)
	}
	if len(st.Rows) != len(rows) {
		t.Errorf("%s: %d rows, want %d", where, len(st.Rows), len(rows))
		return
	}
	for i, r := range rows {
		g := st.Rows[i]
		if g.EntryID != r.EntryID || g.Date.Format(time.DateOnly) != r.Date || g.Kind.String() != r.Kind ||
			g.Unit != r.Unit || g.Salary != r.Salary {
			t.Errorf("%s: row %d %+v, want %+v", where, i, g, r)
		}
	}
}
