package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bli/atmgw/ledger"
)

// restateBatch is how many persons' statements are computed per round trip.
const restateBatch = 5000

// unstatedSQL is the condition of a person whose ready-made statements are
// not computed yet (migration 0004's partial index persons_unstated).
const unstatedSQL = "pension IS NULL OR insurance IS NULL"

// restateUnstated computes the ready-made statements of every person who
// has none yet (after the migration that added them), in tx.
func restateUnstated(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS affected (national_id text PRIMARY KEY) ON COMMIT DROP`); err != nil {
		return err
	}
	if err := affectUnstated(ctx, tx); err != nil {
		return err
	}
	return restate(ctx, tx)
}

// affectUnstated adds the persons with no statement yet to affected.
func affectUnstated(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, "INSERT INTO affected SELECT national_id FROM persons WHERE "+unstatedSQL+" ON CONFLICT DO NOTHING")
	return err
}

// restate computes the ready-made statements (ledger.AppendPension and
// ledger.AppendInsurance) of the persons in the temporary table affected
// from their ledger rows, a batch of persons per round trip, and stores
// those that changed. The totals are summed in SQL; the latest six rows
// come through the (national_id, ...) DESC indexes; the coverage is
// ledger.Coverage over all the person's insurance events, in Go.
func restate(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `ANALYZE affected;
		CREATE TEMP TABLE IF NOT EXISTS stage_statements (national_id text NOT NULL, pension bytea NOT NULL,
			insurance bytea NOT NULL) ON COMMIT DROP`); err != nil {
		return fmt.Errorf("load: statements: %w", err)
	}
	last := ""
	for {
		batch, err := restateNext(ctx, tx, last)
		if err != nil {
			return fmt.Errorf("load: statements: %w", err)
		}
		if len(batch) == 0 {
			break
		}
		last = batch[len(batch)-1].id
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"stage_statements"}, []string{"national_id", "pension", "insurance"},
			pgx.CopyFromSlice(len(batch), func(i int) ([]any, error) {
				return []any{batch[i].id, batch[i].pension, batch[i].insurance}, nil
			})); err != nil {
			return fmt.Errorf("load: statements: %w", err)
		}
		if len(batch) < restateBatch {
			break
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE persons p SET pension = s.pension, insurance = s.insurance
		FROM stage_statements s WHERE p.national_id = s.national_id
		AND (p.pension, p.insurance) IS DISTINCT FROM (s.pension, s.insurance)`); err != nil {
		return fmt.Errorf("load: statements: %w", err)
	}
	return nil
}

type statementRow struct {
	id                 string
	pension, insurance []byte
}

// restateNext computes the statements of the next batch of affected
// persons after last, in national ID order.
func restateNext(ctx context.Context, tx pgx.Tx, last string) ([]statementRow, error) {
	rows, err := tx.Query(ctx, `SELECT a.national_id, t.contributions, t.earnings, r.entry_id, r.period, r.kind, r.amount, r.unit_name
		FROM (SELECT national_id FROM affected WHERE national_id > $1 ORDER BY national_id LIMIT $2) a
		CROSS JOIN LATERAL (SELECT coalesce(sum(l.amount) FILTER (WHERE l.kind IN (1, 2, 4, 5)), 0)::bigint AS contributions,
				coalesce(sum(l.amount) FILTER (WHERE l.kind = 3), 0)::bigint AS earnings
			FROM pension_ledger l WHERE l.national_id = a.national_id) t
		LEFT JOIN LATERAL (SELECT l.entry_id, l.period, l.kind, l.amount, l.unit_name FROM pension_ledger l
			WHERE l.national_id = a.national_id ORDER BY l.entry_id DESC LIMIT 6) r ON true
		ORDER BY a.national_id, r.entry_id DESC`, pgx.QueryExecModeExec, last, restateBatch)
	if err != nil {
		return nil, err
	}
	var (
		out      []statementRow
		cur      string
		pRows    []ledger.PensionRow
		contrib  int64
		earnings int64
	)
	flushPension := func() {
		if cur != "" {
			out = append(out, statementRow{id: cur, pension: ledger.AppendPension(nil, pRows, contrib, earnings)})
		}
		pRows = pRows[:0]
	}
	var (
		id     string
		c, e   int64
		eid    *int64
		period *time.Time
		kind   *int16
		amount *int64
		unit   *string
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &c, &e, &eid, &period, &kind, &amount, &unit}, func() error {
		if id != cur {
			flushPension()
			cur, contrib, earnings = id, c, e
		}
		if eid != nil {
			pRows = append(pRows, ledger.PensionRow{EntryID: *eid, Year: period.Year(), Month: int(period.Month()),
				Kind: ledger.PensionKind(*kind), Unit: *unit, Amount: *amount})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	flushPension()
	if len(out) == 0 {
		return nil, nil
	}

	// Insurance: every event of the batch's persons, oldest first.
	// Each person's events through the index (a join the planner may
	// choose would scan the whole table for every batch: 4.6 s a batch at
	// 1,000,000 persons).
	rows, err = tx.Query(ctx, `SELECT a.national_id, e.event_date, e.entry_id, e.kind, e.unit_name, e.insured_salary
		FROM unnest($1::text[]) WITH ORDINALITY a(national_id, o)
		LEFT JOIN LATERAL (SELECT e.event_date, e.entry_id, e.kind, e.unit_name, e.insured_salary
			FROM insurance_events e WHERE e.national_id = a.national_id
			ORDER BY e.event_date DESC, e.entry_id DESC) e ON true
		ORDER BY a.o, e.event_date, e.entry_id`, pgx.QueryExecModeExec, ids(out))
	if err != nil {
		return nil, err
	}
	i := -1
	var evs []ledger.InsuranceRow
	flushInsurance := func() {
		if i >= 0 {
			latest := evs[max(0, len(evs)-ledger.StatementRows):]
			newest := make([]ledger.InsuranceRow, 0, len(latest))
			for j := len(latest) - 1; j >= 0; j-- {
				newest = append(newest, latest[j])
			}
			out[i].insurance = ledger.AppendInsurance(nil, newest, ledger.Coverage(evs))
		}
		evs = evs[:0]
	}
	var (
		date   *time.Time
		salary *int64
	)
	cur = ""
	_, err = pgx.ForEachRow(rows, []any{&id, &date, &eid, &kind, &unit, &salary}, func() error {
		if id != cur {
			flushInsurance()
			cur = id
			i++
			if i >= len(out) || out[i].id != id {
				return fmt.Errorf("persons out of order (%d)", i)
			}
		}
		if eid != nil {
			evs = append(evs, ledger.InsuranceRow{EntryID: *eid, Date: *date, Kind: ledger.InsuranceKind(*kind),
				Unit: *unit, Salary: *salary})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	flushInsurance()
	if i != len(out)-1 {
		return nil, fmt.Errorf("insurance events of %d persons, want %d", i+1, len(out))
	}
	return out, nil
}

func ids(rs []statementRow) []string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.id
	}
	return s
}
