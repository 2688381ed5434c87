package ledger

import (
	"context"
	"strconv"
	"time"

	"github.com/bli/atmgw/card"
)

// ConsentAction is what an online registration asks (DE91 of an 0302, the
// ISO 8583 file update code).
type ConsentAction uint8

const (
	ConsentAdd     ConsentAction = 1 // DE91 "1": a consent signed: create the record, or overwrite it
	ConsentReplace ConsentAction = 2 // DE91 "2": overwrite the record there is (none: ConsentNoRecord)
	ConsentRevoke  ConsentAction = 3 // DE91 "3": revoke the record there is (none: ConsentNoRecord)
)

// String names the action for logs and the audit trail.
func (a ConsentAction) String() string {
	switch a {
	case ConsentAdd:
		return "add"
	case ConsentReplace:
		return "replace"
	case ConsentRevoke:
		return "revoke"
	}
	return "consent action " + strconv.Itoa(int(a))
}

// ConsentUpdate is one online registration of a consent (an 0302).
type ConsentUpdate struct {
	Action  ConsentAction
	PANHash string // card.PANHasher.Hash of DE2
	// Consent is the record asked for. Institution and SignedDate always
	// (for a revoke, SignedDate is the date the revocation was signed);
	// NationalID, Name, BirthDate, Pension and Insurance for an add or a
	// replace (a revoke keeps the stored ones). Revoked is ignored: the
	// action says it.
	Consent card.Consent
}

// ConsentResult is the outcome of an online registration.
type ConsentResult uint8

const (
	// ConsentStored: the record now is what the update asked (00). An
	// update that asks for what is stored already changes nothing and is
	// ConsentStored too.
	ConsentStored ConsentResult = iota
	// ConsentNoRecord: a replace or a revoke of no record (14).
	ConsentNoRecord
	// ConsentSuperseded: the stored record (a consent or a revocation) was
	// signed after the update's signed date: the later signed date wins,
	// nothing changed (12).
	ConsentSuperseded
	// ConsentMismatch: the national ID, name or birth date of an add or a
	// replace are not those of an insured person (25). Nothing stored.
	ConsentMismatch
)

func (r ConsentResult) String() string {
	switch r {
	case ConsentStored:
		return "stored"
	case ConsentNoRecord:
		return "no consent record"
	case ConsentSuperseded:
		return "superseded by a record signed later"
	case ConsentMismatch:
		return "personal data mismatch"
	}
	return "consent result " + strconv.Itoa(int(r))
}

// ConsentRegistry takes online registrations of consents. Register
// decides an update with ResolveRegistration against the record stored
// and the insured person, and stores the result, atomically per (DE32,
// PAN). It returns only once the record is durable (and, on PostgreSQL,
// visible to the inquiries: see postgres.Store.Register). An error wraps
// ErrUnavailable (the gateway answers 91) unless ctx ended.
//
// Implementations: postgres.Store (on the primary), demo.Memory (in the
// process: a restart forgets registrations).
type ConsentRegistry interface {
	Register(ctx context.Context, u ConsentUpdate) (ConsentResult, error)
}

// ResolveRegistration decides an online update against the record stored
// for its (institution, PAN hash) (nil: none) and the insured person of the
// update's national ID (nil: none; not looked at for a revoke), in this
// order:
//
//  1. a replace or a revoke of no record: ConsentNoRecord;
//  2. a stored record signed after the update (a revocation's date is its
//     signed date): ConsentSuperseded. On the same date the update wins:
//     it is the later of the two;
//  3. an add or a replace whose national ID, name or birth date are not an
//     insured person's (card.MatchPerson): ConsentMismatch;
//  4. otherwise ConsentStored, with the record to store.
//
// The record to store is nil unless the result is ConsentStored. It is the
// update's consent, active, for an add or a replace; the stored record,
// revoked and with the revocation's signed date, for a revoke.
func ResolveRegistration(stored *card.Consent, u ConsentUpdate, p *card.Person) (ConsentResult, *card.Consent) {
	if stored == nil && u.Action != ConsentAdd {
		return ConsentNoRecord, nil
	}
	if stored != nil && dateBefore(u.Consent.SignedDate, stored.SignedDate) {
		return ConsentSuperseded, nil
	}
	if u.Action == ConsentRevoke {
		rec := *stored
		rec.Revoked = true
		rec.SignedDate = u.Consent.SignedDate
		return ConsentStored, &rec
	}
	rec := u.Consent
	rec.Revoked = false
	if err := card.MatchPerson(&rec, p); err != nil {
		return ConsentMismatch, nil
	}
	return ConsentStored, &rec
}

// dateBefore compares calendar dates (each in its own location).
func dateBefore(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	if ay != by {
		return ay < by
	}
	if am != bm {
		return am < bm
	}
	return ad < bd
}
