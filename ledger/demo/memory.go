package demo

import (
	"context"
	"io/fs"
	"slices"
	"sync"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/loadfile"
)

// Memory is a Store held in memory, built once from a loadfile.DataSet: the latest
// rows, the totals and the coverage of every person are computed when it is
// built. Its ledger is read-only; its consents also take online
// registrations (Register), kept in this process only: a restart forgets
// them. It is safe for concurrent use.
type Memory struct {
	asOf     time.Time
	persons  map[string]*memPerson
	mu       sync.RWMutex // guards consents
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

var (
	_ ledger.Store           = (*Memory)(nil)
	_ ledger.ConsentRegistry = (*Memory)(nil)
)

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
	m.mu.RLock()
	c, ok := m.consents[memKey{q.Institution, q.PANHash}]
	m.mu.RUnlock()
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

// Register implements ledger.ConsentRegistry in memory (ledger.ResolveRegistration
// against this store's consents and persons). Registrations are not
// persisted: a restart of the process forgets them.
func (m *Memory) Register(ctx context.Context, u ledger.ConsentUpdate) (ledger.ConsentResult, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var person *card.Person
	if p, ok := m.persons[u.Consent.NationalID]; ok {
		person = &p.person
	}
	k := memKey{u.Consent.Institution, u.PANHash}
	m.mu.Lock()
	defer m.mu.Unlock()
	var stored *card.Consent
	if c, ok := m.consents[k]; ok {
		stored = &c
	}
	res, rec := ledger.ResolveRegistration(stored, u, person)
	if rec != nil {
		m.consents[k] = *rec
	}
	return res, nil
}
