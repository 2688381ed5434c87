package card

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"
)

// The consent decisions of the contract (decisions 11-13), in the order
// Validate checks them.
var (
	// ErrNoConsent: no consent record for the card at this institution (14).
	ErrNoConsent = errors.New("card: no consent for this card at this institution")
	// ErrRevoked: the consent was revoked (57).
	ErrRevoked = errors.New("card: consent revoked")
	// ErrServiceNotConsented: the consent does not name the service (57).
	ErrServiceNotConsented = errors.New("card: service not consented")
	// ErrPersonMismatch: the consent's personal data is not the insured
	// person's (25). Validate wraps it with the field that differs.
	ErrPersonMismatch = errors.New("card: consent does not match the insured person")
)

// Validate takes the consent decisions for an inquiry of service s made at
// institution (the DE32 of the request):
//
//   - c == nil, or c was signed with another institution: ErrNoConsent;
//   - c revoked: ErrRevoked; otherwise s not consented: ErrServiceNotConsented;
//   - p == nil, or national ID, name or birth date differ: ErrPersonMismatch
//     (wrapped with the name of the field, never its value).
//
// National IDs compare case-insensitively after trimming spaces; names after
// trimming spaces (the ideographic space U+3000 included) and Unicode NFC
// normalisation; birth dates by calendar date, each in its own location. An
// empty ID or name, or a zero birth date, on either side is a mismatch.
func Validate(institution string, c *Consent, p *Person, s Service) error {
	if c == nil || strings.TrimSpace(c.Institution) != strings.TrimSpace(institution) || institution == "" {
		return ErrNoConsent
	}
	if c.Revoked {
		return ErrRevoked
	}
	if !c.Covers(s) {
		return ErrServiceNotConsented
	}
	return MatchPerson(c, p)
}

// MatchPerson is decision 13 alone: nil when the consent's national ID,
// name and birth date are the insured person's, compared as Validate does;
// otherwise ErrPersonMismatch wrapped with the name of the field (never its
// value). A nil p (no insured person of that ID) is a mismatch. An online
// registration (0302) is checked with it before it is stored.
func MatchPerson(c *Consent, p *Person) error {
	if p == nil {
		return fmt.Errorf("%w: no insured person", ErrPersonMismatch)
	}
	if !sameID(c.NationalID, p.NationalID) {
		return fmt.Errorf("%w: national ID", ErrPersonMismatch)
	}
	if !sameName(c.Name, p.Name) {
		return fmt.Errorf("%w: name", ErrPersonMismatch)
	}
	if !sameDate(c.BirthDate, p.BirthDate) {
		return fmt.Errorf("%w: birth date", ErrPersonMismatch)
	}
	return nil
}

func sameID(a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	return a != "" && strings.EqualFold(a, b)
}

func sameName(a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if a == "" || b == "" {
		return false
	}
	return a == b || norm.NFC.String(a) == norm.NFC.String(b)
}

func sameDate(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return false
	}
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}
