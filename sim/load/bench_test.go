package load

import (
	"context"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/bli/atmgw/internal/config"
	"github.com/bli/atmgw/internal/gatewaytest"
	"github.com/bli/atmgw/sim/cards"
)

var benchKey = []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10}

// BenchmarkGatewayDemo runs the gateway on the embedded demo ledger and
// loads it from the same process: the gateway's own cost per inquiry with
// no database behind it (run it with -cpuprofile to see where it goes).
func BenchmarkGatewayDemo(b *testing.B) {
	addr := gatewaytest.StartDemo(b, gatewaytest.WithoutRateLimit())
	benchRun(b, addr, cards.Demo().Cards, 4, 2*time.Second)
}

// BenchmarkGatewayPostgres is what scripts/bench profiles: the gateway on
// the PostgreSQL of ATMSIM_BENCH_DATABASE_URL (loaded with the files whose
// card file is ATMSIM_BENCH_CARDS), loaded with the approved cards.
func BenchmarkGatewayPostgres(b *testing.B) {
	url := os.Getenv("ATMSIM_BENCH_DATABASE_URL")
	path := os.Getenv("ATMSIM_BENCH_CARDS")
	if url == "" || path == "" {
		b.Skip("set ATMSIM_BENCH_DATABASE_URL and ATMSIM_BENCH_CARDS (scripts/bench does)")
	}
	conns := envInt("ATMSIM_BENCH_CONNECTIONS", 8)
	secs := envInt("ATMSIM_BENCH_SECONDS", 10)
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	var list []cards.Card
	errEnough := errors.New("enough")
	err = cards.Scan(f, func(c cards.Card) error {
		if c.Expected(cards.Pension) == "00" && c.Expected(cards.Insurance) == "00" {
			list = append(list, c)
		}
		if len(list) == 20000 {
			return errEnough
		}
		return nil
	})
	f.Close()
	if err != nil && !errors.Is(err, errEnough) {
		b.Fatal(err)
	}
	addr := gatewaytest.StartDemo(b, gatewaytest.WithDatabase(url), gatewaytest.WithoutRateLimit(),
		gatewaytest.WithConfig(func(c *config.Config) { c.Ledger.MaxConns = conns }))
	benchRun(b, addr, list, conns, time.Duration(secs)*time.Second)
}

func benchRun(b *testing.B, addr string, list []cards.Card, conns int, d time.Duration) {
	for b.Loop() {
		res, err := Run(context.Background(), Config{
			Gateway: addr, Connections: conns, Institutions: []string{"005", "007", "012", "808", "812", "700"},
			MACKeys: map[string][]byte{"812": benchKey}, Cards: list, Service: "mix", Window: 4, Duration: d,
		})
		if err != nil {
			b.Fatal(err)
		}
		r := res.Report
		if !r.AccountingOK {
			b.Fatalf("accounting: %+v", r)
		}
		b.ReportMetric(r.Throughput, "inquiries/s")
		b.ReportMetric(r.Latency.P99, "p99-ms")
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
