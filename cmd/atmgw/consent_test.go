package main_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bli/atmgw/internal/config"
	"github.com/bli/atmgw/internal/gatewaytest"
	"github.com/bli/atmgw/internal/testclient"
	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/ledger/demo"
	"github.com/bli/atmgw/ledger/pgtest"
	"github.com/bli/atmgw/sim"
	"github.com/bli/atmgw/sim/cards"
	"github.com/bli/atmgw/sim/scenario"
)

// consentLedger starts a PostgreSQL primary (and a streaming replica when
// replica is set), migrates it and loads the demo ledger's export with
// atmgw load.
func consentLedger(t *testing.T, replica bool) (primary, standby *pgtest.Server, env []string, dir string) {
	t.Helper()
	primary = pgtest.StartServer(t)
	if replica {
		standby = primary.StartReplica(t)
	}
	env = []string{"ATMGW_DATABASE_URL=" + primary.URL()}
	if code, _, stderr := atmgw(t, env, "migrate"); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, stderr)
	}
	dir = t.TempDir()
	if err := os.CopyFS(dir, demo.Files()); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := atmgw(t, env, "load", "--dir", dir); code != 0 {
		t.Fatalf("load: exit %d: %s", code, stderr)
	}
	if standby != nil {
		standby.WaitCaughtUp()
	}
	return primary, standby, env, dir
}

// rows is the count(*) of a query on the database at url.
func rows(t *testing.T, url, sql string) int {
	t.Helper()
	var n int
	pgtest.QueryRow(t, url, sql, &n)
	return n
}

// TestConsentEndToEnd drives the consent scenarios (every answer of the
// 0312) through a real socket against a gateway on PostgreSQL, then checks
// what the database kept (the online records, PAN hashed; an audit record
// per 0302) and that the next export of the core ledger (atmgw load) does
// not undo an online revocation signed after its rows.
func TestConsentEndToEnd(t *testing.T) {
	primary, _, env, dir := consentLedger(t, false)
	gw := gatewaytest.Start(t, gatewaytest.WithDatabase(primary.URL()))
	for _, name := range []string{"30-consent.yaml", "31-consent-mac.yaml"} {
		sc, err := scenario.Load("../../sim/scenarios/" + name)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		var out strings.Builder
		res, err := scenario.Run(ctx, sc, scenario.Options{Gateway: gw.Addr, Cards: cards.Demo(), Out: &out})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if res.Failed > 0 || len(res.Steps) < len(sc.Steps) {
			t.Errorf("%s: %d of %d steps failed:\n%s", name, res.Failed, len(res.Steps), out.String())
		}
	}
	url := primary.URL()
	// Stored online: the new card at 700 and 812 (revoked), the demo card at 700 (replaced).
	if n := rows(t, url, "SELECT count(*) FROM consents WHERE source = 'online' AND registered_at IS NOT NULL"); n != 3 {
		t.Errorf("%d consents registered online, want 3", n)
	}
	if n := rows(t, url, "SELECT count(*) FROM consents WHERE pan_hash LIKE '4700%'"); n != 0 {
		t.Errorf("a PAN in clear in consents")
	}
	// Every 0302 that was answered is audited (30-consent.yaml: 16 of them; 31: 4).
	if n := rows(t, url, "SELECT count(*) FROM audit_log WHERE service LIKE 'consent%'"); n != 16+4 {
		t.Errorf("%d audit records of 0302s, want 20", n)
	}
	if n := rows(t, url, "SELECT count(*) FROM audit_log WHERE service = 'consent-revoke' AND response_code = '00' AND pan_hash <> ''"); n != 2 {
		t.Errorf("%d audited revocations answered 00, want 2", n)
	}

	// The next export still says the demo card at 700 is active, both
	// services, signed 2025-03-10: the online replace of today (insurance
	// only) was signed later and stays; the export's other rows load.
	if code, _, stderr := atmgw(t, env, "load", "--dir", dir); code != 0 {
		t.Fatalf("second load: exit %d: %s", code, stderr)
	}
	e := &e2e{t: t, atc: map[string]uint16{"4700123456789014": 100}}
	c := e.session(gw.Addr, "700")
	expect(t, c, e.inquiry("700", "4700123456789014", iso.ProcPension), nil, "57")
	expect(t, c, e.inquiry("700", "4700123456789014", iso.ProcInsurance), nil, "00")
	// The card the scenario added at 700 and no export names: still there.
	expect(t, c, e.inquiry("700", "4700555555555555", iso.ProcPension), nil, "00")
}

