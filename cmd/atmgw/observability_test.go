package main_test

// What operators look at, tested with the real thing: a real Prometheus
// (Debian's prometheus package) scrapes a real `atmgw serve` on a private
// PostgreSQL under a small load of signed-on partner connections; every
// query of the shipped Grafana dashboard (configs/grafana/atmgw.json) and
// every alert of configs/prometheus/atmgw-rules.yml is evaluated through
// Prometheus's HTTP API; promtool checks the rules and runs their unit
// tests. Then the database is stopped under load and the alerts that must
// catch that (ledger breaker open, 91s, card state down, audit spooling)
// are seen to return data and to go pending in Prometheus itself; last the
// gateway is killed and the alert on its scrape returns data.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bli/atmgw/internal/testclient"
	"github.com/bli/atmgw/internal/testledger"
	"github.com/bli/atmgw/internal/testsync"
	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/ledger/pgtest"
)

// The shipped files under test, from this package's directory.
const (
	obsDashboard = "../../configs/grafana/atmgw.json"
	obsRules     = "../../configs/prometheus/atmgw-rules.yml"
	obsRuleTests = "../../configs/prometheus/atmgw-rules.test.yml"
	obsPromCfg   = "../../configs/prometheus/prometheus.example.yml"
)

// obsPartners are the partners of the load (812, which needs a MAC, is
// left out), each with obsConns signed-on connections (its
// max_conns_per_partner: one more sign-on is refused).
var obsPartners = []string{"005", "007", "012", "700", "808"}

const (
	obsConns        = 2
	obsCardsPerConn = 4
)

// obsPAN is card i of a connection of inst (consented at inst, both
// services).
func obsPAN(inst string, conn, i int) string {
	return fmt.Sprintf("4713%s%05d%04d", inst, conn, i)
}

// obsOnlyWhenItHappens are metrics that appear only with their first
// event: the alerts over them cannot find series in a healthy run.
var obsOnlyWhenItHappens = map[string]string{
	"atmgw_panics_total": "a counter per place (where), made at its first recovered panic",
}

