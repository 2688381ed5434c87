package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger/loadfile"
)

// Progress is loadfile.Progress: the file being read and its rows read so far.
type Progress = loadfile.Progress

// Report is loadfile.Report: counts per file and the refused rows.
type Report = loadfile.Report

// Load loads the five load files of dir; see LoadFS.
func Load(ctx context.Context, pool *Pool, dir string, h *card.PANHasher, progress Progress) (Report, error) {
	return LoadFS(ctx, pool, os.DirFS(dir), h, progress)
}

// LoadFS loads the five load files of fsys into the database, in one
// transaction under an advisory lock (one load at a time):
//
//  1. each CSV file is streamed through its loadfile.Reader (rows checked one
//     by one; a PAN is hashed at once and never sent) into a temporary
//     staging table with COPY;
//  2. the checks across rows run in SQL, with the outcome of loadfile.ReadFS:
//     a repeated key is refused (the first good row wins), a ledger row of a
//     person neither in persons.csv nor already loaded is refused;
//  3. the good rows are upserted: new rows inserted, changed rows updated,
//     equal rows left alone (so loading the same files twice changes
//     nothing: Report.Files[].Changed is 0 the second time). Rows of the
//     database that the files do not name stay. A consent registered
//     online (Store.Register) is replaced only by a row signed strictly
//     later (the later signed date wins; the online
//     record on the same date);
//  4. the ready-made statements of every person whose ledger rows changed,
//     and of every new person, are recomputed (restate: the totals in SQL,
//     the latest rows through the indexes, ledger.Coverage in Go, over
//     batches of persons), and the as-of date is stored.
//
// Refused rows are in the report and do not stop the others. The error is
// for what stops the whole load, and then nothing is changed: a missing
// file, a wrong header, an as-of date older than the one already loaded,
// no schema, a database error, ctx done.
func LoadFS(ctx context.Context, pool *Pool, fsys fs.FS, h *card.PANHasher, progress Progress) (Report, error) {
	if h == nil {
		return Report{}, errors.New("load: no PAN hasher")
	}
	asOf, err := loadfile.ReadAsOfFS(fsys)
	if err != nil {
		return Report{}, err
	}
	for _, name := range loadfile.CSVFiles() {
		if _, err := fs.Stat(fsys, name); err != nil {
			return Report{}, fmt.Errorf("%s: %w", name, err)
		}
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("load: %w", err)
	}
	defer conn.Release()
	if err := checkSchema(ctx, conn); err != nil {
		return Report{}, err
	}
	l := &loader{fsys: fsys, h: h, progress: progress, asOf: asOf, rep: loadfile.NewReport(asOf)}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		l.tx = tx
		return l.run(ctx)
	})
	if err != nil {
		return Report{}, err
	}
	l.rep.SortErrors()
	for i := range l.rep.Files {
		f := &l.rep.Files[i]
		f.Accepted = f.Rows - f.Refused
	}
	return l.rep, nil
}

type loader struct {
	fsys     fs.FS
	h        *card.PANHasher
	progress Progress
	asOf     time.Time
	tx       pgx.Tx
	rep      loadfile.Report
}

const stagingDDL = `
CREATE TEMP TABLE stage_persons (line integer NOT NULL, national_id text NOT NULL, name text NOT NULL,
	birth_date date NOT NULL) ON COMMIT DROP;
CREATE TEMP TABLE stage_pension (line integer NOT NULL, entry_id bigint NOT NULL, national_id text NOT NULL,
	period date NOT NULL, kind smallint NOT NULL, unit_name text NOT NULL, amount bigint NOT NULL) ON COMMIT DROP;
CREATE TEMP TABLE stage_insurance (line integer NOT NULL, entry_id bigint NOT NULL, national_id text NOT NULL,
	event_date date NOT NULL, kind smallint NOT NULL, unit_name text NOT NULL, insured_salary bigint NOT NULL) ON COMMIT DROP;
CREATE TEMP TABLE stage_consents (line integer NOT NULL, institution text NOT NULL, pan_hash text NOT NULL,
	national_id text NOT NULL, name text NOT NULL, birth_date date NOT NULL, pension boolean NOT NULL,
	insurance boolean NOT NULL, signed_date date NOT NULL, revoked boolean NOT NULL) ON COMMIT DROP;
CREATE TEMP TABLE affected (national_id text PRIMARY KEY) ON COMMIT DROP;
`

