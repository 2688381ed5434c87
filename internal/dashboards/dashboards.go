// Package dashboards builds the Grafana dashboard of atmgw as code, with
// Grafana's own Go SDK (grafana-foundation-sdk), over the metrics the
// gateway exports on its admin port (/metrics). The JSON it makes is shipped
// as configs/grafana/atmgw.json (import it in Grafana, or provision it);
// `go generate ./internal/dashboards` writes it again, and a test fails when
// the file and this code disagree.
//
// docs/operations.md ("What operators look at") says what each panel
// shows, what is normal and what to do.
package dashboards

//go:generate go run ./gen -o ../../configs/grafana/atmgw.json

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// UID is the dashboard's Grafana uid (stable, so that links survive a
// re-import).
const UID = "atmgw-gateway"

// The label filters of every query: the dashboard's variables.
const (
	gw      = `job=~"$job", instance=~"$instance"`                              // a gateway
	partner = `job=~"$job", instance=~"$instance", institution=~"$institution"` // a gateway and a partner
	inq     = partner + `, service=~"pension|insurance"`                        // inquiries (0200) only
	rateW   = `[$__rate_interval]`
)

// datasource is the dashboard's Prometheus, chosen by its variable.
func datasource() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}
}

// target is one query of a panel.
type target struct {
	expr, legend string
}

func q(expr, legend string) target { return target{expr: expr, legend: legend} }

// named prefixes the legends of ts with prefix: two histograms' quantiles
// on one panel.
func named(prefix string, ts []target) []target {
	for i := range ts {
		ts[i].legend = prefix + ts[i].legend
	}
	return ts
}

// quantiles is a target per quantile of a histogram's buckets, summed by
// the given labels (besides le).
func quantiles(bucket, filter, by string, qs ...float64) []target {
	var out []target
	for _, v := range qs {
		legend := fmt.Sprintf("p%g", v*100)
		grouping := "le"
		if by != "" {
			grouping = by + ", le"
			legend += " {{" + by + "}}"
		}
		out = append(out, q(fmt.Sprintf("histogram_quantile(%g, sum by (%s) (rate(%s{%s}%s)))", v, grouping, bucket, filter, rateW), legend))
	}
	return out
}

// queries turns targets into the SDK's Prometheus queries, refIds A, B, ...
func queries(ts []target, instant bool) []cog.Builder[variants.Dataquery] {
	var out []cog.Builder[variants.Dataquery]
	for i, t := range ts {
		b := prometheus.NewDataqueryBuilder().
			Datasource(datasource()).
			RefId(string(rune('A' + i))).
			Expr(t.expr).
			LegendFormat(t.legend)
		if instant {
			b = b.Instant()
		} else {
			b = b.Range()
		}
		out = append(out, b)
	}
	return out
}

// series is a time series panel.
func series(title, desc, unit string, w, h uint32, ts ...target) cog.Builder[dashboard.Panel] {
	return timeseries.NewPanelBuilder().
		Title(title).
		Description(desc).
		Datasource(datasource()).
		Unit(unit).
		Min(0).
		Span(w).
		Height(h).
		FillOpacity(10).
		Targets(queries(ts, false)).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending))
}

// stateMap is a value mapping of a gauge with a few states.
func stateMap(states ...state) []dashboard.ValueMapping {
	opts := map[string]dashboard.ValueMappingResult{}
	for i, s := range states {
		opts[s.value] = dashboard.ValueMappingResult{Text: cog.ToPtr(s.text), Color: cog.ToPtr(s.color), Index: cog.ToPtr(int32(i))}
	}
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: opts}}}
}

type state struct{ value, text, color string }

// timeline is a state timeline panel of a gauge with a few states.
func timeline(title, desc string, w, h uint32, states []state, ts ...target) cog.Builder[dashboard.Panel] {
	return statetimeline.NewPanelBuilder().
		Title(title).
		Description(desc).
		Datasource(datasource()).
		Span(w).
		Height(h).
		Mappings(stateMap(states...)).
		ShowValue(common.VisibilityModeAuto).
		MergeValues(true).
		Thresholds(dashboard.NewThresholdsConfigBuilder().
			Mode(dashboard.ThresholdsModeAbsolute).
			Steps([]dashboard.Threshold{{Value: nil, Color: "text"}})).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		Targets(queries(ts, false))
}

