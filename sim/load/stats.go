package load

import (
	"sort"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds, from 1 µs to 10 minutes, to three
// significant digits.
const (
	histMin    = 1
	histMax    = int64(10 * time.Minute / time.Microsecond)
	histDigits = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histDigits) }

// Collector adds up what happens to the requests of a run. It is safe for
// concurrent use. The invariant it keeps, at every moment once the requests
// in flight are settled: sent = answered + timed out.
type Collector struct {
	mu    sync.Mutex
	start time.Time
	every time.Duration

	sent, answered, timedOut, lost, late, unknown, unexpected int64
	codes                                                     map[string]int64
	hist                                                      *hdrhistogram.Histogram

	// The interval being filled and the ones done.
	cur    interval
	series []Point
}

type interval struct {
	start                    time.Time
	sent, answered, timedOut int64
	hist                     *hdrhistogram.Histogram
}

// Point is one interval of the run, for the plot.
type Point struct {
	T          float64 `json:"t_s"`     // seconds from the start of the run to the end of the interval
	Seconds    float64 `json:"seconds"` // length of the interval
	Sent       int64   `json:"sent"`
	Answered   int64   `json:"answered"`
	TimedOut   int64   `json:"timed_out"`
	Throughput float64 `json:"throughput"` // answers per second
	P50        float64 `json:"p50_ms"`
	P90        float64 `json:"p90_ms"`
	P99        float64 `json:"p99_ms"`
	Max        float64 `json:"max_ms"`
}

// NewCollector starts collecting at start, cutting the series every interval.
func NewCollector(start time.Time, every time.Duration) *Collector {
	if every <= 0 {
		every = time.Second
	}
	return &Collector{
		start: start,
		every: every,
		codes: map[string]int64{},
		hist:  newHist(),
		cur:   interval{start: start, hist: newHist()},
	}
}

func micros(d time.Duration) int64 {
	us := int64(d / time.Microsecond)
	if us < histMin {
		us = histMin
	}
	if us > histMax {
		us = histMax
	}
	return us
}

// Sent counts a request written to a connection.
func (c *Collector) Sent() {
	c.mu.Lock()
	c.sent++
	c.cur.sent++
	c.mu.Unlock()
}

// Answered counts the answer of a request in flight: its latency, its
// response code and whether the code is not the one the card expected.
func (c *Collector) Answered(latency time.Duration, rc string, unexpected bool) {
	us := micros(latency)
	c.mu.Lock()
	c.answered++
	c.cur.answered++
	c.codes[rc]++
	if unexpected {
		c.unexpected++
	}
	c.hist.RecordValue(us)
	c.cur.hist.RecordValue(us)
	c.mu.Unlock()
}

// TimedOut counts a request given up on: its timeout passed, or (lost) its
// connection closed before the answer came, or the run ended without it.
func (c *Collector) TimedOut(lost bool) {
	c.mu.Lock()
	c.timedOut++
	c.cur.timedOut++
	if lost {
		c.lost++
	}
	c.mu.Unlock()
}

// Late counts an answer that came after its request timed out. It is not
// an answer in the accounting (the request stays counted as timed out).
func (c *Collector) Late() {
	c.mu.Lock()
	c.late++
	c.mu.Unlock()
}

// Unknown counts a response that matches no request of its connection
// (a STAN never sent, or a terminal id not the connection's).
func (c *Collector) Unknown() {
	c.mu.Lock()
	c.unknown++
	c.mu.Unlock()
}

// Tick closes the intervals that ended by now. It is called by the run's
// clock goroutine; the series does not depend on when exactly.
func (c *Collector) Tick(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for now.Sub(c.cur.start) >= c.every {
		c.closeInterval(c.cur.start.Add(c.every))
	}
}

