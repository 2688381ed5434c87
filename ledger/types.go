package ledger

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/bli/atmgw/card"
)

// ErrUnavailable is returned (wrapped) when the ledger cannot answer: the
// database is down or too slow, or its circuit breaker is open. The gateway
// answers 91.
var ErrUnavailable = errors.New("ledger unavailable")

// PensionKind is the kind of a pension ledger row; its value is the DE62 code.
type PensionKind int

const (
	KindEmployer   PensionKind = 1 // 雇主提繳, load file "employer"
	KindVoluntary  PensionKind = 2 // 個人自提, "voluntary"
	KindEarnings   PensionKind = 3 // 收益分配, "earnings"
	KindSettlement PensionKind = 4 // 結清移入, "settlement"
	KindAdjustment PensionKind = 5 // 調整, "adjustment"
)

// String is the load file's name of the kind.
func (k PensionKind) String() string {
	switch k {
	case KindEmployer:
		return "employer"
	case KindVoluntary:
		return "voluntary"
	case KindEarnings:
		return "earnings"
	case KindSettlement:
		return "settlement"
	case KindAdjustment:
		return "adjustment"
	}
	return "pension kind " + strconv.Itoa(int(k))
}

// InsuranceKind is the kind of an insurance event; its value is the DE62 code.
type InsuranceKind int

const (
	KindEnroll       InsuranceKind = 11 // 加保, "enroll"
	KindWithdraw     InsuranceKind = 12 // 退保, "withdraw"
	KindSalaryChange InsuranceKind = 13 // 調薪, "salary_change"
)

// String is the load file's name of the kind.
func (k InsuranceKind) String() string {
	switch k {
	case KindEnroll:
		return "enroll"
	case KindWithdraw:
		return "withdraw"
	case KindSalaryChange:
		return "salary_change"
	}
	return "insurance kind " + strconv.Itoa(int(k))
}

// PensionRow is one row of a person's labor pension ledger.
type PensionRow struct {
	EntryID int64
	Year    int // Gregorian year of the data period
	Month   int // 1..12
	Kind    PensionKind
	Unit    string // contributing unit name (UTF-8)
	Amount  int64  // whole TWD, may be negative
}

// StatementRows is how many rows a statement shows: the latest six.
const StatementRows = 6

// PensionStatement is what a pension inquiry shows: the latest six rows
// (newest first: highest entry id first) and the totals over all rows.
type PensionStatement struct {
	AsOf          time.Time // date of the export
	Rows          []PensionRow
	Contributions int64 // employer + voluntary + settlement + adjustment over all rows
	Earnings      int64 // earnings over all rows
}

// InsuranceRow is one coverage change of a person's labor insurance history.
type InsuranceRow struct {
	EntryID int64
	Date    time.Time // event date (UTC midnight)
	Kind    InsuranceKind
	Unit    string
	Salary  int64 // insured salary, TWD
}

// InsuranceStatement is what an insurance inquiry shows: the latest six
// events (newest first by (date, entry id)) and the total insured seniority.
type InsuranceStatement struct {
	AsOf          time.Time
	Rows          []InsuranceRow
	SeniorityDays int // days covered, counted once, as of AsOf inclusive
}

// Seniority splits the covered days into years of 365 days and remaining days.
func (s *InsuranceStatement) Seniority() (years, days int) {
	return s.SeniorityDays / 365, s.SeniorityDays % 365
}

// Query asks for one inquiry's data.
type Query struct {
	Institution string // DE32
	PANHash     string // card.PANHasher.Hash of DE2
	Service     card.Service
}

// Answer is everything one inquiry needs from the ledger. A nil Consent means
// there is no consent record for (institution, PAN); a nil Person means no
// insured person has the consent's national ID. The statement of the asked
// service is filled whenever the person exists (a store may fetch it in the
// same round trip as the consent); the other one stays nil.
type Answer struct {
	Consent   *card.Consent
	Person    *card.Person
	Pension   *PensionStatement
	Insurance *InsuranceStatement
}

// Store is the ledger as the gateway sees it. Every call takes a context
// with a deadline; implementations must be safe for concurrent use.
type Store interface {
	Inquire(ctx context.Context, q Query) (Answer, error)
	Ping(ctx context.Context) error
	Close()
}
