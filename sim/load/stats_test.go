package load

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)

func TestCollectorAccounting(t *testing.T) {
	c := NewCollector(t0, time.Second)
	for range 10 {
		c.Sent()
	}
	for i := range 6 {
		c.Answered(time.Duration(i+1)*time.Millisecond, "00", false)
	}
	c.Answered(time.Millisecond, "57", true)
	c.TimedOut(false)
	c.TimedOut(true)
	c.TimedOut(true)
	c.Late()
	c.Unknown()
	c.Tick(t0.Add(1500 * time.Millisecond))
	r := c.Finish(t0.Add(2 * time.Second))
	if r.Sent != 10 || r.Answered != 7 || r.TimedOut != 3 || r.Lost != 2 || r.Late != 1 || r.Unknown != 1 || r.Unexpected != 1 {
		t.Fatalf("report %+v", r)
	}
	if !r.AccountingOK {
		t.Error("accounting not OK")
	}
	if len(r.Codes) != 2 || r.Codes[0] != (CodeCount{Code: "00", Count: 6}) || r.Codes[1].Code != "57" {
		t.Errorf("codes %+v", r.Codes)
	}
	if r.Throughput != 3.5 {
		t.Errorf("throughput %v, want 3.5", r.Throughput)
	}
	if r.Latency.Max < 5.99 || r.Latency.Max > 6.01 || r.Latency.P50 < 1 || r.Latency.P50 > 3.01 {
		t.Errorf("latency %+v", r.Latency)
	}
	// The second second had nothing: it shows as a zero (a stall must show).
	if len(r.Series) != 2 || r.Series[0].Answered != 7 || r.Series[0].T != 1 || r.Series[1].Throughput != 0 {
		t.Errorf("series %+v", r.Series)
	}
}

func TestCollectorMismatch(t *testing.T) {
	c := NewCollector(t0, time.Second)
	c.Sent()
	c.Sent()
	c.Answered(time.Millisecond, "00", false)
	r := c.Finish(t0.Add(time.Second))
	if r.AccountingOK {
		t.Error("one request neither answered nor timed out, yet accounting OK")
	}
	var b strings.Builder
	r.WriteText(&b)
	if !strings.Contains(b.String(), "2 = 1 + 0  MISMATCH") {
		t.Errorf("text report does not show the mismatch:\n%s", b.String())
	}
}

func TestSeriesIntervals(t *testing.T) {
	c := NewCollector(t0, time.Second)
	for s := range 5 {
		for range s + 1 {
			c.Sent()
			c.Answered(time.Duration(s+1)*time.Millisecond, "00", false)
		}
		c.Tick(t0.Add(time.Duration(s+1)*time.Second + time.Millisecond))
	}
	c.Sent()
	c.Answered(time.Millisecond, "00", false)
	r := c.Finish(t0.Add(5*time.Second + 100*time.Millisecond)) // a sliver: folded into the last point
	if len(r.Series) != 5 {
		t.Fatalf("%d points, want 5: %+v", len(r.Series), r.Series)
	}
	for i, p := range r.Series[:4] {
		if p.Answered != int64(i+1) || p.Throughput != float64(i+1) {
			t.Errorf("point %d = %+v", i, p)
		}
	}
	last := r.Series[4]
	if last.Answered != 6 || last.T != 5.1 {
		t.Errorf("last point %+v, want 6 answers ending at 5.1 s", last)
	}
}

func TestReportOutputs(t *testing.T) {
	c := NewCollector(t0, time.Second)
	for s := range 30 {
		for i := range 50 {
			c.Sent()
			c.Answered(time.Duration(200+i*s)*time.Microsecond, "00", false)
		}
		c.Sent()
		c.TimedOut(false)
		c.Tick(t0.Add(time.Duration(s+1) * time.Second))
	}
	r := c.Finish(t0.Add(30 * time.Second))
	r.Gateway, r.Connections, r.Institutions, r.Mode, r.Service = "127.0.0.1:8583", 4, []string{"700"}, "closed loop", "pension"

	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back["sent"].(float64) != 1530 || back["accounting_ok"] != true || back["latency_ms"].(map[string]any)["p99_9"] == nil {
		t.Errorf("JSON report: %s", js.String()[:300])
	}

	var txt strings.Builder
	r.WriteText(&txt)
	for _, want := range []string{"sent         1530", "answered     1500", "timed out    30", "1530 = 1500 + 30  OK", "p99.9"} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, txt.String())
		}
	}

	var svg bytes.Buffer
	if err := r.WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	checkXML(t, svg.Bytes())
	if n := strings.Count(svg.String(), "<polyline"); n != 6 {
		t.Errorf("%d polylines, want 6 (answers, timeouts, 4 latency lines)", n)
	}
}

func TestSVGEmpty(t *testing.T) {
	r := NewCollector(t0, time.Second).Finish(t0)
	var svg bytes.Buffer
	if err := r.WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	checkXML(t, svg.Bytes())
	if !strings.Contains(svg.String(), "no data") {
		t.Error("an empty run's plot does not say so")
	}
}

func checkXML(t *testing.T, b []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
			if se.Name.Space != "http://www.w3.org/2000/svg" {
				t.Errorf("root namespace %q", se.Name.Space)
			}
		}
	}
	if root != "svg" {
		t.Errorf("root element %q", root)
	}
}

func TestNiceStep(t *testing.T) {
	for raw, want := range map[float64]float64{0.7: 1, 1: 1, 1.1: 2, 3: 5, 7: 10, 1234: 2000, 0: 1} {
		if got := niceStep(raw); got != want {
			t.Errorf("niceStep(%v) = %v, want %v", raw, got, want)
		}
	}
}
