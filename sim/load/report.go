package load

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Report is the outcome of a run: what was asked, what happened, and the
// accounting that ties the two (sent = answered + timed out).
type Report struct {
	// The run.
	Gateway      string    `json:"gateway"`
	Connections  int       `json:"connections"`
	Institutions []string  `json:"institutions"`
	Service      string    `json:"service"`
	Mode         string    `json:"mode"`                  // "closed loop" or "open loop"
	TargetRate   float64   `json:"target_rate,omitempty"` // requests/s, open loop
	Window       int       `json:"window"`                // outstanding requests per connection at most
	TimeoutMS    float64   `json:"timeout_ms"`
	Cards        int       `json:"cards"`
	Started      time.Time `json:"started"`
	Seconds      float64   `json:"seconds"`

	// The accounting. Every request sent is either answered (an answer
	// with its STAN came back before its timeout) or timed out (its
	// timeout passed, its connection was lost, or the run ended first).
	Sent         int64 `json:"sent"`
	Answered     int64 `json:"answered"`
	TimedOut     int64 `json:"timed_out"`
	Lost         int64 `json:"lost"`       // of the timed out: their connection closed first
	Late         int64 `json:"late"`       // answers that came after their request timed out (not counted as answered)
	Unknown      int64 `json:"unknown"`    // responses that matched no request of their connection
	Unexpected   int64 `json:"unexpected"` // answers whose code differs from the card file's expect
	AccountingOK bool  `json:"accounting_ok"`

	Throughput float64     `json:"throughput"` // answers per second over the run
	Codes      []CodeCount `json:"response_codes"`
	Latency    Latency     `json:"latency_ms"`
	Series     []Point     `json:"series"`

	ConnectionsLost int      `json:"connections_lost"`
	Errors          []string `json:"errors,omitempty"`
}

// CodeCount is how many answers carried one response code.
type CodeCount struct {
	Code        string `json:"code"`
	Description string `json:"description,omitempty"`
	Count       int64  `json:"count"`
}

// Latency is the latency distribution of the answered requests, in
// milliseconds, from an HDR histogram (three significant digits).
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	inst := strings.Join(r.Institutions, ",")
	fmt.Fprintf(&b, "atmsim load: %s, %d connection(s) as %s, %s inquiries, %s",
		r.Gateway, r.Connections, inst, r.Service, r.Mode)
	if r.TargetRate > 0 {
		fmt.Fprintf(&b, " at %.0f/s", r.TargetRate)
	}
	fmt.Fprintf(&b, ", window %d per connection, timeout %s, %d card(s)\n",
		r.Window, time.Duration(r.TimeoutMS*float64(time.Millisecond)), r.Cards)
	fmt.Fprintf(&b, "duration     %.1f s\n", r.Seconds)
	fmt.Fprintf(&b, "sent         %d\n", r.Sent)
	fmt.Fprintf(&b, "answered     %d  (%.1f/s)\n", r.Answered, r.Throughput)
	fmt.Fprintf(&b, "timed out    %d  (of which %d lost with their connection)\n", r.TimedOut, r.Lost)
	verdict := "OK"
	if !r.AccountingOK {
		verdict = "MISMATCH"
	}
	fmt.Fprintf(&b, "accounting   sent = answered + timed out: %d = %d + %d  %s\n", r.Sent, r.Answered, r.TimedOut, verdict)
	fmt.Fprintf(&b, "late         %d  (answers after their timeout; their requests count as timed out)\n", r.Late)
	fmt.Fprintf(&b, "unknown      %d  (responses matching no request)\n", r.Unknown)
	if r.ConnectionsLost > 0 {
		fmt.Fprintf(&b, "connections lost: %d\n", r.ConnectionsLost)
	}
	b.WriteString("response codes:\n")
	if len(r.Codes) == 0 {
		b.WriteString("  (none)\n")
	}
	for _, c := range r.Codes {
		pct := 0.0
		if r.Answered > 0 {
			pct = 100 * float64(c.Count) / float64(r.Answered)
		}
		fmt.Fprintf(&b, "  %s  %10d  %5.1f%%  %s\n", c.Code, c.Count, pct, c.Description)
	}
	fmt.Fprintf(&b, "unexpected   %d  (answers whose code differs from the card file's expect)\n", r.Unexpected)
	l := r.Latency
	fmt.Fprintf(&b, "latency ms   p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (mean %.3f)\n",
		l.P50, l.P90, l.P99, l.P999, l.Max, l.Mean)
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "error: %s\n", e)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
