package gateway_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/internal/config"
	"github.com/bli/atmgw/internal/gatewaytest"
	"github.com/bli/atmgw/internal/leaktest"
	"github.com/bli/atmgw/internal/metrictest"
	"github.com/bli/atmgw/internal/testclient"
	"github.com/bli/atmgw/internal/testledger"
	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/ledger/pgtest"
)

type auditRow struct{ rc, panHash, institution, terminal, service string }

// auditRows is the audit_log table by STAN.
func auditRows(t *testing.T, dbURL string) map[string]auditRow {
	t.Helper()
	ctx := context.Background()
	c := pgtest.Connect(t, dbURL)
	defer c.Close(ctx)
	rows, err := c.Query(ctx, "SELECT stan, response_code, pan_hash, institution, terminal, service FROM audit_log")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]auditRow{}
	n := 0
	for rows.Next() {
		var stan string
		var r auditRow
		if err := rows.Scan(&stan, &r.rc, &r.panHash, &r.institution, &r.terminal, &r.service); err != nil {
			t.Fatal(err)
		}
		out[stan] = r
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(out) {
		t.Errorf("audit_log holds %d rows for %d STANs: a request recorded twice", n, len(out))
		dump, _ := c.Query(ctx, "SELECT id, stan, response_code FROM audit_log ORDER BY stan")
		for dump.Next() {
			var id, stan, rc string
			dump.Scan(&id, &stan, &rc)
			t.Logf("%s %s %s", id, stan, rc)
		}
		dump.Close()
	}
	return out
}

