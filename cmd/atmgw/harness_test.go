package main_test

// The multi-process harness of the cluster tests: a PostgreSQL primary and
// a streaming replica (package pgtest), real `atmgw serve` processes that
// can be stopped (SIGTERM), killed (SIGKILL) and started again on the same
// ports, spool directories and logs, and a real HAProxy in TCP mode in front
// of them, as operators run it.

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/configs"
	"github.com/bli/atmgw/internal/testclient"
	"github.com/bli/atmgw/internal/testledger"
	"github.com/bli/atmgw/internal/testsync"
	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/ledger/pgtest"
)

// clusterCards is how many cards of institution 700 the cluster tests add
// to testledger's consents (all of the person of testledger.PanOK): load
// clients need a card each, so that their ATCs only go up.
const clusterCards = 128

// clusterPAN is the i-th added card (0 <= i < clusterCards).
func clusterPAN(i int) string { return fmt.Sprintf("4712%012d", i) }

// clusterIdleTimeout is the gateways' idle_timeout; HAProxy's client and
// server timeouts are longer, so that the gateway, not the proxy, decides.
const clusterIdleTimeout = 2 * time.Minute

// clusterOptions shape a cluster.
type clusterOptions struct {
	gateways      int    // atmgw serve processes
	haproxy       bool   // HAProxy in front of them
	cardRate      int    // card_rate.inquiries (0: off)
	ledgerTimeout string // ledger.timeout ("" : 2s, roomy for a shared test machine)
	noStart       bool   // write the gateways' configurations but start none
}

// cluster is one test's deployment.
type cluster struct {
	t       *testing.T
	primary *pgtest.Server
	replica *pgtest.Server
	gws     []*gwProc
	proxy   *haproxy // nil without HAProxy

	stan atomic.Int64 // DE11 of every message the test sends: unique in the test
}