// closeInterval ends the current interval at end. Called with mu held.
func (c *Collector) closeInterval(end time.Time) {
	secs := end.Sub(c.cur.start).Seconds()
	if secs <= 0 {
		return
	}
	h := c.cur.hist
	p := Point{
		T:          end.Sub(c.start).Seconds(),
		Seconds:    secs,
		Sent:       c.cur.sent,
		Answered:   c.cur.answered,
		TimedOut:   c.cur.timedOut,
		Throughput: float64(c.cur.answered) / secs,
	}
	if h.TotalCount() > 0 {
		p.P50 = ms(h.ValueAtQuantile(50))
		p.P90 = ms(h.ValueAtQuantile(90))
		p.P99 = ms(h.ValueAtQuantile(99))
		p.Max = ms(h.Max())
	}
	c.series = append(c.series, p)
	h.Reset()
	c.cur = interval{start: end, hist: h}
}

func ms(us int64) float64 { return float64(us) / 1000 }

// Snapshot is the running totals, for the progress display.
type Snapshot struct {
	Elapsed                                       time.Duration
	Sent, Answered, TimedOut, Late, Unknown, Lost int64
	InFlight                                      int64
	P99                                           float64 // ms, over the run so far
}

// Snapshot returns the totals so far.
func (c *Collector) Snapshot(now time.Time) Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Snapshot{
		Elapsed:  now.Sub(c.start),
		Sent:     c.sent,
		Answered: c.answered,
		TimedOut: c.timedOut,
		Late:     c.late,
		Unknown:  c.unknown,
		Lost:     c.lost,
		InFlight: c.sent - c.answered - c.timedOut,
		P99:      ms(c.hist.ValueAtQuantile(99)),
	}
}

// Finish closes the last (partial) interval at end and returns the totals
// as a report (the caller fills in the description of the run).
func (c *Collector) Finish(end time.Time) *Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeIntervalsTo(end)
	r := &Report{
		Started:    c.start,
		Seconds:    end.Sub(c.start).Seconds(),
		Sent:       c.sent,
		Answered:   c.answered,
		TimedOut:   c.timedOut,
		Lost:       c.lost,
		Late:       c.late,
		Unknown:    c.unknown,
		Unexpected: c.unexpected,
		Codes:      make([]CodeCount, 0, len(c.codes)),
		Series:     append([]Point(nil), c.series...),
	}
	for rc, n := range c.codes {
		r.Codes = append(r.Codes, CodeCount{Code: rc, Count: n})
	}
	sort.Slice(r.Codes, func(i, j int) bool { return r.Codes[i].Code < r.Codes[j].Code })
	if r.Seconds > 0 {
		r.Throughput = float64(c.answered) / r.Seconds
	}
	h := c.hist
	if h.TotalCount() > 0 {
		r.Latency = Latency{
			P50:  ms(h.ValueAtQuantile(50)),
			P90:  ms(h.ValueAtQuantile(90)),
			P99:  ms(h.ValueAtQuantile(99)),
			P999: ms(h.ValueAtQuantile(99.9)),
			Max:  ms(h.Max()),
			Mean: h.Mean() / 1000,
		}
	}
	r.AccountingOK = r.Sent == r.Answered+r.TimedOut
	return r
}

func (c *Collector) closeIntervalsTo(end time.Time) {
	for end.Sub(c.cur.start) >= c.every {
		c.closeInterval(c.cur.start.Add(c.every))
	}
	if !end.After(c.cur.start) || (c.cur.sent == 0 && c.cur.answered == 0 && c.cur.timedOut == 0) {
		return
	}
	if n := len(c.series); n > 0 && end.Sub(c.cur.start) < c.every/4 {
		// A sliver at the end would show a spike or a dip: fold it into the
		// last whole interval.
		p := &c.series[n-1]
		p.Seconds += end.Sub(c.cur.start).Seconds()
		p.T = end.Sub(c.start).Seconds()
		p.Sent += c.cur.sent
		p.Answered += c.cur.answered
		p.TimedOut += c.cur.timedOut
		p.Throughput = float64(p.Answered) / p.Seconds
		if m := ms(c.cur.hist.Max()); m > p.Max {
			p.Max = m
		}
		c.cur = interval{start: end, hist: c.cur.hist}
		return
	}
	c.closeInterval(end)
}
