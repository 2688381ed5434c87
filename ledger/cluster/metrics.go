package cluster

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Prometheus metrics of a Cluster. Host labels are the
// hosts' roles ("primary", "replica1", ...), never URLs. A nil *Metrics
// records nothing.
type Metrics struct {
	breaker   *prometheus.GaugeVec
	calls     *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	wait      *prometheus.HistogramVec
	shedTotal *prometheus.CounterVec
	limit     *prometheus.GaugeVec
	inFlight  prometheus.Gauge
	failovers prometheus.Counter
	rechecks  *prometheus.CounterVec
	queued    *queueCollector
}

// NewMetrics makes the ledger's metrics and registers them with reg (nil:
// not registered). A cluster's hosts appear once it is built.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "atmgw_ledger_breaker_state",
			Help: "State of each ledger host's circuit breaker: 0 closed, 1 half-open, 2 open.",
		}, []string{"host"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atmgw_ledger_calls_total",
			Help: "Ledger inquiries sent to each host, by outcome (ok, error, timeout, breaker_open: refused by the host's breaker without reaching it, shed: turned away by the host's concurrency limit without reaching it, cancelled).",
		}, []string{"host", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "atmgw_ledger_call_duration_seconds",
			Help:    "Time of the ledger inquiries that reached each host, whatever their outcome, from the moment the host's limiter admitted them.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .3, .5, 1, 2},
		}, []string{"host"}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "atmgw_ledger_queue_wait_seconds",
			Help:    "Time ledger inquiries waited for room under each host's concurrency limit (0 when there was room), shed ones included.",
			Buckets: []float64{.0001, .0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1},
		}, []string{"host"}),
		shedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atmgw_ledger_shed_total",
			Help: "Ledger inquiries a host's limiter turned away (the gateway answers 91 unless another host answers), by reason: queue_full (ledger.queue were waiting already), queue_timeout (waited ledger.queue_timeout). Not failures of the host.",
		}, []string{"host", "reason"}),
		limit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "atmgw_ledger_concurrency_limit",
			Help: "Adaptive concurrency limit of each ledger host now: the inquiries it is sent at once at most (between ledger.min_concurrent and ledger.max_concurrent / max_conns).",
		}, []string{"host"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "atmgw_ledger_in_flight",
			Help: "Ledger inquiries in progress now, waiting for their turn on a host or sent.",
		}),
		failovers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "atmgw_ledger_failovers_total",
			Help: "Inquiries tried on another host after one failed (or kept them waiting past ledger.queue_timeout).",
		}),
		rechecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atmgw_ledger_consent_rechecks_total",
			Help: "Consent declines of a replica read again from the primary (a replica may lag behind a consent registered online), by result: served (the primary's consent serves the card), declined (the primary declines it too), failed (the primary did not answer: the replica's decline stands).",
		}, []string{"result"}),
		queued: &queueCollector{desc: prometheus.NewDesc("atmgw_ledger_queued",
			"Ledger inquiries waiting now for room under each host's concurrency limit (at most ledger.queue).",
			[]string{"host"}, nil)},
	}
	if reg != nil {
		reg.MustRegister(m.breaker, m.calls, m.latency, m.wait, m.shedTotal, m.limit, m.inFlight, m.failovers, m.rechecks, m.queued)
	}
	return m
}

// queueCollector reads the queue of each host's limiter when scraped (no
// cost per inquiry).
type queueCollector struct {
	desc  *prometheus.Desc
	mu    sync.Mutex
	hosts []string
	lims  []*Limiter
}

func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- q.desc }

func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, l := range q.lims {
		ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, float64(l.Queued()), q.hosts[i])
	}
}

// addLimiter makes the limiter of a host known to the queue gauge (a host
// of the same name replaces the former).
func (m *Metrics) addLimiter(host string, l *Limiter) {
	if m == nil {
		return
	}
	q := m.queued
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, h := range q.hosts {
		if h == host {
			q.lims[i] = l
			return
		}
	}
	q.hosts = append(q.hosts, host)
	q.lims = append(q.lims, l)
}

// hostMetrics are the children of one host, looked up once.
type hostMetrics struct {
	breaker prometheus.Gauge
	calls   [numOutcomes]prometheus.Counter
	latency prometheus.Observer
	wait    prometheus.Observer
	shedBy  map[string]prometheus.Counter
	lim     prometheus.Gauge
}

func (m *Metrics) host(name string) hostMetrics {
	var h hostMetrics
	if m == nil {
		return h
	}
	h.breaker = m.breaker.WithLabelValues(name)
	for o := range numOutcomes {
		h.calls[o] = m.calls.WithLabelValues(name, o.String())
	}
	h.latency = m.latency.WithLabelValues(name)
	h.wait = m.wait.WithLabelValues(name)
	h.shedBy = map[string]prometheus.Counter{}
	for _, r := range []string{ShedQueueFull, ShedQueueTimeout} {
		h.shedBy[r] = m.shedTotal.WithLabelValues(name, r)
	}
	h.lim = m.limit.WithLabelValues(name)
	return h
}

func (h *hostMetrics) state(s BreakerState) {
	if h.breaker != nil {
		h.breaker.Set(float64(s))
	}
}

func (h *hostMetrics) limit(n int) {
	if h.lim != nil {
		h.lim.Set(float64(n))
	}
}

func (h *hostMetrics) call(o Outcome, ct callTimes) {
	if h.latency == nil {
		return
	}
	h.calls[o].Inc()
	if o != OutcomeRejected || ct.waited > 0 {
		h.wait.Observe(ct.waited.Seconds())
	}
	if ct.sent {
		h.latency.Observe(ct.ran.Seconds())
	}
}

func (h *hostMetrics) shed(reason string) {
	if c := h.shedBy[reason]; c != nil {
		c.Inc()
	}
}

func (m *Metrics) enter() {
	if m != nil {
		m.inFlight.Inc()
	}
}

func (m *Metrics) leave() {
	if m != nil {
		m.inFlight.Dec()
	}
}

func (m *Metrics) failover() {
	if m != nil {
		m.failovers.Inc()
	}
}

// recheck counts one consent decline of a replica read again from the
// primary, by result (served, declined, failed).
func (m *Metrics) recheck(result string) {
	if m != nil {
		m.rechecks.WithLabelValues(result).Inc()
	}
}
