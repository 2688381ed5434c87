package limits

import (
	"testing"

	"github.com/bli/atmgw/card"
)

func BenchmarkScreen(b *testing.B) {
	in := inquiryFor(partnerProfiles()[5], card.ServicePension, false)
	p := Profile{40, 16}
	b.ReportAllocs()
	for b.Loop() {
		Screen(p, in)
	}
}

func BenchmarkScreenTwoLine(b *testing.B) {
	in := inquiryFor(partnerProfiles()[6], card.ServiceInsurance, false)
	p := Profile{32, 20}
	b.ReportAllocs()
	for b.Loop() {
		Screen(p, in)
	}
}

func BenchmarkReceipt(b *testing.B) {
	in := inquiryFor(partnerProfiles()[5], card.ServicePension, false)
	p := Profile{40, 24}
	b.ReportAllocs()
	for b.Loop() {
		Receipt(p, in)
	}
}

func BenchmarkStatement(b *testing.B) {
	in := inquiryFor(partnerProfiles()[5], card.ServicePension, false)
	b.ReportAllocs()
	for b.Loop() {
		Statement(in)
	}
}

func BenchmarkMessage(b *testing.B) {
	p := Profile{32, 16}
	b.ReportAllocs()
	for b.Loop() {
		Message(p, "未申請勞保局資料查詢服務，請洽發卡單位")
	}
}

func BenchmarkEncodeBig5(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		EncodeBig5(unitLong)
	}
}
