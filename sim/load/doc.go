// Package load drives a gateway with many partner connections at once and
// measures it: `atmsim load`.
//
// Each connection signs on as one institution and sends 0200 inquiries
// made with virtual chip cards (each card is in one request at a time, so
// its ATC only goes up). Requests are matched to answers by DE11 (with
// DE41) per connection; DE11 counts 000001 to 999999 and wraps, skipping
// STANs still in flight. Two ways of sending:
//
//   - closed loop (Rate 0): each connection keeps up to Window requests
//     outstanding and sends the next as soon as an answer frees a slot, so
//     the gateway sets the pace; latency is measured from the write.
//   - open loop (Rate > 0): requests are due at Rate per second in all,
//     whether or not answers came back (Window still caps what one
//     connection keeps outstanding); latency is measured from the time a
//     request was due, so that a stalled gateway or sender shows in the
//     latency instead of lowering the rate (no coordinated omission).
//
// The accounting always holds: sent = answered + timed out. A request is
// answered when its answer comes before its timeout; it is timed out when
// the timeout passes, when its connection is lost, or when the run ends
// before its answer. An answer after the timeout is counted as late (not as
// answered); a response whose STAN (or terminal id) matches nothing the
// connection has sent is counted as unknown.
//
// The report has the throughput, the response-code counts, latency
// percentiles from an HDR histogram, and a series per interval that
// WriteSVG plots.
package load