func (l *loader) run(ctx context.Context) error {
	tx := l.tx
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockLoad); err != nil {
		return fmt.Errorf("load: lock: %w", err)
	}
	// Memory for this load only: the staging tables in memory rather than
	// spilled (temp_buffers holds until the session first uses a temporary
	// table: the load's connection is its own), the checks' hash
	// aggregates and the index builds without spilling to disk.
	if _, err := tx.Exec(ctx, `SET LOCAL work_mem = '256MB'; SET LOCAL maintenance_work_mem = '1GB'`); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if sp, err := tx.Begin(ctx); err == nil { // a connection that used temporary tables refuses: no matter
		if _, err := sp.Exec(ctx, `SET LOCAL temp_buffers = '1GB'`); err != nil {
			_ = sp.Rollback(ctx)
		} else if err := sp.Commit(ctx); err != nil {
			return fmt.Errorf("load: %w", err)
		}
	}
	var loaded *time.Time
	if err := tx.QueryRow(ctx, "SELECT max(as_of) FROM ledger_meta").Scan(&loaded); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if loaded != nil && l.asOf.Before(*loaded) {
		return fmt.Errorf("%s: %s is before the as-of date already loaded, %s: load the newest export",
			loadfile.FileAsOf, l.asOf.Format(time.DateOnly), loaded.Format(time.DateOnly))
	}
	if _, err := tx.Exec(ctx, stagingDDL); err != nil {
		return fmt.Errorf("load: staging tables: %w", err)
	}
	if err := l.stage(ctx); err != nil {
		return err
	}
	if err := l.checkRows(ctx); err != nil {
		return err
	}
	if err := l.upsert(ctx); err != nil {
		return err
	}
	// The persons with no statement yet (new ones) are affected too.
	if err := affectUnstated(ctx, tx); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if err := restate(ctx, tx); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO ledger_meta (singleton, as_of) VALUES (true, $1)
		ON CONFLICT (singleton) DO UPDATE SET as_of = excluded.as_of WHERE ledger_meta.as_of <> excluded.as_of`, l.asOf)
	if err != nil {
		return fmt.Errorf("load: as-of date: %w", err)
	}
	return nil
}

// stage streams the four CSV files into the staging tables.
func (l *loader) stage(ctx context.Context) error {
	reject := l.rep.Refuse
	if err := stageFile(ctx, l, loadfile.FilePersons, "stage_persons",
		[]string{"line", "national_id", "name", "birth_date"},
		func(f fs.File) (*loadfile.Reader[card.Person], error) { return loadfile.NewPersonsReader(f, reject) },
		func(line int, p card.Person, v []any) []any {
			return append(v, line, p.NationalID, p.Name, p.BirthDate)
		}); err != nil {
		return err
	}
	if err := stageFile(ctx, l, loadfile.FilePension, "stage_pension",
		[]string{"line", "entry_id", "national_id", "period", "kind", "unit_name", "amount"},
		func(f fs.File) (*loadfile.Reader[loadfile.PensionRecord], error) {
			return loadfile.NewPensionReader(f, reject)
		},
		func(line int, r loadfile.PensionRecord, v []any) []any {
			period := time.Date(r.Year, time.Month(r.Month), 1, 0, 0, 0, 0, time.UTC)
			return append(v, line, r.EntryID, r.NationalID, period, int16(r.Kind), r.Unit, r.Amount)
		}); err != nil {
		return err
	}
	if err := stageFile(ctx, l, loadfile.FileInsurance, "stage_insurance",
		[]string{"line", "entry_id", "national_id", "event_date", "kind", "unit_name", "insured_salary"},
		func(f fs.File) (*loadfile.Reader[loadfile.InsuranceRecord], error) {
			return loadfile.NewInsuranceReader(f, l.asOf, reject)
		},
		func(line int, r loadfile.InsuranceRecord, v []any) []any {
			return append(v, line, r.EntryID, r.NationalID, r.Date, int16(r.Kind), r.Unit, r.Salary)
		}); err != nil {
		return err
	}
	if err := stageFile(ctx, l, loadfile.FileConsents, "stage_consents",
		[]string{"line", "institution", "pan_hash", "national_id", "name", "birth_date", "pension", "insurance", "signed_date", "revoked"},
		func(f fs.File) (*loadfile.Reader[loadfile.ConsentRecord], error) {
			return loadfile.NewConsentsReader(f, l.h, reject)
		},
		func(line int, c loadfile.ConsentRecord, v []any) []any {
			return append(v, line, c.Institution, c.PANHash, c.NationalID, c.Name, c.BirthDate,
				c.Pension, c.Insurance, c.SignedDate, c.Revoked)
		}); err != nil {
		return err
	}
	_, err := l.tx.Exec(ctx, "ANALYZE stage_persons, stage_pension, stage_insurance, stage_consents")
	return err
}

func stageFile[T any](ctx context.Context, l *loader, name, table string, cols []string,
	open func(fs.File) (*loadfile.Reader[T], error), values func(int, T, []any) []any) error {
	f, err := loadfile.OpenFile(l.fsys, name)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := open(f)
	if err != nil {
		return err
	}
	src := &copySource[T]{r: r, values: values, progress: l.progress, buf: make([]any, 0, len(cols))}
	if _, err := l.tx.CopyFrom(ctx, pgx.Identifier{table}, cols, src); err != nil {
		if rerr := r.Err(); rerr != nil {
			return rerr
		}
		return fmt.Errorf("load: %s: %w", name, err)
	}
	if l.progress != nil {
		l.progress(name, r.Rows())
	}
	l.rep.File(name).Rows = r.Rows()
	return nil
}

// copySource feeds COPY from a loadfile.Reader, one row in memory at a time.
type copySource[T any] struct {
	r        *loadfile.Reader[T]
	values   func(int, T, []any) []any
	progress Progress
	buf      []any
	next     int64
}

func (s *copySource[T]) Next() bool {
	ok := s.r.Next()
	if s.progress != nil && s.r.Rows() >= s.next {
		s.progress(s.r.File(), s.r.Rows())
		s.next = s.r.Rows() + 10_000
	}
	return ok
}

func (s *copySource[T]) Values() ([]any, error) {
	s.buf = s.values(s.r.Line(), s.r.Row(), s.buf[:0])
	return s.buf, nil
}

func (s *copySource[T]) Err() error { return s.r.Err() }

// checkRows runs the checks across rows on the staging tables, in the order
// of loadfile.ReadFS, deleting the refused rows.
func (l *loader) checkRows(ctx context.Context) error {
	// dupes refuses the rows of table whose key was on an earlier row; the
	// reason gets the column shown of the row.
	dupes := func(file, table, key, shown string, reason func(shown any, first int) string) error {
		// One hash aggregate over the file's keys (no sort), then
		// the few repeated ones.
		var on []string
		for _, k := range strings.Split(key, ", ") {
			on = append(on, "s."+k+" = d."+k)
		}
		rows, err := l.tx.Query(ctx, fmt.Sprintf(`WITH d AS (
				SELECT %[2]s, min(line) AS first FROM %[1]s GROUP BY %[2]s HAVING count(*) > 1)
			DELETE FROM %[1]s s USING d WHERE %[4]s AND s.line <> d.first
			RETURNING s.line, s.%[3]s, d.first`, table, key, shown, strings.Join(on, " AND ")))
		if err != nil {
			return err
		}
		var line, first int32
		var k any
		_, err = pgx.ForEachRow(rows, []any{&line, &k, &first}, func() error {
			l.rep.Refuse(loadfile.RowError{File: file, Line: int(line), Reason: reason(k, int(first))})
			return nil
		})
		return err
	}
	unknown := func(file, table string) error {
		rows, err := l.tx.Query(ctx, fmt.Sprintf(`DELETE FROM %s s
			WHERE NOT EXISTS (SELECT 1 FROM stage_persons p WHERE p.national_id = s.national_id)
			  AND NOT EXISTS (SELECT 1 FROM persons p WHERE p.national_id = s.national_id)
			RETURNING s.line, s.national_id`, table))
		if err != nil {
			return err
		}
		var line int32
		var id string
		_, err = pgx.ForEachRow(rows, []any{&line, &id}, func() error {
			l.rep.Refuse(loadfile.RowError{File: file, Line: int(line), Reason: loadfile.ReasonUnknownPerson(id)})
			return nil
		})
		return err
	}
	entry := func(k any, first int) string { return loadfile.ReasonDuplicateEntry(k.(int64), first) }
	steps := []func() error{
		func() error {
			return dupes(loadfile.FilePersons, "stage_persons", "national_id", "national_id",
				func(k any, first int) string { return loadfile.ReasonDuplicatePerson(k.(string), first) })
		},
		func() error { return dupes(loadfile.FilePension, "stage_pension", "entry_id", "entry_id", entry) },
		func() error { return unknown(loadfile.FilePension, "stage_pension") },
		func() error { return dupes(loadfile.FileInsurance, "stage_insurance", "entry_id", "entry_id", entry) },
		func() error { return unknown(loadfile.FileInsurance, "stage_insurance") },
		func() error {
			// The key is (institution, pan_hash); the reason names the institution.
			return dupes(loadfile.FileConsents, "stage_consents", "institution, pan_hash", "institution",
				func(k any, first int) string { return loadfile.ReasonDuplicateConsent(k.(string), first) })
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("load: checks: %w", err)
		}
	}
	return nil
}

// upsert writes the staged rows, counting the changed ones and noting the
// persons whose ledger rows changed.
func (l *loader) upsert(ctx context.Context) error {
	tx := l.tx
	tag, err := tx.Exec(ctx, `INSERT INTO persons (national_id, name, birth_date)
		SELECT national_id, name, birth_date FROM stage_persons
		ON CONFLICT (national_id) DO UPDATE SET name = excluded.name, birth_date = excluded.birth_date
		WHERE (persons.name, persons.birth_date) IS DISTINCT FROM (excluded.name, excluded.birth_date)`)
	if err != nil {
		return fmt.Errorf("load: %s: %w", loadfile.FilePersons, err)
	}
	l.rep.File(loadfile.FilePersons).Changed = tag.RowsAffected()

	// A row that moves to another person changes the totals of both.
	if _, err := tx.Exec(ctx, `INSERT INTO affected
		SELECT l.national_id FROM pension_ledger l JOIN stage_pension s USING (entry_id) WHERE l.national_id <> s.national_id
		UNION
		SELECT e.national_id FROM insurance_events e JOIN stage_insurance s USING (entry_id) WHERE e.national_id <> s.national_id
		ON CONFLICT DO NOTHING`); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	for _, t := range []struct{ file, table, stage, cols string }{
		{loadfile.FilePension, "pension_ledger", "stage_pension", "national_id, period, kind, unit_name, amount"},
		{loadfile.FileInsurance, "insurance_events", "stage_insurance", "national_id, event_date, kind, unit_name, insured_salary"},
	} {
		n, err := l.upsertRows(ctx, t.table, t.stage, t.cols)
		if err != nil {
			return fmt.Errorf("load: %s: %w", t.file, err)
		}
		l.rep.File(t.file).Changed = n
	}
	tag, err = tx.Exec(ctx, `INSERT INTO consents (institution, pan_hash, national_id, name, birth_date, pension, insurance, signed_date, revoked)
		SELECT institution, pan_hash, national_id, name, birth_date, pension, insurance, signed_date, revoked FROM stage_consents
		ON CONFLICT (institution, pan_hash) DO UPDATE SET national_id = excluded.national_id, name = excluded.name,
			birth_date = excluded.birth_date, pension = excluded.pension, insurance = excluded.insurance,
			signed_date = excluded.signed_date, revoked = excluded.revoked, source = 'export', registered_at = NULL
		WHERE (consents.source = 'export' OR consents.signed_date < excluded.signed_date) -- the later signed date wins; the online record on the same date
		  AND (consents.national_id, consents.name, consents.birth_date, consents.pension, consents.insurance, consents.signed_date, consents.revoked)
			IS DISTINCT FROM (excluded.national_id, excluded.name, excluded.birth_date, excluded.pension, excluded.insurance, excluded.signed_date, excluded.revoked)`)
	if err != nil {
		return fmt.Errorf("load: %s: %w", loadfile.FileConsents, err)
	}
	l.rep.File(loadfile.FileConsents).Changed = tag.RowsAffected()
	return nil
}

// upsertRows writes the staged rows of a ledger table (key entry_id, the
// other columns cols), noting the persons whose rows changed in affected,
// and returns how many rows it inserted or changed.
//
// Into an empty table (the first load: every row new) it writes the rows
// with the table's indexes dropped and builds them again after, from
// their definitions in the catalog (the schema stays the migrations'):
// one sort per index instead of a B-tree insertion per row and index,
// several times faster. The whole load is one transaction, so no reader
// ever sees the table without them (an inquiry reads neither table).
func (l *loader) upsertRows(ctx context.Context, table, stage, cols string) (int64, error) {
	tx := l.tx
	var empty bool
	if err := tx.QueryRow(ctx, "SELECT NOT EXISTS (SELECT 1 FROM "+table+")").Scan(&empty); err != nil {
		return 0, err
	}
	if empty {
		return l.fill(ctx, table, stage, cols)
	}
	excluded := "excluded." + strings.ReplaceAll(cols, ", ", ", excluded.")
	current := table + "." + strings.ReplaceAll(cols, ", ", ", "+table+".")
	var set []string
	for _, c := range strings.Split(cols, ", ") {
		set = append(set, c+" = excluded."+c)
	}
	var n int64
	err := tx.QueryRow(ctx, `WITH up AS (
			INSERT INTO `+table+` (entry_id, `+cols+`)
			SELECT entry_id, `+cols+` FROM `+stage+`
			ON CONFLICT (entry_id) DO UPDATE SET `+strings.Join(set, ", ")+`
			WHERE (`+current+`) IS DISTINCT FROM (`+excluded+`)
			RETURNING national_id),
		a AS (INSERT INTO affected SELECT DISTINCT national_id FROM up ON CONFLICT DO NOTHING)
		SELECT count(*) FROM up`).Scan(&n)
	return n, err
}

// fill writes the staged rows into an empty ledger table without its
// indexes, then builds them again.
func (l *loader) fill(ctx context.Context, table, stage, cols string) (int64, error) {
	tx := l.tx
	type index struct{ name, def, constraint string }
	rows, err := tx.Query(ctx, `SELECT i.relname, pg_get_indexdef(i.oid), coalesce(c.conname, '')
		FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
		LEFT JOIN pg_constraint c ON c.conindid = i.oid AND c.contype = 'p'
		WHERE x.indrelid = $1::regclass ORDER BY i.relname`, table)
	if err != nil {
		return 0, err
	}
	idx, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (index, error) {
		var i index
		err := r.Scan(&i.name, &i.def, &i.constraint)
		return i, err
	})
	if err != nil {
		return 0, err
	}
	for _, i := range idx {
		drop := "DROP INDEX " + pgx.Identifier{i.name}.Sanitize()
		if i.constraint != "" {
			drop = "ALTER TABLE " + table + " DROP CONSTRAINT " + pgx.Identifier{i.constraint}.Sanitize()
		}
		if _, err := tx.Exec(ctx, drop); err != nil {
			return 0, err
		}
	}
	tag, err := tx.Exec(ctx, `INSERT INTO `+table+` (entry_id, `+cols+`) SELECT entry_id, `+cols+` FROM `+stage)
	if err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO affected SELECT DISTINCT national_id FROM `+stage+` ON CONFLICT DO NOTHING`); err != nil {
		return 0, err
	}
	for _, i := range idx {
		if _, err := tx.Exec(ctx, i.def); err != nil {
			return 0, err
		}
		if i.constraint != "" {
			if _, err := tx.Exec(ctx, "ALTER TABLE "+table+" ADD CONSTRAINT "+pgx.Identifier{i.constraint}.Sanitize()+
				" PRIMARY KEY USING INDEX "+pgx.Identifier{i.name}.Sanitize()); err != nil {
				return 0, err
			}
		}
	}
	return tag.RowsAffected(), nil
}
