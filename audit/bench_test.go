package audit

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkWrite is the gateway's hot path: Write from many goroutines at
// once (64: as many inquiries in flight), each returning once its record
// is durable, with one and two batches in flight, to PostgreSQL and to the
// spool (the database-down case: an append and an fsync per batch). It
// reports the latency of one Write (p50, p99), and serial/* the latency of
// a lone Write (one commit or one fsync, nothing to group with): the
// difference is what grouping adds.
func BenchmarkWrite(b *testing.B) {
	for _, sink := range []string{"database", "database+rtt=1ms", "spool"} {
		for _, writers := range []int{1, 2} {
			for _, mode := range []string{"serial", "parallel", "rate=3000"} {
				b.Run(fmt.Sprintf("%s/writers=%d/%s", sink, writers, mode), func(b *testing.B) {
					opts := Options{SpoolDir: b.TempDir(), writers: writers}
					switch sink {
					case "database":
						opts.DatabaseURL = database(b)
					case "database+rtt=1ms": // the database on another host
						opts.DatabaseURL = delayed(b, database(b), time.Millisecond)
					}
					switch mode {
					case "serial":
						benchWrite(b, opts, 0, 0)
					case "parallel":
						benchWrite(b, opts, 32, 0) // 32 × GOMAXPROCS goroutines, closed loop
					default:
						benchWrite(b, opts, 0, 3000)
					}
				})
			}
		}
	}
}

// benchWrite runs b.N Writes: from one goroutine (par 0, rate 0), from
// par × GOMAXPROCS goroutines in a closed loop, or at rate a second (open
// loop: 64 goroutines take the Writes as they are due, and the latency is
// counted from when each was due).
func benchWrite(b *testing.B, opts Options, par, rate int) {
	w, err := Open(context.Background(), opts)
	if err != nil {
		b.Fatal(err)
	}
	r := rec("", "00")
	var mu sync.Mutex
	var lat []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	switch {
	case rate > 0:
		due := make(chan time.Time, b.N)
		var wg sync.WaitGroup
		for range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var own []time.Duration
				for t0 := range due {
					if err := w.Write(context.Background(), r); err != nil {
						b.Error(err)
					}
					own = append(own, time.Since(t0))
				}
				mu.Lock()
				lat = append(lat, own...)
				mu.Unlock()
			}()
		}
		start := time.Now()
		every := time.Second / time.Duration(rate)
		for i := range b.N {
			at := start.Add(time.Duration(i) * every)
			time.Sleep(time.Until(at))
			due <- at
		}
		close(due)
		wg.Wait()
	case par == 0:
		own := make([]time.Duration, 0, b.N)
		for range b.N {
			t0 := time.Now()
			if err := w.Write(context.Background(), r); err != nil {
				b.Fatal(err)
			}
			own = append(own, time.Since(t0))
		}
		lat = own
	default:
		b.SetParallelism(par)
		b.RunParallel(func(pb *testing.PB) {
			var own []time.Duration
			for pb.Next() {
				t0 := time.Now()
				if err := w.Write(context.Background(), r); err != nil {
					b.Error(err)
					return
				}
				own = append(own, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, own...)
			mu.Unlock()
		})
	}
	b.StopTimer()
	st := w.Stats()
	if err := w.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	want := Stats{Written: st.Written, Batches: st.Batches}
	if opts.DatabaseURL == "" {
		want = Stats{Spooled: st.Spooled, SpoolBatches: st.SpoolBatches}
	}
	if st.WriteErrors != 0 || int(want.Written+want.Spooled) != b.N || st.Batches+st.SpoolBatches != want.Batches+want.SpoolBatches {
		b.Fatalf("%+v, want %d records, all in the %s", st, b.N, map[bool]string{true: "spool", false: "database"}[opts.DatabaseURL == ""])
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "µs-p50")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "µs-p99")
	}
	batches := st.Batches + st.SpoolBatches
	if batches > 0 {
		b.ReportMetric(float64(b.N)/float64(batches), "records/batch")
	}
}

// delayed is dbURL through a proxy that delays every byte by rtt/2 each
// way (a database on another host: rtt is the network's round trip).
func delayed(b *testing.B, dbURL string, rtt time.Duration) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	target := u.Host
	var wg sync.WaitGroup
	b.Cleanup(func() { l.Close(); wg.Wait() })
	pump := func(dst, src net.Conn) {
		defer wg.Done()
		type chunk struct {
			at time.Time
			b  []byte
		}
		q := make(chan chunk, 1024)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer dst.Close()
			for c := range q {
				time.Sleep(time.Until(c.at))
				if _, err := dst.Write(c.b); err != nil {
					return
				}
			}
		}()
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{time.Now().Add(rtt / 2), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			wg.Add(2)
			go pump(s, c)
			go pump(c, s)
		}
	}()
	u.Host = l.Addr().String()
	return u.String()
}
