package gateway

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bli/atmgw/iso"
)

// Metrics are the gateway's Prometheus metrics. Labels hold institution
// codes, services, response codes and close reasons, never card data.
// A nil *Metrics records nothing.
type Metrics struct {
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	open        prometheus.Gauge
	signedOn    *prometheus.GaugeVec
	closed      *prometheus.CounterVec
	badFrames   prometheus.Counter
	refusedConn *prometheus.CounterVec
	panics      *prometheus.CounterVec
	withholds   prometheus.Counter

	// children caches the requests and latency children by label values,
	// so that a request does not hash its labels into the vectors: copied
	// on write (new label values are rare: institutions are configured).
	children   atomic.Pointer[map[requestLabels]requestChildren]
	childrenMu sync.Mutex
}

type requestLabels struct{ institution, service, code string }

type requestChildren struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// NewMetrics registers the gateway's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atmgw_requests_total",
			Help: "Requests answered, by partner institution, service (pension, insurance, netmgmt, other) and response code.",
		}, []string{"institution", "service", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "atmgw_request_duration_seconds",
			Help:    "Time from reading a request to queueing its answer, by institution and service.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"institution", "service"}),
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "atmgw_connections_open",
			Help: "Partner connections open now.",
		}),
		signedOn: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "atmgw_connections_signed_on",
			Help: "Partner connections signed on now, by institution (configured partners only).",
		}, []string{"institution"}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atmgw_connections_closed_total",
			Help: "Partner connections closed, by reason.",
		}, []string{"reason"}),
		badFrames: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "atmgw_unparseable_frames_total",
			Help: "Frames whose MTI or DE11 could not be recovered (no answer; decision 1).",
		}),
		refusedConn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atmgw_connections_refused_total",
			Help: "Connections or sign-ons refused: stranger (source outside every partner's networks), total, unbound (per source address), partner (sign-on cap), tls (failed handshake).",
		}, []string{"cap"}),
		panics: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atmgw_panics_total",
			Help: "Panics recovered, by where (inquiry, read, write): the request is answered 91 where it can be and only that connection is closed.",
		}, []string{"where"}),
		withholds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "atmgw_answers_withheld_total",
			Help: "0210s not written because their audit record could not be made durable (neither the database nor the spool took it).",
		}),
	}
	reg.MustRegister(m.requests, m.latency, m.open, m.signedOn, m.closed, m.badFrames, m.refusedConn, m.panics, m.withholds)
	return m
}

// serviceLabel is the service label of a request (metrics, audit records):
// netmgmt for an 0800, consent-add, consent-replace, consent-revoke (or
// consent: DE91 unknown) for an 0302, the service of DE3 (card.Service's
// name: pension, insurance), or other.
func serviceLabel(msg *iso.Message) string {
	if msg.MTI == iso.MTINetworkRequest {
		return "netmgmt"
	}
	if msg.MTI == iso.MTIFileUpdate {
		switch msg.FileUpdateCode {
		case iso.FileAdd:
			return "consent-add"
		case iso.FileReplace:
			return "consent-replace"
		case iso.FileDelete:
			return "consent-revoke"
		}
		return "consent"
	}
	if svc := iso.ServiceOf(msg.ProcessingCode); svc != 0 {
		return svc.String()
	}
	return "other"
}

func (m *Metrics) request(institution string, req, resp *iso.Message, took time.Duration) {
	if m == nil {
		return
	}
	c := m.childrenOf(requestLabels{institution, serviceLabel(req), resp.ResponseCode})
	c.requests.Inc()
	c.latency.Observe(took.Seconds())
}

// childrenOf returns the children of the requests and latency vectors for
// the label values l.
func (m *Metrics) childrenOf(l requestLabels) requestChildren {
	if cm := m.children.Load(); cm != nil {
		if c, ok := (*cm)[l]; ok {
			return c
		}
	}
	m.childrenMu.Lock()
	defer m.childrenMu.Unlock()
	old := m.children.Load()
	if old != nil {
		if c, ok := (*old)[l]; ok {
			return c
		}
	}
	c := requestChildren{
		requests: m.requests.WithLabelValues(l.institution, l.service, l.code),
		latency:  m.latency.WithLabelValues(l.institution, l.service),
	}
	n := 1
	if old != nil {
		n += len(*old)
	}
	cm := make(map[requestLabels]requestChildren, n)
	if old != nil {
		for k, v := range *old {
			cm[k] = v
		}
	}
	cm[l] = c
	m.children.Store(&cm)
	return c
}

func (m *Metrics) opened() {
	if m != nil {
		m.open.Inc()
	}
}

func (m *Metrics) closedWith(reason closeReason) {
	if m != nil {
		m.open.Dec()
		m.closed.WithLabelValues(reason.String()).Inc()
	}
}

func (m *Metrics) badFrame() {
	if m != nil {
		m.badFrames.Inc()
	}
}

func (m *Metrics) refused(cap string) {
	if m != nil {
		m.refusedConn.WithLabelValues(cap).Inc()
	}
}

func (m *Metrics) panicked(where string) {
	if m != nil {
		m.panics.WithLabelValues(where).Inc()
	}
}

func (m *Metrics) withheld() {
	if m != nil {
		m.withholds.Inc()
	}
}

// boundNow records how many connections are signed on as institution.
func (m *Metrics) boundNow(institution string, n int) {
	if m != nil {
		m.signedOn.WithLabelValues(institution).Set(float64(n))
	}
}
