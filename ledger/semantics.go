package ledger

import (
	"cmp"
	"slices"
	"time"
)

// This file is the ledger semantics of the contract (docs/interface.md,
// section 6) as pure functions; both stores use them, so they answer alike. Coverage keeps a
// person's seniority in a form (Cover) that does not depend on the as-of
// date, so that stores compute it when loading and an inquiry only adds
// the days of the open intervals.

// PensionTotals sums a person's pension rows, all of them: contributions
// are the employer, voluntary, settlement and adjustment rows, earnings the
// earnings rows.
func PensionTotals(rows []PensionRow) (contributions, earnings int64) {
	for _, r := range rows {
		switch r.Kind {
		case KindEarnings:
			earnings += r.Amount
		case KindEmployer, KindVoluntary, KindSettlement, KindAdjustment:
			contributions += r.Amount
		}
	}
	return contributions, earnings
}

// ComparePension orders pension rows by posting: entry id ascending.
func ComparePension(a, b PensionRow) int { return cmp.Compare(a.EntryID, b.EntryID) }

// CompareInsurance orders insurance rows by (event date, entry id) ascending.
func CompareInsurance(a, b InsuranceRow) int {
	return cmp.Or(a.Date.Compare(b.Date), cmp.Compare(a.EntryID, b.EntryID))
}

// LatestPension returns the last n rows by posting, newest first, in a new slice.
func LatestPension(rows []PensionRow, n int) []PensionRow {
	s := slices.Clone(rows)
	slices.SortFunc(s, func(a, b PensionRow) int { return ComparePension(b, a) })
	return s[:min(n, len(s))]
}

// LatestInsurance returns the last n rows by (date, entry id), newest
// first, in a new slice.
func LatestInsurance(rows []InsuranceRow, n int) []InsuranceRow {
	s := slices.Clone(rows)
	slices.SortFunc(s, func(a, b InsuranceRow) int { return CompareInsurance(b, a) })
	return s[:min(n, len(s))]
}

// Cover is a person's insurance coverage in a form that does not depend on
// the as-of date, so that a store can compute it when the rows are loaded
// and the seniority on any later as-of date at once (Days).
//
// The covered days are the union of intervals, each from an enrolment to
// the next withdrawal at the same unit (the withdrawal day not covered);
// an interval with no withdrawal yet is open and runs to the as-of date
// inclusive. The open intervals together cover [OpenSince, as-of], so the
// seniority is the days of the closed intervals before OpenSince plus the
// days from OpenSince to the as-of date.
type Cover struct {
	// ClosedDays is the days covered by closed intervals, counted once,
	// before OpenSince when Open, all of them otherwise.
	ClosedDays int
	// Open reports an interval still open; OpenSince is the earliest start
	// of one.
	Open      bool
	OpenSince time.Time
}

// Days is the seniority in days as of asOf inclusive. It is the union of
// the covered intervals when no event of the person is after asOf (the
// loaders refuse such events).
func (c Cover) Days(asOf time.Time) int {
	d := c.ClosedDays
	if c.Open && !asOf.Before(c.OpenSince) {
		d += dayNumber(asOf) - dayNumber(c.OpenSince) + 1
	}
	return d
}

// Coverage computes the coverage of a person's insurance events, in any
// order (they are taken by (date, entry id)). Units are told apart by
// their name. Choices where the contract is silent:
//   - a withdrawal at a unit with no open enrolment is ignored;
//   - an enrolment at a unit already open is ignored (the interval runs
//     from the first enrolment);
//   - a withdrawal on the day of the enrolment makes an empty interval;
//   - salary changes never change coverage (not even at a unit with no
//     open enrolment).
func Coverage(events []InsuranceRow) Cover {
	evs := slices.Clone(events)
	slices.SortFunc(evs, CompareInsurance)
	return coverageSorted(evs)
}

type span struct{ from, to int } // days [from, to)

func coverageSorted(evs []InsuranceRow) Cover {
	open := make(map[string]int, 2)
	var spans []span
	for _, e := range evs {
		d := dayNumber(e.Date)
		switch e.Kind {
		case KindEnroll:
			if _, ok := open[e.Unit]; !ok {
				open[e.Unit] = d
			}
		case KindWithdraw:
			if from, ok := open[e.Unit]; ok {
				if d > from {
					spans = append(spans, span{from, d})
				}
				delete(open, e.Unit)
			}
		}
	}
	var c Cover
	limit := int(^uint(0) >> 1)
	if len(open) > 0 {
		c.Open = true
		for _, from := range open {
			limit = min(limit, from)
		}
		c.OpenSince = dateOfDay(limit)
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.from, b.from) })
	end := int(-1 << 62) // end of the covered days counted so far
	for _, s := range spans {
		from, to := max(s.from, end), min(s.to, limit)
		if to > from {
			c.ClosedDays += to - from
		}
		end = max(end, s.to)
	}
	return c
}

const secondsPerDay = 24 * 60 * 60

// dayNumber counts days since 1970-01-01 of a date's calendar day (in its
// own location).
func dayNumber(t time.Time) int {
	y, m, d := t.Date()
	u := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix()
	return int(u / secondsPerDay)
}

func dateOfDay(n int) time.Time { return time.Unix(int64(n)*secondsPerDay, 0).UTC() }