// startCluster starts the primary and its replica, migrates and loads the
// ledger on the primary (testledger's files with clusterCards more cards),
// waits for the replica, and starts the gateways and HAProxy. Everything is
// stopped when the test ends.
func startCluster(t *testing.T, o clusterOptions) *cluster {
	t.Helper()
	c := &cluster{t: t}
	c.stan.Store(100)
	c.primary = pgtest.StartServer(t)
	c.replica = c.primary.StartReplica(t)
	env := []string{"ATMGW_DATABASE_URL=" + c.primary.URL()}
	if code, _, stderr := atmgw(t, env, "migrate"); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, stderr)
	}
	dir := t.TempDir()
	testledger.Write(t, dir)
	f, err := os.OpenFile(filepath.Join(dir, "consents.csv"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := 0; i < clusterCards; i++ {
		fmt.Fprintf(w, "700,%s,A100000001,王小明,1985-06-15,both,2026-01-05,active\n", clusterPAN(i))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if code, _, stderr := atmgw(t, env, "load", "--dir", dir); code != 0 {
		t.Fatalf("load: exit %d: %s", code, stderr)
	}
	c.replica.WaitCaughtUp()

	for i := 0; i < o.gateways; i++ {
		c.gws = append(c.gws, newGateway(t, fmt.Sprintf("gw%d", i+1), c.primary.URL(), c.replica.URL(), o))
	}
	if !o.noStart {
		// Both at once: each waits for its pool and its readiness.
		var wg sync.WaitGroup
		for _, g := range c.gws {
			wg.Add(1)
			go func() { defer wg.Done(); g.start() }()
		}
		wg.Wait()
		for _, g := range c.gws {
			if !g.running() {
				t.FailNow() // start reported why
			}
		}
	}
	if o.haproxy {
		c.proxy = startHAProxy(t, c.gws)
	}
	return c
}

// nextSTAN is a DE11 never used before in the test.
func (c *cluster) nextSTAN() string {
	return fmt.Sprintf("%06d", c.stan.Add(1)%1000000)
}

// inquiry is an 0200 of card pan with counter atc at terminal term.
func (c *cluster) inquiry(inst, term, pan, pc string, atc uint16) *iso.Message {
	return inquiryMsg(inst, term, pan, pc, c.nextSTAN(), atc)
}

func inquiryMsg(inst, term, pan, pc, stan string, atc uint16) *iso.Message {
	icc := card.BuildICC(card.ICC{Cryptogram: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, CID: 0x80, ATC: atc,
		Unpredictable: [4]byte{9, 8, 7, 6}, PANSequence: 1, HasPANSequence: true})
	return &iso.Message{MTI: "0200", PAN: pan, ProcessingCode: pc, TransmissionTime: time.Now().UTC().Format("0102150405"),
		STAN: stan, LocalTime: "120000", LocalDate: "1124", Expiry: "3012", EntryMode: "051", CardSequence: "001",
		Institution: inst, RRN: "261124" + stan, TerminalID: term, ICC: icc}
}

// signOn signs c on as inst; an error unless answered 00.
func signOn(c *testclient.Client, inst, stan string, timeout time.Duration) error {
	m := &iso.Message{MTI: "0800", TransmissionTime: time.Now().UTC().Format("0102150405"), STAN: stan,
		Institution: inst, NetworkCode: "001"}
	r, err := c.Do(m, nil, timeout)
	if err != nil {
		return err
	}
	if r.ResponseCode != "00" {
		return fmt.Errorf("sign-on as %s answered %s", inst, r.ResponseCode)
	}
	return nil
}

// dialOn opens a connection through HAProxy, signs on as inst and returns
// it once it is held by gateway want (an index of c.gws). HAProxy balances
// round robin, so a connection that landed on the other gateway is closed
// and the next one tried. Which gateway holds a connection is read from the
// gateways' own metrics: the one whose count of sign-ons went up. (The
// connection gauge would do too, but HAProxy's health checks move it.) The
// caller must not sign on elsewhere meanwhile.
func (c *cluster) dialOn(want int, inst string) *testclient.Client {
	c.t.Helper()
	for try := 0; try < 8; try++ {
		before := make([]float64, len(c.gws))
		for i, g := range c.gws {
			before[i] = g.signOns()
		}
		cl, err := testclient.Dial(c.proxy.addr)
		if err != nil {
			c.t.Fatalf("dial HAProxy: %v", err)
		}
		if err := signOn(cl, inst, c.nextSTAN(), 10*time.Second); err != nil {
			cl.Close()
			c.t.Fatalf("sign-on through HAProxy: %v", err)
		}
		// The gateway counts an answer before it writes it; wait a little
		// all the same rather than depend on that.
		holder := -1
		for deadline := time.Now().Add(2 * time.Second); holder < 0 && time.Now().Before(deadline); {
			for i, g := range c.gws {
				if d := g.signOns() - before[i]; d == 1 {
					if holder >= 0 {
						c.t.Fatalf("one sign-on counted by two gateways")
					}
					holder = i
				} else if d != 0 {
					c.t.Fatalf("%s counted %v sign-ons for one", g.name, d)
				}
			}
			if holder < 0 {
				time.Sleep(20 * time.Millisecond)
			}
		}
		if holder < 0 {
			cl.Close()
			c.t.Fatalf("no gateway counted the sign-on through HAProxy")
		}
		if holder == want {
			c.t.Cleanup(func() { cl.Close() })
			return cl
		}
		cl.Close()
	}
	c.t.Fatalf("8 connections through HAProxy and none on %s: is it balancing round robin?", c.gws[want].name)
	return nil
}

// gwProc is one `atmgw serve` process, which may be started again (same
// configuration, ports and spool directory) after it stopped or was killed.
type gwProc struct {
	t      *testing.T
	name   string
	cfg    string // configuration file
	listen string
	admin  string
	spool  string
	env    []string
	logs   *testsync.Buffer // of every run, in order

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the current run exited
	err  error         // its exit
	runs int
}

// newGateway writes the configuration of one gateway: the example's
// partners, database_url the primary, ledger.replicas the replica, its own
// listen and admin addresses and audit spool, card state in the database.
func newGateway(t *testing.T, name, primary, replica string, o clusterOptions) *gwProc {
	t.Helper()
	timeout := o.ledgerTimeout
	if timeout == "" {
		timeout = "2s"
	}
	return gatewayConfig(t, name, primary, func(m, ledgerCfg map[string]any) {
		ledgerCfg["replicas"] = []string{replica}
		ledgerCfg["timeout"] = timeout
		m["idle_timeout"] = clusterIdleTimeout.String()
		m["card_rate"] = map[string]any{"inquiries": o.cardRate, "window": "10m"}
		m["card_state"] = map[string]any{"store": "database", "when_primary_down": "fail"}
	})
}

// gatewayConfig writes the configuration of one `atmgw serve` on the
// database at url, the one process a test kills when it ends (its log
// shown when the test failed): the example's partners, its own listen and
// admin addresses and audit spool (mode database), log level info, no cap
// on the unbound connections of one address (every test connection comes
// from 127.0.0.1, through HAProxy or not); edit changes the rest (m the
// whole file, ledgerCfg its ledger section).
func gatewayConfig(t *testing.T, name, url string, edit func(m, ledgerCfg map[string]any)) *gwProc {
	t.Helper()
	dir := t.TempDir()
	g := &gwProc{t: t, name: name, listen: freePort(t), admin: freePort(t), spool: filepath.Join(dir, "spool"),
		cfg: filepath.Join(dir, "atmgw.yaml"), logs: &testsync.Buffer{},
		env: []string{"ATMGW_DATABASE_URL=" + url}}
	var m map[string]any
	if err := yaml.Unmarshal(configs.Example, &m); err != nil {
		t.Fatalf("the example configuration: %v", err)
	}
	ledgerCfg, _ := m["ledger"].(map[string]any)
	if ledgerCfg == nil {
		t.Fatal("the example configuration has no ledger section")
	}
	m["listen"] = g.listen
	m["admin_listen"] = g.admin
	m["database_url"] = url
	m["log_level"] = "info"
	m["audit"] = map[string]any{"mode": "database", "spool_dir": g.spool, "probe_interval": "200ms"}
	m["max_unbound_per_address"] = 1024
	edit(m, ledgerCfg)
	b, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(g.cfg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		g.mu.Lock()
		cmd, done := g.cmd, g.done
		g.mu.Unlock()
		if cmd == nil {
			return
		}
		select {
		case <-done:
		default:
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("gateway %s log:\n%s", g.name, g.logs.String())
		}
	})
	return g
}

// launch starts the process without waiting for it to serve.
func (g *gwProc) launch() {
	g.t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cmd != nil {
		select {
		case <-g.done:
		default:
			g.t.Fatalf("%s: started while running", g.name)
		}
	}
	g.runs++
	fmt.Fprintf(g.logs, "---- %s run %d\n", g.name, g.runs)
	cmd := exec.Command(atmgwBin, "serve", "--config", g.cfg, "--log-format", "json")
	cmd.Env = append(os.Environ(), g.env...)
	cmd.Stderr = g.logs
	if err := cmd.Start(); err != nil {
		g.t.Fatalf("%s: %v", g.name, err)
	}
	done := make(chan struct{})
	g.cmd, g.done = cmd, done
	go func() {
		err := cmd.Wait()
		g.mu.Lock()
		g.err = err
		g.mu.Unlock()
		close(done)
	}()
}

// start starts the process and waits until /readyz answers 200.
func (g *gwProc) start() {
	g.t.Helper()
	g.launch()
	deadline := time.Now().Add(60 * time.Second)
	hc := &http.Client{Timeout: time.Second}
	for {
		if resp, err := hc.Get("http://" + g.admin + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-g.exited():
			g.t.Errorf("%s exited while starting: %v\n%s", g.name, g.exitErr(), g.logs.String())
			return
		default:
		}
		if time.Now().After(deadline) {
			g.t.Errorf("%s not ready within a minute:\n%s", g.name, g.logs.String())
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitServing waits for the log line the gateway writes once it listens,
// without connecting to it (a cold start must see no traffic before).
func (g *gwProc) waitServing() {
	g.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(g.lastRun(), `"msg":"atmgw serving"`) {
		select {
		case <-g.exited():
			g.t.Fatalf("%s exited while starting: %v\n%s", g.name, g.exitErr(), g.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("%s not serving within a minute:\n%s", g.name, g.logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lastRun is the log of the current (or last) run.
func (g *gwProc) lastRun() string {
	s := g.logs.String()
	if i := strings.LastIndex(s, "---- "+g.name+" run "); i >= 0 {
		return s[i:]
	}
	return s
}

func (g *gwProc) exited() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.done
}

func (g *gwProc) exitErr() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

func (g *gwProc) running() bool {
	g.mu.Lock()
	done := g.done
	g.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// term sends SIGTERM and wants exit status 0 within a minute.
func (g *gwProc) term() {
	g.t.Helper()
	g.mu.Lock()
	cmd, done := g.cmd, g.done
	g.mu.Unlock()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		if err := g.exitErr(); err != nil {
			g.t.Errorf("%s: exit after SIGTERM: %v\n%s", g.name, err, g.lastRun())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		g.t.Errorf("%s: no exit within a minute of SIGTERM:\n%s", g.name, g.lastRun())
	}
}

// kill9 kills the process with SIGKILL: no flush, no goodbye.
func (g *gwProc) kill9() {
	g.t.Helper()
	g.mu.Lock()
	cmd, done := g.cmd, g.done
	g.mu.Unlock()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		g.t.Fatalf("%s: kill -9: %v", g.name, err)
	}
	<-done
}

// metrics scrapes the gateway's /metrics.
func (g *gwProc) metrics() (promSamples, error) {
	return scrape("http://" + g.admin + "/metrics")
}

// signOns is how many sign-ons (0800 001, any answer) the gateway
// answered: atmgw_requests_total of service netmgmt.
func (g *gwProc) signOns() float64 {
	g.t.Helper()
	s, err := g.metrics()
	if err != nil {
		g.t.Fatalf("%s: /metrics: %v", g.name, err)
	}
	return s.sum("atmgw_requests_total", "service", "netmgmt")
}

// promSample is one line of the Prometheus text format.
type promSample struct {
	name   string
	labels map[string]string
	value  float64
}

type promSamples []promSample

// sum adds the samples of name whose labels include the given name,
// value pairs.
func (ss promSamples) sum(name string, labels ...string) float64 {
	v := 0.0
next:
	for _, s := range ss {
		if s.name != name {
			continue
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if s.labels[labels[i]] != labels[i+1] {
				continue next
			}
		}
		v += s.value
	}
	return v
}

// of are the samples named name.
func (ss promSamples) of(name string) promSamples {
	var out promSamples
	for _, s := range ss {
		if s.name == name {
			out = append(out, s)
		}
	}
	return out
}

// scrape reads a Prometheus text exposition (labels without escaped quotes
// or commas in their values: the gateway's hold none).
func scrape(url string) (promSamples, error) {
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var out promSamples
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		s := promSample{labels: map[string]string{}}
		rest := line
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				return nil, fmt.Errorf("metrics line %q", line)
			}
			s.name = line[:i]
			for _, kv := range strings.Split(line[i+1:j], ",") {
				k, v, ok := strings.Cut(kv, "=")
				if ok {
					s.labels[k] = strings.Trim(v, `"`)
				}
			}
			rest = strings.TrimSpace(line[j+1:])
		} else {
			name, val, _ := strings.Cut(line, " ")
			s.name, rest = name, val
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return nil, fmt.Errorf("metrics line %q", line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %v", line, err)
		}
		s.value = v
		out = append(out, s)
	}
	return out, nil
}

// haproxy is a real HAProxy, TCP mode, round robin over the gateways.
type haproxy struct {
	t     *testing.T
	addr  string // the partners' address
	stats string // HTTP: /stats;csv and /ok
	names []string
	cmd   *exec.Cmd
	logs  *testsync.Buffer
}

// haproxyBin is Debian's haproxy: $ATMGW_HAPROXY (scripts/test exports
// it), then PATH, then /usr/sbin/haproxy. Missing: the test is skipped,
// or failed under CI=true.
func haproxyBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ATMGW_HAPROXY"); p != "" {
		return p
	}
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p
	}
	if st, err := os.Stat("/usr/sbin/haproxy"); err == nil && !st.IsDir() {
		return "/usr/sbin/haproxy"
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("needs haproxy (apt-get install haproxy; scripts/test installs it)")
	}
	t.Skip("needs haproxy (apt-get install haproxy; scripts/test installs it)")
	return ""
}

// startHAProxy starts HAProxy in front of gws and waits until it checked
// every gateway up. It is stopped when the test ends.
func startHAProxy(t *testing.T, gws []*gwProc) *haproxy {
	t.Helper()
	bin := haproxyBin(t)
	h := &haproxy{t: t, addr: freePort(t), stats: freePort(t), logs: &testsync.Buffer{}}
	idle := clusterIdleTimeout + time.Minute // longer than the gateways' idle timeout
	var b strings.Builder
	fmt.Fprintf(&b, `global
    maxconn 4096
    log stderr format raw local0 warning

defaults
    mode tcp
    log global
    timeout connect 500ms
    timeout client %ds
    timeout server %ds
    timeout check 1s
    retries 3
    option redispatch 1

frontend partners
    bind %s
    default_backend gateways

backend gateways
    balance roundrobin
`, int(idle.Seconds()), int(idle.Seconds()), h.addr)
	for _, g := range gws {
		// The checks open and close a TCP connection (no sign-on): a
		// gateway killed is out of rotation within a few hundred ms,
		// back once it listens again.
		fmt.Fprintf(&b, "    server %s %s check inter 200ms fall 2 rise 1\n", g.name, g.listen)
		h.names = append(h.names, g.name)
	}
	fmt.Fprintf(&b, `
frontend stats
    mode http
    bind %s
    timeout client 10s
    monitor-uri /ok
    stats enable
    stats uri /stats
`, h.stats)
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", cfg).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s\n%s", err, out, b.String())
	}
	h.cmd = exec.Command(bin, "-db", "-f", cfg)
	h.cmd.Stdout, h.cmd.Stderr = h.logs, h.logs
	if err := h.cmd.Start(); err != nil {
		t.Fatalf("haproxy: %v", err)
	}
	done := make(chan struct{})
	go func() { h.cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		h.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			h.cmd.Process.Kill()
			<-done
		}
	})
	for i := range gws {
		h.waitUp(i)
	}
	return h
}

