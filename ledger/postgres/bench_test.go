package postgres_test

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bli/atmgw/audit"
	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/internal/metrictest"
	"github.com/bli/atmgw/internal/testledger"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/pgtest"
	"github.com/bli/atmgw/ledger/postgres"
	"github.com/bli/atmgw/ledger/storetest"
)

// BenchmarkInquire runs inquiries in parallel on a generated ledger of 10k
// persons (about 75k pension rows and 55k insurance events). Compare with
// `pgbench -S` on the same server: the goal is at least half its tps.
// readers= is Options.Readers (4 is the default for 16 connections): with
// fewer, batches are larger (fewer round trips, fewer system calls).
func BenchmarkInquire(b *testing.B) {
	for _, n := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("readers=%d", n), func(b *testing.B) { benchInquire(b, n) })
	}
}

func benchInquire(b *testing.B, readers int) {
	ctx := ctxT(b)
	st, err := postgres.Open(ctx, pgtest.NewDatabase(b), postgres.Options{MaxConns: 16, Readers: readers})
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
	runParallel(b, func() error {
		_, err := st.Inquire(ctx, qs[int(next.Add(1))%len(qs)])
		return err
	})
}

// runParallel times op in b.RunParallel and reports, besides ns/op, the
// CPU per operation of this process (client-cpu-ns/op) and of PostgreSQL
// (server-cpu-ns/op): on a shared machine steadier figures than the
// elapsed time.
func runParallel(b *testing.B, op func() error) {
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	server0 := postgresCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
	b.ReportMetric(float64(cpu)/float64(b.N), "client-cpu-ns/op")
	b.ReportMetric(float64(postgresCPU()-server0)/float64(b.N), "server-cpu-ns/op")
}

// BenchmarkCardStateCheck runs card state checks (decisions 7, 14, 15) on
// the primary from 64 goroutines (a gateway's sessions), over 20k cards
// already known (each check a new key and the card's next ATC, at the
// default rate). Sub-benchmarks compare the group commit with one worker,
// with the default two and with four, against one statement and one commit
// per check (MaxBatch 1, on 16 connections). Reported: time per check
// (the inverse of the throughput), the client's CPU per check, and the
// mean batch size.
func BenchmarkCardStateCheck(b *testing.B) {
	for _, bc := range []struct {
		name              string
		workers, maxBatch int
	}{
		{"group/workers=1", 1, 0},
		{"group/workers=2", 2, 0},
		{"group/workers=4", 4, 0},
		{"single/conns=16", 16, 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			benchCardState(b, bc.workers, bc.maxBatch, checkOnly)
		})
	}
}

// BenchmarkCardStateAudited is an inquiry's two writes on the primary:
// its card state check and its audit record, one after the other (two
// round trips, two commits: separate) or in one statement (journaled).
// server-cpu-ns/op is PostgreSQL's CPU per inquiry (from /proc).
func BenchmarkCardStateAudited(b *testing.B) {
	for _, mode := range []benchMode{checkThenAudit, journaled} {
		b.Run(mode.String(), func(b *testing.B) {
			benchCardState(b, 0, 0, mode)
		})
	}
}

// benchMode is what one operation of benchCardState does.
type benchMode int

const (
	checkOnly      benchMode = iota // Check
	checkThenAudit                  // Check, then the audit trail's Write
	journaled                       // CheckJournaled
)

func (m benchMode) String() string {
	return [...]string{"check", "separate", "journaled"}[m]
}

func benchCardState(b *testing.B, workers, maxBatch int, mode benchMode) {
	ctx := ctxT(b)
	url := testledger.Database(b)
	reg := prometheus.NewRegistry()
	var w *audit.Writer
	if mode != checkOnly {
		w = openJournal(b, url)
	}
	o := postgres.CardStateOptions{Workers: workers, MaxBatch: maxBatch, Registerer: reg}
	if mode == journaled {
		o.Journal = w
	}
	s, err := postgres.OpenCardState(ctx, url, o)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const cards = 20_000
	hashes := make([]string, cards)
	for i := range hashes {
		hashes[i] = storetest.Hasher().Hash(fmt.Sprintf("40000000%08d", i))
	}
	var next atomic.Int64
	check := func() error {
		n := next.Add(1)
		stan := strconv.FormatInt(n, 10)
		c := ledger.CardCheck{
			Key:  "700|ATM00001|" + stan + "|1102093000",
			Card: true, PANHash: hashes[n%cards], ATC: uint16(n/cards + 1), Now: time.Now(),
		}
		rec := audit.Record{Time: c.Now, Institution: "700", Terminal: "ATM00001", STAN: stan, RRN: "633712" + stan,
			Service: "pension", PANHash: c.PANHash, Latency: time.Millisecond}
		switch mode {
		case journaled:
			_, ok, err := s.CheckJournaled(ctx, c, &ledger.Journal{Record: rec, Codes: [...]string{"00", "94", "63", "65"}})
			if err == nil && !ok {
				err = errors.New("not journaled")
			}
			return err
		case checkThenAudit:
			if _, err := s.Check(ctx, c); err != nil {
				return err
			}
			rec.ResponseCode = "00"
			return w.Write(ctx, rec)
		}
		_, err := s.Check(ctx, c)
		return err
	}
	// Every card known before timing (a card's first check also inserts its row).
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for next.Load() < cards {
				if err := check(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if _, err := s.Prune(ctx); err != nil {
		b.Fatal(err)
	}
	pgtest.Exec(b, url, "VACUUM ANALYZE")
	batches0 := metrictest.Value(b, reg, "atmgw_card_state_batches_total")
	n0 := next.Load()
	b.SetParallelism(32) // 64 goroutines on 2 cores
	b.ReportAllocs()
	runParallel(b, check)
	if batches := metrictest.Value(b, reg, "atmgw_card_state_batches_total") - batches0; batches > 0 {
		b.ReportMetric(float64(next.Load()-n0)/batches, "checks/batch")
	}
}

// postgresCPU is the CPU time so far of the processes named postgres on
// this machine (the test server's: its backends live as long as the
// benchmark's pools), in ns, from /proc.
func postgresCPU() int64 {
	dirs, _ := os.ReadDir("/proc")
	var ticks int64
	for _, d := range dirs {
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		st := string(b)
		open, end := strings.IndexByte(st, '('), strings.LastIndexByte(st, ')')
		if open < 0 || end < open || st[open+1:end] != "postgres" {
			continue
		}
		f := strings.Fields(st[end+1:]) // from field 3 (state)
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64) // utime, field 14
		k, _ := strconv.ParseInt(f[12], 10, 64) // stime, field 15
		ticks += u + k
	}
	return ticks * int64(time.Second) / 100 // USER_HZ
}