// TestAuditAcrossDatabaseRestart: a gateway on PostgreSQL answers N
// requests, the database stops, M more are answered (91, even for an unknown
// service: decision 7 needs the primary), the database comes back, K more. The audit trail holds
// exactly one row per answered request, with its response code, those of
// the outage replayed from the spool while the gateway runs; the spool is
// empty at the end and no goroutine is left.
func TestAuditAcrossDatabaseRestart(t *testing.T) {
	pg := pgtest.StartServer(t)
	testledger.Load(t, pg.URL())
	spool := t.TempDir()

	answered := map[string]string{} // STAN → DE39
	var n, m, k int
	leaktest.Check(t)
	t.Run("run", func(t *testing.T) {
		gw := gatewaytest.Start(t, gatewaytest.WithDatabase(pg.URL()), gatewaytest.WithoutRateLimit(),
			gatewaytest.WithConfig(func(c *config.Config) {
				c.Audit.Mode = config.AuditDatabase
				c.Audit.SpoolDir = spool
				c.Audit.BatchSize = 4
				c.Audit.ProbeInterval = config.Duration(100 * time.Millisecond)
			}))
		reg := gw.App.Registry
		c, err := testclient.Dial(gw.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		stan := 0
		on := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: "000000", Institution: "700", NetworkCode: "001"}
		if r, err := c.Do(on, nil, 10*time.Second); err != nil || r.ResponseCode != "00" {
			t.Fatalf("sign-on: %v %+v", err, r)
		}
		send := func(pc string) string {
			stan++
			s := fmt.Sprintf("%06d", stan)
			icc := card.BuildICC(card.ICC{CID: 0x80, ATC: uint16(stan)})
			req := &iso.Message{MTI: "0200", PAN: testledger.PanOK, ProcessingCode: pc, TransmissionTime: "1124153010",
				STAN: s, LocalTime: "153010", LocalDate: "1124", Expiry: "3012", EntryMode: "051",
				Institution: "700", RRN: "26112400" + s[2:], TerminalID: "ATM70001", ICC: icc}
			r, err := c.Do(req, nil, 10*time.Second)
			if err != nil {
				t.Fatalf("STAN %s: %v", s, err)
			}
			answered[s] = r.ResponseCode
			return r.ResponseCode
		}
		waitAudit := func(what string, cond func() bool) {
			t.Helper()
			deadline := time.Now().Add(60 * time.Second) // a hang guard, not a speed target
			for !cond() {
				if time.Now().After(deadline) {
					t.Fatalf("gave up waiting for %s", what)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}

		for ; n < 6; n++ {
			pc := "390000"
			if n%2 == 1 {
				pc = "380000"
			}
			if rc := send(pc); rc != "00" {
				t.Fatalf("before the stop: %s", rc)
			}
		}
		waitAudit("the first requests in the table", func() bool { return len(auditRows(t, pg.URL())) == n })

		pg.Stop()
		for ; m < 10; m++ {
			// Decision 7 needs the primary (card state): every request is
			// 91, even one the ledger need not be asked about (fail closed).
			pc, want := "390000", "91"
			if m%5 == 4 {
				pc = "370000"
			}
			if rc := send(pc); rc != want {
				t.Fatalf("database down: %s, want %s", rc, want)
			}
		}
		waitAudit("the outage's records in the spool", func() bool { return metrictest.Sum(t, reg, "atmgw_audit_spool_records") == float64(m) })
		if v := metrictest.Sum(t, reg, "atmgw_audit_database_up"); v != 0 {
			t.Errorf("atmgw_audit_database_up %v during the outage", v)
		}

		pg.Start()
		deadline := time.Now().Add(60 * time.Second)
		for {
			k++
			rc := send("390000")
			if rc == "00" {
				break
			}
			if rc != "91" || time.Now().After(deadline) {
				t.Fatalf("after the database came back: %s", rc)
			}
			time.Sleep(100 * time.Millisecond)
		}
		for i := 0; i < 5; i++ {
			k++
			if rc := send("380000"); rc != "00" {
				t.Fatalf("after the database came back: %s", rc)
			}
		}
		// Replayed while the gateway runs, not only at its stop.
		waitAudit("the spool replayed", func() bool {
			return metrictest.Sum(t, reg, "atmgw_audit_spool_records") == 0 && len(auditRows(t, pg.URL())) == n+m+k
		})
		if v := metrictest.Sum(t, reg, "atmgw_audit_batches_failed_total"); v < 1 {
			t.Errorf("atmgw_audit_batches_failed_total %v: the outage was not seen", v)
		}
	})
	if t.Failed() {
		return
	}

	rows := auditRows(t, pg.URL())
	if len(rows) != n+m+k || len(answered) != n+m+k {
		t.Errorf("audit_log holds %d rows, %d requests answered (N=%d M=%d K=%d)", len(rows), len(answered), n, m, k)
	}
	h, _ := card.NewPANHasher(testledger.DemoKey())
	wantHash := h.Hash(testledger.PanOK)
	for stan, rc := range answered {
		r, ok := rows[stan]
		switch {
		case !ok:
			t.Errorf("STAN %s (answered %s) not in the audit trail", stan, rc)
		case r.rc != rc:
			t.Errorf("STAN %s: audit says %s, answered %s", stan, r.rc, rc)
		case r.panHash != wantHash || r.institution != "700" || r.terminal != "ATM70001":
			t.Errorf("STAN %s: %+v", stan, r)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(spool, "*")); len(files) != 0 {
		t.Errorf("spool directory not empty at the end: %v", files)
	}
}

// TestAuditJournaled: on PostgreSQL, the record of every inquiry that
// reaches decision 7 is committed with its card state check, and stored
// with the code the answer has, whatever the verdict (00, a decline held
// from decisions 8 to 13, 94, 63, 65); one declined before decision 7 goes
// through the trail's own batch. One row per answer, none in the spool.
func TestAuditJournaled(t *testing.T) {
	pg := pgtest.StartServer(t)
	testledger.Load(t, pg.URL())
	gw := gatewaytest.Start(t, gatewaytest.WithDatabase(pg.URL()), gatewaytest.WithConfig(func(c *config.Config) {
		c.Audit.Mode = config.AuditDatabase
		c.Audit.SpoolDir = t.TempDir()
	}))
	c, err := testclient.Dial(gw.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	on := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: "000000", Institution: "700", NetworkCode: "001"}
	if r, err := c.Do(on, nil, 10*time.Second); err != nil || r.ResponseCode != "00" {
		t.Fatalf("sign-on: %v %+v", err, r)
	}
	answered := map[string]string{}
	stan := 0
	build := func(pan, pc string, atc uint16) *iso.Message {
		stan++
		s := fmt.Sprintf("%06d", stan)
		return &iso.Message{MTI: "0200", PAN: pan, ProcessingCode: pc, TransmissionTime: "1124153010",
			STAN: s, LocalTime: "153010", LocalDate: "1124", Expiry: "3012", EntryMode: "051",
			Institution: "700", RRN: "26112400" + s[2:], TerminalID: "ATM70001", ICC: card.BuildICC(card.ICC{CID: 0x80, ATC: atc})}
	}
	send := func(req *iso.Message, want string) {
		t.Helper()
		r, err := c.Do(req, nil, 10*time.Second)
		if err != nil {
			t.Fatalf("STAN %s: %v", req.STAN, err)
		}
		if r.ResponseCode != want {
			t.Fatalf("STAN %s: answered %s, want %s", req.STAN, r.ResponseCode, want)
		}
		if _, dup := answered[req.STAN]; !dup {
			answered[req.STAN] = r.ResponseCode
		}
	}
	first := build(testledger.PanOK, "390000", 5)
	send(first, "00")
	send(build(testledger.PanOK, "380000", 5), "63")       // decision 14: the ATC again
	send(build(testledger.PanOK, "370000", 9), "12")       // decision 8, held: no ATC consumed
	send(build("4711999999999999", "390000", 1), "14")     // decision 11, held
	send(build(testledger.PanMismatch, "390000", 1), "25") // decision 13, held
	noExpiry := build(testledger.PanOK, "390000", 6)
	noExpiry.Expiry = ""
	send(noExpiry, "30") // decision 3: before the card state, not journaled
	for atc := uint16(10); atc < 19; atc++ {
		send(build(testledger.PanRate, "390000", atc), "00")
	}
	send(build(testledger.PanRate, "390000", 30), "00")
	send(build(testledger.PanRate, "390000", 31), "65") // decision 15: the 11th in the window
	send(first, "94")                                   // decision 7: the same request again
	journaled := len(answered)                          // every answer but the 30, and the 94 (recorded under the same STAN)
	answered[first.STAN] += ",94"
	stored := map[string]string{}
	rows, err := pgtest.Connect(t, pg.URL()).Query(context.Background(),
		"SELECT stan, string_agg(response_code, ',' ORDER BY at, response_code) FROM audit_log GROUP BY stan")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s, rcs string
		if err := rows.Scan(&s, &rcs); err != nil {
			t.Fatal(err)
		}
		stored[s] = rcs
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(answered) {
		t.Errorf("audit_log holds %d STANs, %d answered", len(stored), len(answered))
	}
	for s, rc := range answered {
		if stored[s] != rc {
			t.Errorf("STAN %s answered %s, audit_log says %q", s, rc, stored[s])
		}
	}
	reg := gw.App.Registry
	if v := metrictest.Sum(t, reg, "atmgw_audit_records_journaled_total"); v != float64(journaled) {
		t.Errorf("atmgw_audit_records_journaled_total %v, want %d", v, journaled)
	}
	if v := metrictest.Sum(t, reg, "atmgw_audit_records_written_total"); v != float64(journaled+1) {
		t.Errorf("atmgw_audit_records_written_total %v, want %d", v, journaled+1)
	}
}
