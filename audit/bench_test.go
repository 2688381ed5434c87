package audit

import (
	"context"
	"fmt"
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
	for _, sink := range []string{"database", "spool"} {
		for _, writers := range []int{1, 2} {
			for _, par := range []int{0, 32} { // 0: one goroutine; 32: 32 × GOMAXPROCS
				name := fmt.Sprintf("%s/writers=%d/parallel", sink, writers)
				if par == 0 {
					name = fmt.Sprintf("%s/writers=%d/serial", sink, writers)
				}
				b.Run(name, func(b *testing.B) {
					opts := Options{SpoolDir: b.TempDir(), writers: writers}
					if sink == "database" {
						opts.DatabaseURL = auditDB(b)
					}
					benchWrite(b, opts, par)
				})
			}
		}
	}
}

func benchWrite(b *testing.B, opts Options, par int) {
	w, err := Open(context.Background(), opts)
	if err != nil {
		b.Fatal(err)
	}
	r := rec("", "00")
	var mu sync.Mutex
	var lat []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	if par == 0 {
		own := make([]time.Duration, 0, b.N)
		for range b.N {
			t0 := time.Now()
			if err := w.Write(context.Background(), r); err != nil {
				b.Fatal(err)
			}
			own = append(own, time.Since(t0))
		}
		lat = own
	} else {
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
	if st.WriteErrors != 0 || int(st.Written+st.Spooled) != b.N {
		b.Fatalf("%+v, want %d records", st, b.N)
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
