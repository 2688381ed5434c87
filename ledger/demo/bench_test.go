package demo_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/demo"
	"github.com/bli/atmgw/ledger/storetest"
)

func BenchmarkMemoryInquire(b *testing.B) {
	l := storetest.Random(42, 10_000)
	h := storetest.Hasher()
	m, _, err := demo.LoadMemory(context.Background(), l.Files(), h)
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
