package demo

import (
	"context"
	"io/fs"
	"slices"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/loadfile"
)

// Memory is a Store held in memory, built once from a loadfile.DataSet: the latest
// rows, the totals and the coverage of every person are computed when it is
// built. It is read-only and safe for concurrent use.
type Memory struct {
	asOf     time.Time
	persons  map[string]*memPerson
	consents map[memKey]card.Consent
}

type memKey struct{ institution, panHash string }

type memPerson struct {
	person                  card.Person
	pension                 []ledger.PensionRow   // latest six, newest first
	insurance               []ledger.InsuranceRow // latest six, newest first
	contributions, earnings int64
	cover                   ledger.Cover
}

var _ ledger.Store = (*Memory)(nil)

// NewMemory builds a Memory store from a checked data set (loadfile.ReadFS). Rows of
// unknown persons are dropped; a later duplicate key replaces an earlier one.
func NewMemory(ds *loadfile.DataSet) *Memory {
	m := &Memory{
		asOf:     ds.AsOf,
		persons:  make(map[string]*memPerson, len(ds.Persons)),
		consents: make(map[memKey]card.Consent, len(ds.Consents)),
	}
	for _, p := range ds.Persons {
		m.persons[p.NationalID] = &memPerson{person: p}
	}
	pension := make(map[string][]ledger.PensionRow)
	for _, r := range ds.Pension {
		if _, ok := m.persons[r.NationalID]; ok {
			pension[r.NationalID] = append(pension[r.NationalID], r.PensionRow)
		}
	}
	insurance := make(map[string][]ledger.InsuranceRow)
	for _, r := range ds.Insurance {
		if _, ok := m.persons[r.NationalID]; ok {
			insurance[r.NationalID] = append(insurance[r.NationalID], r.InsuranceRow)
		}
	}
	for id, rows := range pension {
		p := m.persons[id]
		p.contributions, p.earnings = ledger.PensionTotals(rows)
		p.pension = slices.Clip(ledger.LatestPension(rows, ledger.StatementRows))
	}
	for id, rows := range insurance {
		p := m.persons[id]
		p.cover = ledger.Coverage(rows)
		p.insurance = slices.Clip(ledger.LatestInsurance(rows, ledger.StatementRows))
	}
	for _, c := range ds.Consents {
		m.consents[memKey{c.Institution, c.PANHash}] = c.Consent
	}
	return m
}

// LoadMemory reads the load files of fsys (loadfile.ReadFS) into a Memory store. The
// report lists the refused rows; the store holds the good ones.
func LoadMemory(ctx context.Context, fsys fs.FS, h *card.PANHasher) (*Memory, loadfile.Report, error) {
	ds, rep, err := loadfile.ReadFS(ctx, fsys, h, nil)
	if err != nil {
		return nil, loadfile.Report{}, err
	}
	return NewMemory(ds), rep, nil
}

// AsOf is the date of the export the store was built from.
func (m *Memory) AsOf() time.Time { return m.asOf }

// Inquire implements Store.
func (m *Memory) Inquire(ctx context.Context, q ledger.Query) (ledger.Answer, error) {
	if err := ctx.Err(); err != nil {
		return ledger.Answer{}, err
	}
	c, ok := m.consents[memKey{q.Institution, q.PANHash}]
	if !ok {
		return ledger.Answer{}, nil
	}
	ans := ledger.Answer{Consent: &c}
	p, ok := m.persons[c.NationalID]
	if !ok {
		return ans, nil
	}
	person := p.person
	ans.Person = &person
	switch q.Service {
	case card.ServicePension:
		ans.Pension = &ledger.PensionStatement{
			AsOf:          m.asOf,
			Rows:          slices.Clone(p.pension),
			Contributions: p.contributions,
			Earnings:      p.earnings,
		}
	case card.ServiceInsurance:
		ans.Insurance = &ledger.InsuranceStatement{
			AsOf:          m.asOf,
			Rows:          slices.Clone(p.insurance),
			SeniorityDays: p.cover.Days(m.asOf),
		}
	}
	return ans, nil
}

// Ping implements Store: a Memory store is always there.
func (m *Memory) Ping(ctx context.Context) error { return ctx.Err() }

// Close implements Store; it does nothing.
func (m *Memory) Close() {}
