package audit

import "github.com/prometheus/client_golang/prometheus"

var (
	descSpool = prometheus.NewDesc("atmgw_audit_spool_records",
		"Audit records waiting in the local spool for the database.", nil, nil)
	descBuffer = prometheus.NewDesc("atmgw_audit_buffer_records",
		"Audit records queued for their batch (at most audit.buffer).", nil, nil)
	descUp = prometheus.NewDesc("atmgw_audit_database_up",
		"1 while the audit trail writes to the database, 0 while it spools.", nil, nil)
	descWritten = prometheus.NewDesc("atmgw_audit_records_written_total",
		"Audit records stored in the database (replayed duplicates not counted).", nil, nil)
	descJournaled = prometheus.NewDesc("atmgw_audit_records_journaled_total",
		"Audit records committed in the card state's transaction of the check that decided the answer (one commit for both), also counted in atmgw_audit_records_written_total.", nil, nil)
	descSpooled = prometheus.NewDesc("atmgw_audit_records_spooled_total",
		"Audit records appended to the local spool, by reason: database (down, failing or none).", []string{"reason"}, nil)
	descBatches = prometheus.NewDesc("atmgw_audit_batches_total",
		"Batches of audit records made durable, by where: database (one INSERT, one commit) or spool (one append and fsync).", []string{"to"}, nil)
	descFailed = prometheus.NewDesc("atmgw_audit_batches_failed_total",
		"Audit batches (or connections) the database failed; their records went to the spool.", nil, nil)
	descRejected = prometheus.NewDesc("atmgw_audit_records_rejected_total",
		"Audit records the database refused as invalid, kept in audit-rejected.log.", nil, nil)
	descLost = prometheus.NewDesc("atmgw_audit_records_lost_total",
		"Audit records lost after they were durable: corrupt spool lines, replayed records refused whose rejected file failed. (The torn last line of a crashed process is not counted: it was never acknowledged.)", nil, nil)
	descWriteErrors = prometheus.NewDesc("atmgw_audit_write_errors_total",
		"Audit records not made durable (their answers withheld), by reason: unavailable (neither the database nor the spool took them), closed, canceled (the caller's context ended first).", []string{"reason"}, nil)
)

// histograms are a Writer's latency and batch size distributions.
type histograms struct {
	write prometheus.Histogram     // Write's latency
	batch *prometheus.HistogramVec // records per batch, by to
}

func newHistograms() histograms {
	return histograms{
		write: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "atmgw_audit_write_seconds",
			Help:    "Time an audit record takes to become durable (Write: queue, batch, commit or spool fsync).",
			Buckets: prometheus.ExponentialBuckets(0.000125, 2, 17), // 125µs to 8s
		}),
		batch: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "atmgw_audit_batch_records",
			Help:    "Audit records per batch, by to: database (one INSERT), spool (one append and fsync), replay (spool to database).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14), // 1 to 8192
		}, []string{"to"}),
	}
}

// collector exports a Writer's counters and histograms.
type collector struct{ w *Writer }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSpool, descBuffer, descUp, descWritten, descJournaled, descSpooled, descBatches, descFailed,
		descRejected, descLost, descWriteErrors} {
		ch <- d
	}
	c.w.h.write.Describe(ch)
	c.w.h.batch.Describe(ch)
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	w := c.w
	s := w.Stats()
	up := 0.0
	if s.DatabaseUp {
		up = 1
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descSpool, float64(s.SpoolPending))
	gauge(descBuffer, float64(s.Queued))
	gauge(descUp, up)
	counter(descWritten, s.Written)
	counter(descJournaled, s.Journaled)
	counter(descSpooled, s.Spooled, "database")
	counter(descBatches, s.Batches, "database")
	counter(descBatches, s.SpoolBatches, "spool")
	counter(descFailed, s.FailedBatches)
	counter(descRejected, s.Rejected)
	counter(descLost, s.Lost)
	counter(descWriteErrors, w.c.unavailable.Load(), "unavailable")
	counter(descWriteErrors, w.c.closed.Load(), "closed")
	counter(descWriteErrors, w.c.canceled.Load(), "canceled")
	w.h.write.Collect(ch)
	w.h.batch.Collect(ch)
}
