package card

import "time"

// Service is one of the two inquiry services of the contract.
type Service int

const (
	// ServicePension is the labor pension personal account inquiry (processing code 380000).
	ServicePension Service = 1
	// ServiceInsurance is the labor insurance inquiry (processing code 390000).
	ServiceInsurance Service = 2
)

// String names the service as the load files and logs do ("pension", "insurance").
func (s Service) String() string {
	switch s {
	case ServicePension:
		return "pension"
	case ServiceInsurance:
		return "insurance"
	}
	return "unknown"
}

// ValidNationalID reports whether s has the form of a national ID: an
// upper-case letter, an upper-case letter or a digit, then 8 digits (a
// national ID, an old or a new resident certificate number). The check
// digit is not checked: the person's record decides.
func ValidNationalID(s string) bool {
	if len(s) != 10 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	if c := s[1]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
		return false
	}
	for i := 2; i < 10; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Person is an insured person of the ledger, identified by national ID.
type Person struct {
	NationalID string
	Name       string
	BirthDate  time.Time // a date (UTC midnight)
}

// Consent is the consent record a card holder signed with one institution
// (資料查詢服務同意書). The PAN itself is never held: the record is found by
// the keyed hash of the PAN.
type Consent struct {
	Institution string // DE32 code of the institution the consent was signed with
	NationalID  string
	Name        string
	BirthDate   time.Time
	Pension     bool // the pension service is consented
	Insurance   bool // the insurance service is consented
	SignedDate  time.Time
	Revoked     bool
}

// Covers reports whether the consent names the service.
func (c *Consent) Covers(s Service) bool {
	switch s {
	case ServicePension:
		return c.Pension
	case ServiceInsurance:
		return c.Insurance
	}
	return false
}
