package audit

import (
	"context"
	"testing"
)

// BenchmarkAdd is the gateway's hot path: records added from many
// goroutines while the writer empties the buffer into the spool (the
// database-down case: an fsync per batch).
func BenchmarkAdd(b *testing.B) {
	w, err := Open(context.Background(), Options{SpoolDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	r := rec("", "00")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w.Add(r)
		}
	})
	b.StopTimer()
	if err := w.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	if st := w.Stats(); st.Lost != 0 || st.SpoolPending != b.N {
		b.Fatalf("%+v, want %d records", st, b.N)
	}
}
