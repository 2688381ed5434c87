package ledger_test

import (
	"testing"

	"github.com/bli/atmgw/ledger"
)

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
