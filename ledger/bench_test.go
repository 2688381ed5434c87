package ledger_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/storetest"
)

func BenchmarkMemoryInquire(b *testing.B) {
	l := storetest.Random(42, 10_000)
	h := storetest.Hasher()
	m, _, err := ledger.LoadMemory(context.Background(), l.Files(), h)
	if err != nil {
		b.Fatal(err)
	}
	var qs []ledger.Query
	for _, c := range l.Consents {
		pan := strings.NewReplacer(" ", "", "-", "").Replace(c.PAN)
		for _, svc := range []card.Service{card.ServicePension, card.ServiceInsurance} {
			qs = append(qs, ledger.Query{Institution: c.Inst, PANHash: h.Hash(pan), Service: svc})
		}
	}
	var next atomic.Int64
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Inquire(ctx, qs[int(next.Add(1))%len(qs)]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkCoverage(b *testing.B) {
	evs := []ledger.InsuranceRow{
		ev(1, "2000-01-01", ledger.KindEnroll, "a"), ev(2, "2003-01-01", ledger.KindEnroll, "b"),
		ev(3, "2005-01-01", ledger.KindWithdraw, "a"), ev(4, "2006-01-01", ledger.KindSalaryChange, "b"),
		ev(5, "2010-01-01", ledger.KindWithdraw, "b"), ev(6, "2012-01-01", ledger.KindEnroll, "c"),
	}
	b.ReportAllocs()
	for b.Loop() {
		ledger.Coverage(evs)
	}
}