// consent0302 is an 0302 of 王小明 (the demo's A123456789) signed today.
func (e *e2e) consent0302(inst, pan, code string) *iso.Message {
	return consentMsg(inst, pan, code, e.next(), "A123456789")
}

// consentMsg is the 0302 of 王小明's form (national ID id, born
// 1985-06-15, both services, signed today) for the card pan at inst.
func consentMsg(inst, pan, code, stan, id string) *iso.Message {
	today := time.Now().In(time.FixedZone("CST", 8*3600))
	m := &iso.Message{MTI: iso.MTIFileUpdate, PAN: pan, TransmissionTime: time.Now().UTC().Format("0102150405"),
		STAN: stan, Institution: inst, TerminalID: "CTR" + inst + "01", FileUpdateCode: code, FileName: iso.FileConsent,
		ConsentData: id + "0740615" + "B" + rocDate(today)}
	if code != iso.FileDelete {
		m.ConsentName = sim.EncodeBig5("王小明")
	}
	return m
}

func rocDate(t time.Time) string {
	y := t.Year() - 1911
	return string([]byte{byte('0' + y/100), byte('0' + y/10%10), byte('0' + y%10)}) + t.Format("0102")
}

func expect0312(t *testing.T, c *testclient.Client, m *iso.Message, rc string) {
	t.Helper()
	r, err := c.Do(m, nil, 10*time.Second)
	if err != nil {
		t.Fatalf("0302 STAN %s: %v", m.STAN, err)
	}
	if r.MTI != iso.MTIFileUpdateResp || r.ResponseCode != rc {
		t.Fatalf("0302 STAN %s: %s DE39 %s, want 0312 %s", m.STAN, r.MTI, r.ResponseCode, rc)
	}
}

// TestConsentReplicaLag: inquiries are read from a replica that lags (its
// replay paused). A consent added online is seen at once all the same: the
// replica's decline (14) is reread from the primary. A revocation is seen
// at once where the replica is a synchronous standby: the registration
// commits with synchronous_commit = remote_apply, so its 0312 waits until
// the replica has applied it.
func TestConsentReplicaLag(t *testing.T) {
	primary, standby, _, _ := consentLedger(t, true)
	gw := gatewaytest.Start(t, gatewaytest.WithDatabase(primary.URL()), gatewaytest.WithConfig(func(c *config.Config) {
		c.Ledger.Replicas = []string{standby.URL()}
	}))
	e := &e2e{t: t, atc: map[string]uint16{}}
	c := e.session(gw.Addr, "700")
	const pan = "4700555555555555"

	// The replica stops replaying: it will not see the registration.
	pgtest.Exec(t, standby.URL(), "SELECT pg_wal_replay_pause()")
	expect(t, c, e.inquiry("700", pan, iso.ProcPension), nil, "14")
	expect0312(t, c, e.consent0302("700", pan, iso.FileAdd), "00")
	if n := rows(t, standby.URL(), "SELECT count(*) FROM consents WHERE source = 'online'"); n != 0 {
		t.Fatalf("the paused replica has the registration: the test proves nothing")
	}
	expect(t, c, e.inquiry("700", pan, iso.ProcPension), nil, "00")
	pgtest.Exec(t, standby.URL(), "SELECT pg_wal_replay_resume()")
	standby.WaitCaughtUp()

	// The replica as a synchronous standby: a revocation's 0312 waits
	// until it is applied there.
	pgtest.Exec(t, primary.URL(), "ALTER SYSTEM SET synchronous_standby_names = '*'")
	pgtest.Exec(t, primary.URL(), "SELECT pg_reload_conf()")
	deadline := time.Now().Add(30 * time.Second)
	for rows(t, primary.URL(), "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the replica did not become a synchronous standby")
		}
		time.Sleep(50 * time.Millisecond)
	}
	pgtest.Exec(t, standby.URL(), "SELECT pg_wal_replay_pause()")
	rev := e.consent0302("700", pan, iso.FileDelete)
	if err := c.Send(rev, nil); err != nil {
		t.Fatal(err)
	}
	if r, err := c.Await(rev.STAN, time.Second); err == nil {
		t.Fatalf("the revocation was answered (%s) before the replica applied it", r.ResponseCode)
	}
	pgtest.Exec(t, standby.URL(), "SELECT pg_wal_replay_resume()")
	r, err := c.Await(rev.STAN, 10*time.Second)
	if err != nil || r.ResponseCode != "00" {
		t.Fatalf("revocation: %v %v", err, r)
	}
	expect(t, c, e.inquiry("700", pan, iso.ProcPension), nil, "57")
}
