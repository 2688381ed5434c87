package postgres_test

import (
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/pgtest"
	"github.com/bli/atmgw/ledger/postgres"
	"github.com/bli/atmgw/ledger/storetest"
)

// BenchmarkInquire runs inquiries in parallel on a generated ledger of 10k
// persons (about 75k pension rows and 55k insurance events). Compare with
// `pgbench -S` on the same server: the goal is at least half its tps.
func BenchmarkInquire(b *testing.B) {
	ctx := ctxT(b)
	st, err := postgres.Open(ctx, pgtest.NewDatabase(b), postgres.Options{MaxConns: 16})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := postgres.Migrate(ctx, st.Pool()); err != nil {
		b.Fatal(err)
	}
	l := storetest.Random(42, 10_000)
	h := storetest.Hasher()
	if rep, err := postgres.LoadFS(ctx, st.Pool(), l.Files(), h, nil); err != nil || len(rep.Errors) > 0 {
		b.Fatal(err, rep.Errors)
	}
	if _, err := st.Pool().Exec(ctx, "VACUUM ANALYZE"); err != nil {
		b.Fatal(err)
	}
	qs := make([]ledger.Query, 0, 2*len(l.Consents))
	for _, c := range l.Consents {
		pan := strings.NewReplacer(" ", "", "-", "").Replace(c.PAN)
		for _, svc := range []card.Service{card.ServicePension, card.ServiceInsurance} {
			qs = append(qs, ledger.Query{Institution: c.Inst, PANHash: h.Hash(pan), Service: svc})
		}
	}
	var next atomic.Int64
	b.SetParallelism(8) // 16 goroutines on 2 cores: as many clients as pgbench -c 16
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := st.Inquire(ctx, qs[int(next.Add(1))%len(qs)]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	// The client's CPU per inquiry: on a shared machine a steadier figure
	// than the elapsed time.
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
	b.ReportMetric(float64(cpu)/float64(b.N), "client-cpu-ns/op")
}
