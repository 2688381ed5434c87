package audit

import "github.com/prometheus/client_golang/prometheus"

var (
	descSpool = prometheus.NewDesc("atmgw_audit_spool_records",
		"Audit records waiting in the local spool for the database.", nil, nil)
	descBuffer = prometheus.NewDesc("atmgw_audit_buffer_records",
		"Audit records in the memory buffer.", nil, nil)
	descUp = prometheus.NewDesc("atmgw_audit_database_up",
		"1 while the audit trail writes to the database, 0 while it spools.", nil, nil)
	descWritten = prometheus.NewDesc("atmgw_audit_records_written_total",
		"Audit records stored in the database (replayed duplicates not counted).", nil, nil)
	descSpooled = prometheus.NewDesc("atmgw_audit_records_spooled_total",
		"Audit records appended to the local spool, by reason: database (down, failing or none) or buffer_full.", []string{"reason"}, nil)
	descFailed = prometheus.NewDesc("atmgw_audit_batches_failed_total",
		"Audit batches (or connections) the database failed; their records went to the spool.", nil, nil)
	descRejected = prometheus.NewDesc("atmgw_audit_records_rejected_total",
		"Audit records the database refused as invalid, kept in audit-rejected.log.", nil, nil)
	descLost = prometheus.NewDesc("atmgw_audit_records_lost_total",
		"Audit records not kept: spool write failed, corrupt spool lines, added after close.", nil, nil)
)

// collector exports a Writer's counters.
type collector struct{ w *Writer }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSpool, descBuffer, descUp, descWritten, descSpooled, descFailed, descRejected, descLost} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.w.Stats()
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
	gauge(descBuffer, float64(s.Buffered))
	gauge(descUp, up)
	counter(descWritten, s.Written)
	counter(descSpooled, s.Spooled-s.BufferFull, "database")
	counter(descSpooled, s.BufferFull, "buffer_full")
	counter(descFailed, s.FailedBatches)
	counter(descRejected, s.Rejected)
	counter(descLost, s.Lost)
}