// status is the check status of each server (UP, DOWN, ...) from the
// stats page.
func (h *haproxy) status() (map[string]string, error) {
	hc := &http.Client{Timeout: 2 * time.Second}
	resp, err := hc.Get("http://" + h.stats + "/stats;csv")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	r := csv.NewReader(resp.Body)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) == 0 {
		return nil, fmt.Errorf("stats csv: %v", err)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[strings.TrimPrefix(strings.TrimSpace(name), "# ")] = i
	}
	px, sv, st := col["pxname"], col["svname"], col["status"]
	out := map[string]string{}
	for _, row := range rows[1:] {
		if len(row) > st && row[px] == "gateways" {
			out[row[sv]] = row[st]
		}
	}
	return out, nil
}

// waitUp waits until HAProxy's checks find gateway i up.
func (h *haproxy) waitUp(i int) {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := h.status()
		if err == nil && strings.HasPrefix(st[h.names[i]], "UP") {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("HAProxy does not see %s up: %v %v\n%s", h.names[i], st, err, h.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// auditRows is audit_log on the primary: the response codes recorded per
// institution|terminal|STAN, for terminals starting with prefix.
func auditRows(t *testing.T, url, prefix string) map[string][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := pgtest.Connect(t, url)
	defer c.Close(ctx)
	rows, err := c.Query(ctx, "SELECT institution, terminal, stan, response_code FROM audit_log WHERE terminal LIKE $1", prefix+"%")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for rows.Next() {
		var inst, term, stan, rc string
		if err := rows.Scan(&inst, &term, &stan, &rc); err != nil {
			t.Fatal(err)
		}
		k := inst + "|" + term + "|" + stan
		out[k] = append(out[k], rc)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	return out
}