// count is a stat panel: a count over the dashboard's time range, green at
// 0 and red from 1.
func count(title, desc string, w, h uint32, t target) cog.Builder[dashboard.Panel] {
	return stat.NewPanelBuilder().
		Title(title).
		Description(desc).
		Datasource(datasource()).
		Span(w).
		Height(h).
		Decimals(0).
		GraphMode(common.BigValueGraphModeNone).
		ColorMode(common.BigValueColorModeBackground).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false)).
		Thresholds(dashboard.NewThresholdsConfigBuilder().
			Mode(dashboard.ThresholdsModeAbsolute).
			Steps([]dashboard.Threshold{{Value: nil, Color: "green"}, {Value: cog.ToPtr(1.0), Color: "red"}})).
		Targets(queries([]target{t}, true))
}

// Atmgw is the dashboard.
func Atmgw() (dashboard.Dashboard, error) {
	up := []state{{"0", "spooling (database down)", "red"}, {"1", "database", "green"}}
	b := dashboard.NewDashboardBuilder("atmgw — labor insurance inquiries at ATMs").
		Uid(UID).
		Description("The atmgw gateways: inquiries by partner and response code, latency, ledger breakers and shed inquiries, connections, the audit trail and the card state on the primary. Generated by internal/dashboards (go generate); see docs/operations.md, \"What operators look at\".").
		Tags([]string{"atmgw", "bli"}).
		Editable().
		Refresh("30s").
		Time("now-3h", "now").
		Timezone("Asia/Taipei").
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").
			Label("Prometheus").
			Type("prometheus")).
		WithVariable(dashboard.NewQueryVariableBuilder("job").
			Label("Job").
			Datasource(datasource()).
			Query(dashboard.StringOrMap{String: cog.ToPtr("label_values(atmgw_connections_open, job)")}).
			Definition("label_values(atmgw_connections_open, job)").
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			Sort(dashboard.VariableSortAlphabeticalAsc)).
		WithVariable(dashboard.NewQueryVariableBuilder("instance").
			Label("Gateway").
			Datasource(datasource()).
			Query(dashboard.StringOrMap{String: cog.ToPtr(`label_values(atmgw_connections_open{job=~"$job"}, instance)`)}).
			Definition(`label_values(atmgw_connections_open{job=~"$job"}, instance)`).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			Sort(dashboard.VariableSortAlphabeticalAsc).
			Multi(true).
			IncludeAll(true).
			AllValue(".*")).
		WithVariable(dashboard.NewQueryVariableBuilder("institution").
			Label("Partner (DE32)").
			Datasource(datasource()).
			Query(dashboard.StringOrMap{String: cog.ToPtr(`label_values(atmgw_requests_total{job=~"$job"}, institution)`)}).
			Definition(`label_values(atmgw_requests_total{job=~"$job"}, institution)`).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			Sort(dashboard.VariableSortAlphabeticalAsc).
			Multi(true).
			IncludeAll(true).
			AllValue(".*"))
	g := &grid{b: b}

	g.row("Inquiries",
		series("Inquiries by partner",
			"0200s answered per second (pension and insurance), by partner institution (DE32), all the selected gateways together.",
			units.RequestsPerSecond, 8, 8,
			q(`sum by (institution) (rate(atmgw_requests_total{`+inq+`}`+rateW+`))`, "{{institution}}")),
		series("Inquiries by partner and response code",
			"0200s answered per second by partner and DE39 response code: 00 answered; 14 no consent; 25 no such person; 30 format; 58 wrong institution; 63 MAC or ATC; 91 not signed on, ledger or primary unavailable; 94 duplicate (docs/interface.md).",
			units.RequestsPerSecond, 8, 8,
			q(`sum by (institution, code) (rate(atmgw_requests_total{`+inq+`}`+rateW+`))`, "{{institution}} {{code}}")),
		series("Share answered 91 by partner",
			"The share of each partner's 0200s answered 91 (the ATM shows \"busy\"). 0 when healthy; the alert AtmgwInquiries91 fires above 5% for 5 minutes.",
			units.PercentUnit, 8, 8,
			q(`(sum by (institution) (rate(atmgw_requests_total{`+inq+`, code="91"}`+rateW+`)) or 0 * sum by (institution) (rate(atmgw_requests_total{`+inq+`}`+rateW+`))) / sum by (institution) (rate(atmgw_requests_total{`+inq+`}`+rateW+`))`, "{{institution}}")),
		bargauge.NewPanelBuilder().
			Title("Response codes over the time range").
			Description("0200s answered in the dashboard's time range, by DE39 response code, all selected partners together.").
			Datasource(datasource()).
			Span(12).
			Height(7).
			Decimals(0).
			Orientation(common.VizOrientationHorizontal).
			DisplayMode(common.BarGaugeDisplayModeBasic).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false)).
			Targets(queries([]target{q(`sum by (code) (increase(atmgw_requests_total{`+inq+`}[$__range]))`, "{{code}}")}, true)),
		series("Network management by partner",
			"0800s (sign-on 001, echo 301, sign-off 002) and unknown messages answered per second, by partner, service and code. A partner's switch echoes every minute or two on a quiet line; a sign-on answered 05 was refused (unknown institution, address outside its networks, its connection cap).",
			units.RequestsPerSecond, 12, 7,
			q(`sum by (institution, service, code) (rate(atmgw_requests_total{`+partner+`, service!~"pension|insurance"}`+rateW+`))`, "{{institution}} {{service}} {{code}}")))

	g.row("Latency",
		series("Inquiry latency",
			"Time from reading a 0200 to queueing its 0210 (ledger, card state and audit included), p50, p95 and p99 over the selected gateways and partners. Normal: p99 a few milliseconds; the alert AtmgwInquiryLatencyHigh fires on p99 above 50 ms.",
			units.Seconds, 8, 8,
			quantiles("atmgw_request_duration_seconds_bucket", inq, "", 0.5, 0.95, 0.99)...),
		series("Inquiry latency p99 by partner",
			"p99 of the time from reading a 0200 to queueing its 0210, by partner.",
			units.Seconds, 8, 8,
			quantiles("atmgw_request_duration_seconds_bucket", inq, "institution", 0.99)...),
		series("Ledger call and queue wait p99 by host",
			"p99 of a ledger call on each host (from its turn under the concurrency limit to the answer; ledger.timeout caps it) and of the wait for that turn (ledger.queue_timeout caps it). Hosts are primary, replica1, ...",
			units.Seconds, 8, 8,
			q(`histogram_quantile(0.99, sum by (host, le) (rate(atmgw_ledger_call_duration_seconds_bucket{`+gw+`}`+rateW+`)))`, "call {{host}}"),
			q(`histogram_quantile(0.99, sum by (host, le) (rate(atmgw_ledger_queue_wait_seconds_bucket{`+gw+`}`+rateW+`)))`, "queue wait {{host}}")))

	g.row("Ledger",
		timeline("Breaker state by host",
			"Each ledger host's circuit breaker, the worst over the selected gateways: closed (in use), half-open (probing after breaker.open_for), open (skipped). The alert AtmgwLedgerBreakerOpen fires when a host keeps opening for 2 minutes.",
			12, 7, []state{{"0", "closed", "green"}, {"1", "half-open", "yellow"}, {"2", "open", "red"}},
			q(`max by (host) (atmgw_ledger_breaker_state{`+gw+`})`, "{{host}}")),
		series("Ledger calls by host and outcome",
			"Ledger inquiries per second sent to each host, by outcome: ok, error, timeout, breaker_open (refused by its breaker without reaching it), shed (turned away by its concurrency limit), cancelled.",
			units.RequestsPerSecond, 12, 7,
			q(`sum by (host, outcome) (rate(atmgw_ledger_calls_total{`+gw+`}`+rateW+`))`, "{{host}} {{outcome}}")),
		series("Shed inquiries and failovers",
			"Ledger inquiries a host's limiter turned away per second, by reason: queue_full, queue_timeout (91 unless another host answers); and inquiries tried on another host after one failed. Normal: 0. Shed with the breakers closed: the hosts are saturated.",
			units.RequestsPerSecond, 12, 7,
			q(`sum by (host, reason) (rate(atmgw_ledger_shed_total{`+gw+`}`+rateW+`))`, "shed {{host}} {{reason}}"),
			q(`sum(rate(atmgw_ledger_failovers_total{`+gw+`}`+rateW+`))`, "failovers")),
		series("Concurrency limit, queue and in flight",
			"Each host's adaptive concurrency limit (between ledger.min_concurrent and ledger.max_concurrent) summed over the selected gateways, the inquiries waiting for room under it, and the ledger inquiries in progress.",
			units.Short, 12, 7,
			q(`sum by (host) (atmgw_ledger_concurrency_limit{`+gw+`})`, "limit {{host}}"),
			q(`sum by (host) (atmgw_ledger_queued{`+gw+`})`, "queued {{host}}"),
			q(`sum(atmgw_ledger_in_flight{`+gw+`})`, "in flight")))

	g.row("Connections",
		series("Partner connections: signed on per partner, open per gateway",
			"Connections signed on as each partner, over every gateway (atmgw_connections_signed_on), and the TCP and TLS connections open on each gateway, signed on or not. Normal: every partner with its usual number of connections, spread over the gateways. A partner at 0 during business hours has no way in; see also \"Signed-on activity by partner\".",
			units.Short, 12, 7,
			q(`sum by (institution) (atmgw_connections_signed_on{`+partner+`})`, "signed on {{institution}}"),
			q(`sum by (instance) (atmgw_connections_open{`+gw+`})`, "open {{instance}}")),
		series("Signed-on activity by partner",
			"Requests per second answered with a code other than 05 (sign-on refused) and 91, by partner: what a signed-on connection of that partner sends (inquiries, echoes). A connection that is not signed on is closed at sign_on_deadline (30 s), so a partner with activity here holds a signed-on connection. The alert AtmgwPartnerNotSignedOn fires on a partner with none for 15 minutes in business hours.",
			units.RequestsPerSecond, 12, 7,
			q(`sum by (institution) (rate(atmgw_requests_total{`+partner+`, institution!="none", code!~"05|91"}`+rateW+`))`, "{{institution}}")),
		series("Connections closed by reason",
			"Partner connections closed per second, by reason (peer closed, idle timeout, frame timeout, unparseable frames, no sign-on within the deadline, sign-on refused, shutdown, reload: ...).",
			units.Short, 12, 7,
			q(`sum by (reason) (rate(atmgw_connections_closed_total{`+gw+`}`+rateW+`))`, "{{reason}}")),
		series("Connections refused and unparseable frames",
			"Connections closed at once or sign-ons refused per second, by cap: stranger (outside every partner's networks), total (max_conns), unbound (max_unbound_per_address), partner (max_conns_per_partner), sign-on deadline, tls; and frames with no recoverable MTI or DE11.",
			units.Short, 12, 7,
			q(`sum by (cap) (rate(atmgw_connections_refused_total{`+gw+`}`+rateW+`))`, "refused {{cap}}"),
			q(`sum(rate(atmgw_unparseable_frames_total{`+gw+`}`+rateW+`))`, "unparseable frames")))

	g.row("Audit trail",
		series("Audit spool depth",
			"Audit records waiting in each gateway's local spool for the database, and records queued for their batch (at most audit.buffer). Normal: 0 and a few. The spool grows only while the database is down or failing, and drains by itself once it is back; the alert AtmgwAuditSpoolGrowing fires when it keeps growing for 10 minutes.",
			units.Short, 8, 7,
			q(`sum by (instance) (atmgw_audit_spool_records{`+gw+`})`, "spool {{instance}}"),
			q(`sum by (instance) (atmgw_audit_buffer_records{`+gw+`})`, "queued {{instance}}")),
		timeline("Audit trail writes to",
			"Where each gateway's audit trail writes: the database, or the local spool while the database is down or failing.",
			8, 7, up,
			q(`min by (instance) (atmgw_audit_database_up{`+gw+`})`, "{{instance}}")),
		series("Audit records",
			"Audit records per second stored in the database (of which committed with their card state checks: journaled) and appended to the spool, and records not made durable (their answers withheld) by reason.",
			units.Short, 8, 7,
			q(`sum(rate(atmgw_audit_records_written_total{`+gw+`}`+rateW+`))`, "written to the database"),
			q(`sum(rate(atmgw_audit_records_journaled_total{`+gw+`}`+rateW+`))`, "of which journaled"),
			q(`sum(rate(atmgw_audit_records_spooled_total{`+gw+`}`+rateW+`))`, "spooled"),
			q(`sum by (reason) (rate(atmgw_audit_write_errors_total{`+gw+`}`+rateW+`))`, "not durable: {{reason}}")),
		series("Audit time to durable",
			"Time an audit record takes to become durable through the audit trail's own batches (queue, batch, commit or spool fsync): every answer not journaled waits for it. A record committed with its card state check is in Card-state round-trip time.",
			units.Seconds, 24, 6,
			quantiles("atmgw_audit_write_seconds_bucket", gw, "", 0.5, 0.99)...))

	g.row("Card state on the primary",
		series("Card-state round trips",
			"Group commits (round trips) per second to the primary for decisions 7, 14 and 15, and the checks they carry by verdict: accepted, duplicate, replayed, over_rate, unavailable (answered 91). With card_state.when_primary_down: memory, the checks answered from memory while the primary was down.",
			units.Short, 12, 7,
			q(`sum(rate(atmgw_card_state_batches_total{`+gw+`}`+rateW+`))`, "round trips"),
			q(`sum by (verdict) (rate(atmgw_card_state_checks_total{`+gw+`}`+rateW+`))`, "checks {{verdict}}"),
			q(`sum(rate(atmgw_card_state_fallbacks_total{`+gw+`}`+rateW+`))`, "answered from memory")),
		series("Card-state round-trip time",
			"Time of one group commit on the primary (the statement and its commit, retries included), p50 and p99; and a check's wait for a batch in flight to finish before its own is sent (queue), p50 and p99.",
			units.Seconds, 12, 7,
			append(quantiles("atmgw_card_state_batch_duration_seconds_bucket", gw, "", 0.5, 0.99),
				named("queue ", quantiles("atmgw_card_state_queue_wait_seconds_bucket", gw, "", 0.5, 0.99))...)...),
		timeline("Card-state primary",
			"Whether each gateway finds the primary answering card-state checks (up) or has marked it down (every inquiry then answered 91, or from memory with when_primary_down: memory).",
			12, 6, []state{{"0", "down", "red"}, {"1", "up", "green"}},
			q(`min by (instance) (atmgw_card_state_up{`+gw+`})`, "{{instance}}")),
		series("Card-state failures",
			"Per second: batches that failed (their checks answered 91), batches tried again (deadlock, serialization failure), batches whose audit records the primary refused (sent again without them), checks failed at once because the primary was marked down, and times it was marked down.",
			units.Short, 12, 6,
			q(`sum(rate(atmgw_card_state_errors_total{`+gw+`}`+rateW+`))`, "failed batches"),
			q(`sum(rate(atmgw_card_state_retries_total{`+gw+`}`+rateW+`))`, "retried batches"),
			q(`sum(rate(atmgw_card_state_unjournaled_batches_total{`+gw+`}`+rateW+`))`, "records refused"),
			q(`sum(rate(atmgw_card_state_fast_failed_total{`+gw+`}`+rateW+`))`, "fast-failed checks"),
			q(`sum(rate(atmgw_card_state_down_total{`+gw+`}`+rateW+`))`, "marked down")),
		series("Checks per round trip",
			"Checks grouped into one statement on the primary (at most card_state.max_batch), p50 and p99.",
			units.Short, 24, 6,
			quantiles("atmgw_card_state_batch_size_bucket", gw, "", 0.5, 0.99)...))

	g.row("Faults over the time range",
		count("Panics recovered",
			"Panics recovered in the time range (a bug: that request answered 91 where it could, that connection closed). 0 when none was recovered.",
			6, 4, q(`sum(increase(atmgw_panics_total{`+gw+`}[$__range])) or vector(0)`, "panics")),
		count("Answers withheld",
			"0210s not sent because their audit record could be made durable neither in the database nor in the spool.",
			6, 4, q(`sum(increase(atmgw_answers_withheld_total{`+gw+`}[$__range]))`, "withheld")),
		count("Audit records lost or rejected",
			"Audit records lost after they were durable (corrupt spool lines) or refused by the database (kept in audit-rejected.log).",
			6, 4, q(`sum(increase(atmgw_audit_records_lost_total{`+gw+`}[$__range])) + sum(increase(atmgw_audit_records_rejected_total{`+gw+`}[$__range]))`, "lost or rejected")),
		stat.NewPanelBuilder().
			Title("Gateways scraped").
			Description("Gateways whose /metrics Prometheus scrapes now, of those it knows (the job's up series).").
			Datasource(datasource()).
			Span(6).
			Height(4).
			Decimals(0).
			GraphMode(common.BigValueGraphModeNone).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false)).
			Targets(queries([]target{
				q(`sum(up{`+gw+`})`, "up"),
				q(`count(up{`+gw+`})`, "known"),
			}, true)))
	return g.b.Build()
}

// grid lays the rows out: each row expanded, its panels after it, every
// panel with its own id.
type grid struct {
	b  *dashboard.DashboardBuilder
	id uint32
}

func (g *grid) row(title string, panels ...cog.Builder[dashboard.Panel]) {
	g.id++
	g.b.WithRow(dashboard.NewRowBuilder(title).Collapsed(false).Id(g.id))
	for _, p := range panels {
		g.id++
		g.b.WithPanel(withID{p, g.id})
	}
}

// withID sets a panel's id.
type withID struct {
	b  cog.Builder[dashboard.Panel]
	id uint32
}

func (w withID) Build() (dashboard.Panel, error) {
	p, err := w.b.Build()
	p.Id = cog.ToPtr(w.id)
	return p, err
}

// JSON is the dashboard as shipped in configs/grafana/atmgw.json.
func JSON() ([]byte, error) {
	d, err := Atmgw()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
