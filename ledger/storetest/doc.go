// Package storetest is the one test suite every ledger.Store passes (the
// in-memory store and the PostgreSQL store): Run builds a store from a set
// of load files with the caller's function and checks the latest six rows,
// the totals over all rows, seniority with overlapping units, re-enrolment,
// open intervals and the as-of date inclusive, dates over the whole ROC
// range, a person without rows, consents in every state and an unknown
// person, on a hand-written ledger (values worked out by hand) and on
// random ledgers (values computed by the suite itself: a loop sum for the
// totals, a set of covered days for seniority). Counting wraps a store and
// counts the inquiries that reach it.
package storetest
