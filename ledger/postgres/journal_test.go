package postgres_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bli/atmgw/audit"
	"github.com/bli/atmgw/internal/metrictest"
	"github.com/bli/atmgw/internal/testledger"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/cardstatetest"
	"github.com/bli/atmgw/ledger/pgtest"
	"github.com/bli/atmgw/ledger/postgres"
)

// openJournal is an audit trail on the database at url.
func openJournal(t testing.TB, url string) *audit.Writer {
	t.Helper()
	w, err := audit.Open(ctxT(t), audit.Options{DatabaseURL: url, SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return w
}

// codes are the response codes by verdict that the tests journal.
var codes = [...]string{"00", "94", "63", "65"}

// journaling is a CardState whose every Check is a CheckJournaled that
// must be journaled: the shared suite's verdicts, records going along.
type journaling struct {
	*postgres.CardState
	t        testing.TB
	stans    atomic.Int64 // checks asked
	answered atomic.Int64 // checks answered, journaled
}

func (j *journaling) Check(ctx context.Context, c ledger.CardCheck) (ledger.CardVerdict, error) {
	rec := audit.Record{Time: c.Now, Institution: "0040000", Terminal: "T1", STAN: strconv.FormatInt(j.stans.Add(1), 10), Service: "pension", PANHash: c.PANHash}
	v, journaled, err := j.CheckJournaled(ctx, c, &ledger.Journal{Record: rec, Codes: codes})
	if err == nil && !journaled {
		j.t.Errorf("Check(%q): answered but not journaled", c.Key)
	}
	if err == nil {
		j.answered.Add(1)
	}
	return v, err
}

// TestCardStateJournalSuite: the shared suite, every check carrying its
// answer's record: the same verdicts, and every record answered stored.
func TestCardStateJournalSuite(t *testing.T) {
	cardstatetest.Run(t, func(t *testing.T, o ledger.CardStateOptions) ledger.CardState {
		url := testledger.Database(t)
		j := &journaling{CardState: openCardState(t, url, postgres.CardStateOptions{CardStateOptions: o, Journal: openJournal(t, url)}), t: t}
		t.Cleanup(func() {
			var n int64
			pgtest.QueryRow(t, url, "SELECT count(*) FROM audit_log", &n)
			// Every answered check's record; at most one per check asked (one
			// whose caller stopped waiting may have been committed too).
			if n < j.answered.Load() || n > j.stans.Load() {
				t.Errorf("audit_log holds %d records: %d checks answered, %d asked", n, j.answered.Load(), j.stans.Load())
			}
		})
		return j
	})
}

// TestCardStateJournal: a journaled check stores its record, in the same
// commit, with the response code of its verdict; a plain Check in the same
// batch stores none; the Journal counts what it stored.
func TestCardStateJournal(t *testing.T) {
	url := testledger.Database(t)
	w := openJournal(t, url)
	s := openCardState(t, url, postgres.CardStateOptions{
		CardStateOptions: ledger.CardStateOptions{RateLimit: 1, RateWindow: time.Hour},
		Journal:          w,
	})
	defer s.Close()
	ctx := ctxT(t)
	hash := cardstatetest.Hash("journal")
	check := func(stan string, c ledger.CardCheck, want ledger.CardVerdict, held string) {
		t.Helper()
		cs := codes
		if held != "" {
			cs[ledger.CardAccepted] = held
		}
		rec := audit.Record{Time: c.Now, Institution: "0040000", Terminal: "T1", STAN: stan, RRN: "R" + stan, Service: "pension",
			PANHash: c.PANHash, Latency: 1500 * time.Microsecond}
		v, journaled, err := s.CheckJournaled(ctx, c, &ledger.Journal{Record: rec, Codes: cs})
		if err != nil || v != want || !journaled {
			t.Fatalf("STAN %s: %v journaled %v %v, want %v journaled", stan, v, journaled, err, want)
		}
	}
	check("1", cardCheck("k1", "journal", 5, 0), ledger.CardAccepted, "")
	check("2", cardCheck("k1", "journal", 6, time.Second), ledger.CardDuplicate, "")
	check("3", cardCheck("k3", "journal", 5, 2*time.Second), ledger.CardReplayed, "")
	check("4", cardCheck("k4", "journal", 7, 3*time.Second), ledger.CardOverRate, "")
	held := cardCheck("k5", "journal", 0, 4*time.Second)
	held.Card = false
	check("5", held, ledger.CardAccepted, "57")
	mustCheck(t, s, cardCheck("k6", "journal", 9, 5*time.Second), ledger.CardOverRate) // plain: no record

	want := map[string]string{"1": "00", "2": "94", "3": "63", "4": "65", "5": "57"}
	rows, err := pgtest.Connect(t, url).Query(ctx, "SELECT stan, response_code, rrn, pan_hash, latency_us FROM audit_log")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var stan, rc, rrn, pan string
		var lat int64
		if err := rows.Scan(&stan, &rc, &rrn, &pan, &lat); err != nil {
			t.Fatal(err)
		}
		if rrn != "R"+stan || pan != hash || lat != 1500 {
			t.Errorf("STAN %s stored as rrn %q, pan_hash %q, latency %d", stan, rrn, pan, lat)
		}
		got[stan] = rc
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if len(got) != len(want) {
		t.Errorf("audit_log: %v, want %v", got, want)
	}
	for stan, rc := range want {
		if got[stan] != rc {
			t.Errorf("STAN %s stored with %q, want %q", stan, got[stan], rc)
		}
	}
	if st := w.Stats(); st.Journaled != 5 || st.Written != 5 {
		t.Errorf("journal stats: %d journaled, %d written, want 5 and 5", st.Journaled, st.Written)
	}
}

// TestCardStateJournalRefused: when the primary refuses a batch's records,
// the checks are answered all the same (sent again without them), not
// journaled, the card state stays up, and it is counted.
func TestCardStateJournalRefused(t *testing.T) {
	url := testledger.Database(t)
	reg := prometheus.NewRegistry()
	s := openCardState(t, url, postgres.CardStateOptions{Journal: openJournal(t, url), Registerer: reg})
	defer s.Close()
	pgtest.Exec(t, url, "ALTER TABLE audit_log ADD CONSTRAINT refuse_all CHECK (false) NOT VALID")
	ctx := ctxT(t)
	for i, want := range []ledger.CardVerdict{ledger.CardAccepted, ledger.CardReplayed} {
		rec := audit.Record{Time: cardstatetest.T0, Institution: "0040000", Terminal: "T1", STAN: strconv.Itoa(i)}
		v, journaled, err := s.CheckJournaled(ctx, cardCheck("r"+strconv.Itoa(i), "refused", 3, time.Duration(i)*time.Second), &ledger.Journal{Record: rec, Codes: codes})
		if err != nil || v != want || journaled {
			t.Fatalf("check %d: %v journaled %v %v, want %v not journaled", i, v, journaled, err, want)
		}
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("card state down after refused records: %v", err)
	}
	if n := metrictest.Value(t, reg, "atmgw_card_state_unjournaled_batches_total"); n != 2 {
		t.Errorf("unjournaled batches %v, want 2", n)
	}
	var n int64
	pgtest.QueryRow(t, url, "SELECT count(*) FROM audit_log", &n)
	if n != 0 {
		t.Errorf("audit_log holds %d rows", n)
	}
}

// TestCardStateWithoutJournal: without a Journal, CheckJournaled is Check.
func TestCardStateWithoutJournal(t *testing.T) {
	url := testledger.Database(t)
	s := openCardState(t, url, postgres.CardStateOptions{})
	defer s.Close()
	v, journaled, err := s.CheckJournaled(ctxT(t), cardCheck("k", "plain", 1, 0), &ledger.Journal{Record: audit.Record{STAN: "1"}, Codes: codes})
	if err != nil || v != ledger.CardAccepted || journaled {
		t.Fatalf("%v journaled %v %v, want accepted, not journaled", v, journaled, err)
	}
	var n int64
	pgtest.QueryRow(t, url, "SELECT count(*) FROM audit_log", &n)
	if n != 0 {
		t.Errorf("audit_log holds %d rows", n)
	}
}
