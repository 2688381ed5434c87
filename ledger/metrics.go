package ledger

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Prometheus metrics of a Cluster. Host labels are the
// hosts' roles ("primary", "replica1", ...), never URLs. A nil *Metrics
// records nothing.
type Metrics struct {
	breaker   *prometheus.GaugeVec
	calls     *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	shedTotal prometheus.Counter
	inFlight  prometheus.Gauge
	failovers prometheus.Counter
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
			Help: "Ledger inquiries sent to each host, by outcome (ok, error, timeout, breaker_open: refused by the host's breaker without reaching it, cancelled).",
		}, []string{"host", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "atmgw_ledger_call_duration_seconds",
			Help:    "Time of the ledger inquiries that reached each host, whatever their outcome.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .3, .5, 1, 2},
		}, []string{"host"}),
		shedTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "atmgw_ledger_bulkhead_rejected_total",
			Help: "Inquiries answered 91 at once because ledger.max_concurrent inquiries were in progress.",
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "atmgw_ledger_in_flight",
			Help: "Ledger inquiries in progress now (the bulkhead's load; at most ledger.max_concurrent).",
		}),
		failovers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "atmgw_ledger_failovers_total",
			Help: "Inquiries tried on another host after one failed.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.breaker, m.calls, m.latency, m.shedTotal, m.inFlight, m.failovers)
	}
	return m
}

// hostMetrics are the children of one host, looked up once.
type hostMetrics struct {
	breaker prometheus.Gauge
	calls   [numOutcomes]prometheus.Counter
	latency prometheus.Observer
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
	return h
}

func (h *hostMetrics) state(s BreakerState) {
	if h.breaker != nil {
		h.breaker.Set(float64(s))
	}
}

func (h *hostMetrics) call(o Outcome, d time.Duration) {
	if h.latency == nil {
		return
	}
	h.calls[o].Inc()
	if o != OutcomeRejected {
		h.latency.Observe(d.Seconds())
	}
}

func (m *Metrics) shed() {
	if m != nil {
		m.shedTotal.Inc()
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
