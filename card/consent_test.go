package card

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	birth := time.Date(1980, 5, 17, 0, 0, 0, 0, time.UTC)
	person := func() *Person { return &Person{NationalID: "A123456789", Name: "王小明", BirthDate: birth} }
	consent := func() *Consent {
		return &Consent{Institution: "700", NationalID: "A123456789", Name: "王小明", BirthDate: birth,
			Pension: true, Insurance: true, SignedDate: time.Date(2023, 1, 2, 0, 0, 0, 0, time.UTC)}
	}
	with := func(f func(c *Consent)) *Consent { c := consent(); f(c); return c }
	withP := func(f func(p *Person)) *Person { p := person(); f(p); return p }
	taipei := time.FixedZone("Asia/Taipei", 8*3600)

	tests := []struct {
		name string
		inst string
		c    *Consent
		p    *Person
		s    Service
		err  error
	}{
		{"ok pension", "700", consent(), person(), ServicePension, nil},
		{"ok insurance", "700", consent(), person(), ServiceInsurance, nil},
		{"no consent", "700", nil, person(), ServicePension, ErrNoConsent},
		{"no consent and no person", "700", nil, nil, ServicePension, ErrNoConsent},
		{"other institution", "005", consent(), person(), ServicePension, ErrNoConsent},
		{"empty institution", "", with(func(c *Consent) { c.Institution = "" }), person(), ServicePension, ErrNoConsent},
		{"revoked", "700", with(func(c *Consent) { c.Revoked = true }), person(), ServicePension, ErrRevoked},
		{"revoked beats not consented", "700", with(func(c *Consent) { c.Revoked, c.Pension = true, false }), person(), ServicePension, ErrRevoked},
		{"revoked beats mismatch", "700", with(func(c *Consent) { c.Revoked = true }), nil, ServicePension, ErrRevoked},
		{"pension not consented", "700", with(func(c *Consent) { c.Pension = false }), person(), ServicePension, ErrServiceNotConsented},
		{"insurance not consented", "700", with(func(c *Consent) { c.Insurance = false }), person(), ServiceInsurance, ErrServiceNotConsented},
		{"other service still fine", "700", with(func(c *Consent) { c.Insurance = false }), person(), ServicePension, nil},
		{"unknown service", "700", consent(), person(), Service(9), ErrServiceNotConsented},
		{"not consented beats mismatch", "700", with(func(c *Consent) { c.Pension = false }), nil, ServicePension, ErrServiceNotConsented},
		{"no person", "700", consent(), nil, ServicePension, ErrPersonMismatch},
		{"ID differs", "700", consent(), withP(func(p *Person) { p.NationalID = "A123456780" }), ServicePension, ErrPersonMismatch},
		{"ID case and spaces", "700", with(func(c *Consent) { c.NationalID = " a123456789 " }), person(), ServicePension, nil},
		{"ID empty both", "700", with(func(c *Consent) { c.NationalID = "" }), withP(func(p *Person) { p.NationalID = "" }), ServicePension, ErrPersonMismatch},
		{"name differs", "700", consent(), withP(func(p *Person) { p.Name = "王小名" }), ServicePension, ErrPersonMismatch},
		{"name surrounding spaces", "700", with(func(c *Consent) { c.Name = "　王小明 " }), person(), ServicePension, nil},
		{"name inner space counts", "700", with(func(c *Consent) { c.Name = "王 小明" }), person(), ServicePension, ErrPersonMismatch},
		{"name NFC vs NFD", "700", with(func(c *Consent) { c.Name = "Jose\u0301" }), withP(func(p *Person) { p.Name = "Jos\u00e9" }), ServicePension, nil},
		{"name empty both", "700", with(func(c *Consent) { c.Name = " " }), withP(func(p *Person) { p.Name = "" }), ServicePension, ErrPersonMismatch},
		{"birth date differs", "700", consent(), withP(func(p *Person) { p.BirthDate = birth.AddDate(0, 0, 1) }), ServicePension, ErrPersonMismatch},
		{"birth date same day other zone", "700", with(func(c *Consent) { c.BirthDate = time.Date(1980, 5, 17, 0, 0, 0, 0, taipei) }), person(), ServicePension, nil},
		{"birth date zero both", "700", with(func(c *Consent) { c.BirthDate = time.Time{} }), withP(func(p *Person) { p.BirthDate = time.Time{} }), ServicePension, ErrPersonMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.inst, tc.c, tc.p, tc.s)
			if tc.err == nil {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("got %v, want %v", err, tc.err)
			}
			for _, other := range []error{ErrNoConsent, ErrRevoked, ErrServiceNotConsented, ErrPersonMismatch} {
				if other != tc.err && errors.Is(err, other) {
					t.Errorf("%v also matches %v", err, other)
				}
			}
			if strings.Contains(err.Error(), "A12345678") || strings.Contains(err.Error(), "王") {
				t.Errorf("error shows personal data: %v", err)
			}
		})
	}
}

func TestValidNationalID(t *testing.T) {
	for s, want := range map[string]bool{
		"A123456789": true, "AB12345678": true, "A812345678": true,
		"a123456789": false, "A12345678": false, "A1234567890": false, "1123456789": false,
		"A1234567X9": false, "Ab12345678": false, "": false,
	} {
		if got := ValidNationalID(s); got != want {
			t.Errorf("ValidNationalID(%q) = %v, want %v", s, got, want)
		}
	}
}