// prometheusBins are Debian's prometheus and promtool: $ATMGW_PROMETHEUS
// (scripts/test exports it) and the promtool beside it, then PATH, then
// /usr/bin. Missing: the test is skipped, or failed under CI=true.
func prometheusBins(t *testing.T) (prom, promtool string) {
	t.Helper()
	find := func(name string) string {
		if p := os.Getenv("ATMGW_PROMETHEUS"); p != "" {
			if name == "prometheus" {
				return p
			}
			if p := filepath.Join(filepath.Dir(p), name); isExecutable(p) {
				return p
			}
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		if p := "/usr/bin/" + name; isExecutable(p) {
			return p
		}
		return ""
	}
	prom, promtool = find("prometheus"), find("promtool")
	if prom != "" && promtool != "" {
		return prom, promtool
	}
	msg := "needs prometheus and promtool (apt-get install prometheus; scripts/test installs it)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return "", ""
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// TestObservability: see the top of this file.
func TestObservability(t *testing.T) {
	prom, promtool := prometheusBins(t)
	start := time.Now()

	// promtool: the rules and the example configuration are valid, and the
	// rules' unit tests pass.
	for _, args := range [][]string{{"check", "rules", obsRules}, {"test", "rules", obsRuleTests}, {"check", "config", obsPromCfg}} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("promtool %s: %s", strings.Join(args, " "), strings.Join(strings.Fields(string(out)), " "))
	}

	// The gateway on its own PostgreSQL, and Prometheus scraping it.
	pg := pgtest.StartServer(t)
	obsLoadLedger(t, pg.URL())
	g := obsGateway(t, pg.URL())
	p := startPrometheus(t, prom, g.admin)

	// The load: every partner's connections send inquiries until the end.
	load := startObsLoad(t, g.listen)
	defer load.stop()

	// One sign-on over a partner's cap: refused (05), its connection
	// closed, so that the refused and closed series exist.
	if c, err := testclient.Dial(g.listen); err != nil {
		t.Fatal(err)
	} else {
		err := signOn(c, "005", load.nextSTAN(), 5*time.Second)
		if err == nil || !strings.Contains(err.Error(), "answered 05") {
			t.Errorf("a sign-on over max_conns_per_partner: %v, want answered 05", err)
		}
		c.Close()
	}

	// Healthy: wait for a few seconds of samples of the load.
	p.waitFor(t, "8 scrapes under load", `count_over_time(atmgw_connections_open{job="atmgw"}[1m]) >= 8 and atmgw_connections_open >= 10`, 30*time.Second)
	if n := load.errors.Load(); n > 0 {
		t.Fatalf("%d inquiries failed under healthy load: %s", n, load.firstError())
	}

	t.Run("dashboard", func(t *testing.T) {
		panels := dashboardQueries(t)
		if len(panels) < 20 {
			t.Fatalf("%d dashboard queries", len(panels))
		}
		for _, pq := range panels {
			res, err := p.query(pq.expr)
			if err != nil {
				t.Errorf("panel %q, query %s: %v\n%s", pq.panel, pq.refID, err, pq.expr)
				continue
			}
			if len(res) == 0 {
				t.Errorf("panel %q, query %s returns no data:\n%s", pq.panel, pq.refID, pq.expr)
			}
		}
		t.Logf("%d queries of the dashboard return data", len(panels))
	})

	rules := alertRules(t)
	t.Run("alerts healthy", func(t *testing.T) {
		for _, r := range rules {
			res, err := p.query(r.Expr)
			if err != nil {
				t.Errorf("%s: %v", r.Alert, err)
				continue
			}
			// A healthy gateway under a light load raises no alert (the
			// latency one depends on how busy the test machine is).
			if len(res) > 0 && r.Alert != "AtmgwInquiryLatencyHigh" {
				t.Errorf("%s returns %s with the gateway healthy", r.Alert, res)
			}
		}
	})

	// The primary goes down under load: the ledger breaker opens,
	// inquiries are answered 91 (the card state stands in from memory, so
	// they reach the ledger), the card state and the audit trail find it
	// down and the audit records go to the spool.
	pg.Stop()
	load.faults.Store(true)
	mustFire := []string{"AtmgwLedgerBreakerOpen", "AtmgwInquiries91", "AtmgwCardStateDown", "AtmgwAuditDatabaseDown", "AtmgwAuditSpoolGrowing"}
	t.Run("alerts with the database down", func(t *testing.T) {
		byName := map[string]alertRule{}
		for _, r := range rules {
			byName[r.Alert] = r
		}
		for _, name := range mustFire {
			r, ok := byName[name]
			if !ok {
				t.Errorf("no alert %s in %s", name, obsRules)
				continue
			}
			p.waitFor(t, name, r.Expr, 20*time.Second)
		}
		// Prometheus evaluates the same rules itself (every second): each
		// goes pending (their for: is longer than the test), and every
		// rule evaluates without error.
		deadline := time.Now().Add(10 * time.Second)
		for {
			active, err := p.activeAlerts()
			missing := []string{}
			for _, name := range mustFire {
				if !active[name] {
					missing = append(missing, name)
				}
			}
			if err == nil && len(missing) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("alerts not pending in Prometheus: %v (%v); active: %v", missing, err, active)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		health, err := p.ruleHealth()
		if err != nil {
			t.Fatal(err)
		}
		if len(health) != len(rules) {
			t.Errorf("Prometheus loaded %d rules, the file has %d", len(health), len(rules))
		}
		for name, h := range health {
			if h != "ok" {
				t.Errorf("rule %s: health %s", name, h)
			}
		}
	})

	// Every series an alert reads exists by now (with its label matchers),
	// but those that appear only with their event.
	t.Run("alert series", func(t *testing.T) {
		sel := regexp.MustCompile(`\b(atmgw_[a-z_]+|up)(\{[^}]*\})?`)
		for _, r := range rules {
			seen := map[string]bool{}
			for _, m := range sel.FindAllStringSubmatch(r.Expr, -1) {
				if seen[m[0]] {
					continue
				}
				seen[m[0]] = true
				if why, ok := obsOnlyWhenItHappens[m[1]]; ok {
					t.Logf("%s: %s not checked: %s", r.Alert, m[0], why)
					continue
				}
				res, err := p.query("group(" + m[0] + ")")
				if err != nil || len(res) == 0 {
					t.Errorf("%s: no series %s (%v)", r.Alert, m[0], err)
				}
			}
		}
	})
	if res, err := p.query(`sum by (code) (atmgw_requests_total{service=~"pension|insurance"})`); err == nil {
		t.Logf("inquiries answered by code: %v", res)
	}

	// The gateway killed: Prometheus finds it down.
	t.Run("gateway down", func(t *testing.T) {
		load.stop()
		g.kill9()
		for _, r := range rules {
			if r.Alert == "AtmgwGatewayDown" {
				p.waitFor(t, r.Alert, r.Expr, 10*time.Second)
				return
			}
		}
		t.Errorf("no alert AtmgwGatewayDown in %s", obsRules)
	})
	t.Logf("%d alert rules, %s", len(rules), time.Since(start).Round(100*time.Millisecond))
}

// obsLoadLedger migrates and loads testledger's files on the server at
// url, with obsCardsPerConn cards for each connection of the load.
func obsLoadLedger(t *testing.T, url string) {
	t.Helper()
	env := []string{"ATMGW_DATABASE_URL=" + url}
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
	for _, inst := range obsPartners {
		for c := 0; c < obsConns; c++ {
			for i := 0; i < obsCardsPerConn; i++ {
				fmt.Fprintf(w, "%s,%s,A100000001,王小明,1985-06-15,both,2026-01-05,active\n", inst, obsPAN(inst, c, i))
			}
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if code, _, stderr := atmgw(t, env, "load", "--dir", dir); code != 0 {
		t.Fatalf("load: exit %d: %s", code, stderr)
	}
}

// obsGateway starts `atmgw serve` on the primary at url: the example's
// partners, the card rate off (the load reuses its cards), audit and card
// state in the database, the card state from memory while the primary is
// down, obsConns connections per partner. Killed when the test ends.
func obsGateway(t *testing.T, dbURL string) *gwProc {
	t.Helper()
	g := gatewayConfig(t, "gw", dbURL, func(m, ledgerCfg map[string]any) {
		// Roomy deadlines for a busy test machine: a database stopped
		// refuses connections at once anyway.
		ledgerCfg["timeout"] = "2s"
		m["card_rate"] = map[string]any{"inquiries": 0, "window": "10m"}
		m["card_state"] = map[string]any{"store": "database", "when_primary_down": "memory", "timeout": "2s"}
		m["max_conns_per_partner"] = obsConns
	})
	g.start()
	if !g.running() {
		t.FailNow()
	}
	return g
}

// obsLoad is the partners' switches: obsConns signed-on connections per
// partner, each sending an inquiry every 50 ms (its own cards, their ATCs
// going up; one in ten a card without a consent) and an echo every
// second.
type obsLoad struct {
	stan   atomic.Int64
	errors atomic.Int64 // failed inquiries while not faults
	faults atomic.Bool  // the database is down: errors are expected
	done   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	first  error
}

func (l *obsLoad) nextSTAN() string { return fmt.Sprintf("%06d", l.stan.Add(1)%1000000) }

func (l *obsLoad) fail(err error) {
	if l.faults.Load() {
		return
	}
	l.errors.Add(1)
	l.mu.Lock()
	if l.first == nil {
		l.first = err
	}
	l.mu.Unlock()
}

func (l *obsLoad) firstError() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.first
}

func (l *obsLoad) stop() {
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	l.wg.Wait()
}

func startObsLoad(t *testing.T, addr string) *obsLoad {
	t.Helper()
	l := &obsLoad{done: make(chan struct{})}
	l.stan.Store(1000)
	var clients []*testclient.Client
	for _, inst := range obsPartners {
		for conn := 0; conn < obsConns; conn++ {
			c, err := testclient.Dial(addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			if err := signOn(c, inst, l.nextSTAN(), 5*time.Second); err != nil {
				t.Fatalf("sign-on %s: %v", inst, err)
			}
			clients = append(clients, c)
			term := fmt.Sprintf("OBS%s%02d", inst, conn)
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				l.run(c, inst, term, conn)
			}()
		}
	}
	return l
}

func (l *obsLoad) run(c *testclient.Client, inst, term string, conn int) {
	atc := make([]uint16, obsCardsPerConn+1)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	lastEcho := time.Now()
	for n := 0; ; n++ {
		select {
		case <-l.done:
			return
		case <-tick.C:
		}
		if time.Since(lastEcho) >= time.Second {
			lastEcho = time.Now()
			echo := &iso.Message{MTI: "0800", TransmissionTime: time.Now().UTC().Format("0102150405"), STAN: l.nextSTAN(),
				Institution: inst, NetworkCode: "301"}
			if r, err := c.Do(echo, nil, 10*time.Second); err != nil || r.ResponseCode != "00" {
				l.fail(fmt.Errorf("echo %s: %v %v", inst, err, r))
			}
		}
		pc := iso.ProcPension
		if n%2 == 1 {
			pc = iso.ProcInsurance
		}
		i := n % obsCardsPerConn
		pan := obsPAN(inst, conn, i)
		if n%10 == 9 {
			i = obsCardsPerConn // a card of this connection without a consent: 14
			pan = obsPAN(inst, conn+obsConns, 0)
		}
		atc[i]++
		m := inquiryMsg(inst, term, pan, pc, l.nextSTAN(), atc[i])
		r, err := c.Do(m, nil, 10*time.Second)
		if err != nil {
			l.fail(fmt.Errorf("inquiry %s: %v", inst, err))
			continue
		}
		if r.ResponseCode == "91" || r.ResponseCode == "30" || r.ResponseCode == "63" {
			l.fail(fmt.Errorf("inquiry %s %s card %s: answered %s", inst, pc, pan, r.ResponseCode))
		}
	}
}

// prometheusProc is a real Prometheus on loopback.
type prometheusProc struct {
	addr string
	hc   *http.Client
}

// startPrometheus starts Prometheus scraping the gateway's admin address
// every second as job atmgw, with the shipped rules evaluated every second,
// and waits until it is ready. Stopped when the test ends.
func startPrometheus(t *testing.T, bin, target string) *prometheusProc {
	t.Helper()
	dir := t.TempDir()
	rules, err := filepath.Abs(obsRules)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: atmgw
    static_configs:
      - targets: [%q]
`, rules, target)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &prometheusProc{addr: freePort(t), hc: &http.Client{Timeout: 5 * time.Second}}
	logs := &testsync.Buffer{}
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+p.addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("prometheus: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := p.hc.Get("http://" + p.addr + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case <-done:
			t.Fatalf("prometheus exited:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready within 30s:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// apiResponse is what /api/v1/... answers.
type apiResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
}

func (p *prometheusProc) get(path string, params url.Values) (json.RawMessage, error) {
	u := "http://" + p.addr + path
	if params != nil {
		u += "?" + params.Encode()
	}
	resp, err := p.hc.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r apiResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %s: %v", path, resp.Status, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s: %s", path, r.ErrorType, r.Error)
	}
	return r.Data, nil
}

// promSeries is one element of an instant vector.
type promSeries struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s promSeries) String() string { return fmt.Sprintf("%v=%v", s.Metric, s.Value[1]) }

// query evaluates expr now (/api/v1/query): an error when it does not
// parse or evaluate.
func (p *prometheusProc) query(expr string) ([]promSeries, error) {
	data, err := p.get("/api/v1/query", url.Values{"query": {expr}})
	if err != nil {
		return nil, err
	}
	var d struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, err
	}
	switch d.ResultType {
	case "vector":
		var out []promSeries
		err := json.Unmarshal(d.Result, &out)
		return out, err
	case "scalar":
		var v [2]any
		err := json.Unmarshal(d.Result, &v)
		return []promSeries{{Value: v}}, err
	}
	return nil, fmt.Errorf("result type %s", d.ResultType)
}

// waitFor waits until expr returns data.
func (p *prometheusProc) waitFor(t *testing.T, what, expr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		res, err := p.query(expr)
		if err == nil && len(res) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no data within %v (%v):\n%s", what, timeout, err, expr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// activeAlerts are the alerts pending or firing in Prometheus.
func (p *prometheusProc) activeAlerts() (map[string]bool, error) {
	data, err := p.get("/api/v1/alerts", nil)
	if err != nil {
		return nil, err
	}
	var d struct {
		Alerts []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, a := range d.Alerts {
		if a.State == "pending" || a.State == "firing" {
			out[a.Labels["alertname"]] = true
		}
	}
	return out, nil
}

// ruleHealth is the health of each alerting rule Prometheus evaluates.
func (p *prometheusProc) ruleHealth() (map[string]string, error) {
	data, err := p.get("/api/v1/rules", url.Values{"type": {"alert"}})
	if err != nil {
		return nil, err
	}
	var d struct {
		Groups []struct {
			Rules []struct {
				Name      string `json:"name"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, g := range d.Groups {
		for _, r := range g.Rules {
			out[r.Name] = strings.TrimSpace(r.Health + " " + r.LastError)
		}
	}
	return out, nil
}

// panelQuery is one query of a dashboard panel, its Grafana variables
// replaced as Grafana would with every gateway and partner selected.
type panelQuery struct {
	panel, refID, expr string
}

// dashboardQueries are the queries of every panel of the shipped
// dashboard (rows' nested panels included).
func dashboardQueries(t *testing.T) []panelQuery {
	t.Helper()
	b, err := os.ReadFile(obsDashboard)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string  `json:"title"`
		Type    string  `json:"type"`
		Panels  []panel `json:"panels"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	}
	var d struct {
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	// $__rate_interval: at least four scrape intervals; $__range: the
	// dashboard's time range, here about the test's length.
	vars := strings.NewReplacer("$__rate_interval", "10s", "$__range", "1m", "$__interval", "2s",
		"$job", "atmgw", "$instance", ".*", "$institution", ".*")
	var out []panelQuery
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, q := range p.Targets {
				expr := vars.Replace(q.Expr)
				if strings.Contains(expr, "$") {
					t.Errorf("panel %q, query %s: a variable left: %s", p.Title, q.RefID, expr)
				}
				out = append(out, panelQuery{panel: p.Title, refID: q.RefID, expr: expr})
			}
		}
	}
	walk(d.Panels)
	return out
}

// alertRule is an alerting rule of the shipped file.
type alertRule struct {
	Alert string `yaml:"alert"`
	Expr  string `yaml:"expr"`
	For   string `yaml:"for"`
}

func alertRules(t *testing.T) []alertRule {
	t.Helper()
	b, err := os.ReadFile(obsRules)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []alertRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var out []alertRule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Alert < out[j].Alert })
	if len(out) < 8 {
		t.Fatalf("%d alert rules", len(out))
	}
	return out
}
