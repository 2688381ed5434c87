package loadfile

import (
	"context"
	"fmt"
	"io/fs"
	"time"

	"github.com/bli/atmgw/card"
)

// DataSet is a whole set of load files, checked, in memory: what the
// in-memory store (demo.Memory) is built from. Every row in it passed
// every check.
type DataSet struct {
	AsOf      time.Time
	Persons   []card.Person
	Pension   []PensionRecord
	Insurance []InsuranceRecord
	Consents  []ConsentRecord
}

// progressEvery is how many rows a loader reads between two Progress calls.
const progressEvery = 10_000

// OpenFile opens one of the load files of fsys, with an error naming it.
func OpenFile(fsys fs.FS, name string) (fs.File, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, nil
}

// ReadAsOfFS reads as_of.txt of fsys.
func ReadAsOfFS(fsys fs.FS) (time.Time, error) {
	f, err := OpenFile(fsys, FileAsOf)
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	return ReadAsOf(f)
}

// ReadFS reads and checks the five load files of fsys into memory (for the
// demo ledger and tests: the PostgreSQL loader streams instead). The rows
// are checked one by one as the readers do, then across rows, in this
// order, with the same outcome as the PostgreSQL loader:
//
//   - persons.csv: a national ID seen on an earlier good row is refused;
//   - pension_ledger.csv, insurance_events.csv: an entry id seen on an
//     earlier good row of the file is refused; then a row whose national
//     ID is not an accepted person is refused;
//   - consents.csv: an (institution, PAN) seen on an earlier good row is
//     refused. A consent may name an unknown person (the gateway answers
//     25 for it).
//
// Refused rows are in the report; the error is for what stops the whole
// load (a missing file, a wrong header, I/O): then nothing is returned.
func ReadFS(ctx context.Context, fsys fs.FS, h *card.PANHasher, progress Progress) (*DataSet, Report, error) {
	asOf, err := ReadAsOfFS(fsys)
	if err != nil {
		return nil, Report{}, err
	}
	rep := NewReport(asOf)
	ds := &DataSet{AsOf: asOf}
	reject := rep.Refuse

	persons := make(map[string]int)
	err = readAll(ctx, fsys, FilePersons, progress, &rep,
		func(f fs.File) (*Reader[card.Person], error) { return NewPersonsReader(f, reject) },
		func(line int, p card.Person) {
			if first, dup := persons[p.NationalID]; dup {
				reject(RowError{FilePersons, line, ReasonDuplicatePerson(p.NationalID, first)})
				return
			}
			persons[p.NationalID] = line
			ds.Persons = append(ds.Persons, p)
		})
	if err != nil {
		return nil, Report{}, err
	}

	type pending[T any] struct {
		line int
		rec  T
	}
	var pens []pending[PensionRecord]
	pensIDs := make(map[int64]int)
	err = readAll(ctx, fsys, FilePension, progress, &rep,
		func(f fs.File) (*Reader[PensionRecord], error) { return NewPensionReader(f, reject) },
		func(line int, r PensionRecord) {
			if first, dup := pensIDs[r.EntryID]; dup {
				reject(RowError{FilePension, line, ReasonDuplicateEntry(r.EntryID, first)})
				return
			}
			pensIDs[r.EntryID] = line
			pens = append(pens, pending[PensionRecord]{line, r})
		})
	if err != nil {
		return nil, Report{}, err
	}
	for _, p := range pens {
		if _, ok := persons[p.rec.NationalID]; !ok {
			reject(RowError{FilePension, p.line, ReasonUnknownPerson(p.rec.NationalID)})
			continue
		}
		ds.Pension = append(ds.Pension, p.rec)
	}

	var ins []pending[InsuranceRecord]
	insIDs := make(map[int64]int)
	err = readAll(ctx, fsys, FileInsurance, progress, &rep,
		func(f fs.File) (*Reader[InsuranceRecord], error) { return NewInsuranceReader(f, asOf, reject) },
		func(line int, r InsuranceRecord) {
			if first, dup := insIDs[r.EntryID]; dup {
				reject(RowError{FileInsurance, line, ReasonDuplicateEntry(r.EntryID, first)})
				return
			}
			insIDs[r.EntryID] = line
			ins = append(ins, pending[InsuranceRecord]{line, r})
		})
	if err != nil {
		return nil, Report{}, err
	}
	for _, p := range ins {
		if _, ok := persons[p.rec.NationalID]; !ok {
			reject(RowError{FileInsurance, p.line, ReasonUnknownPerson(p.rec.NationalID)})
			continue
		}
		ds.Insurance = append(ds.Insurance, p.rec)
	}

	type consentKey struct{ inst, hash string }
	consents := make(map[consentKey]int)
	err = readAll(ctx, fsys, FileConsents, progress, &rep,
		func(f fs.File) (*Reader[ConsentRecord], error) { return NewConsentsReader(f, h, reject) },
		func(line int, c ConsentRecord) {
			k := consentKey{c.Institution, c.PANHash}
			if first, dup := consents[k]; dup {
				reject(RowError{FileConsents, line, ReasonDuplicateConsent(c.Institution, first)})
				return
			}
			consents[k] = line
			ds.Consents = append(ds.Consents, c)
		})
	if err != nil {
		return nil, Report{}, err
	}

	for i := range rep.Files {
		f := &rep.Files[i]
		f.Accepted = f.Rows - f.Refused
		f.Changed = f.Accepted
	}
	rep.SortErrors()
	return ds, rep, nil
}

// readAll streams one file through a Reader into use, counting rows.
func readAll[T any](ctx context.Context, fsys fs.FS, name string, progress Progress, rep *Report,
	open func(fs.File) (*Reader[T], error), use func(line int, row T)) error {
	f, err := OpenFile(fsys, name)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := open(f)
	if err != nil {
		return err
	}
	for r.Next() {
		use(r.Line(), r.Row())
		if r.Rows()%progressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if progress != nil {
				progress(name, r.Rows())
			}
		}
	}
	if err := r.Err(); err != nil {
		return err
	}
	if progress != nil {
		progress(name, r.Rows())
	}
	rep.File(name).Rows = r.Rows()
	return nil
}
