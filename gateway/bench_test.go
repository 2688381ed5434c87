package gateway_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/bli/atmgw/audit"
	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/gateway"
	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/ledger"
)

// The benchmarks below measure the gateway's own work per inquiry (an
// approved pension 0200 of partner 812, MAC-signed, answered 0210 with
// DE54, DE61-63 and a MAC) without a database: the embedded demo ledger
// and the in-memory card state. Besides ns/op they report cpu-ns/op, the
// process CPU time (user+system, every goroutine) per inquiry.

// benchCardState is an in-memory card state that the benchmark renews
// when its requests come round again (one card's ATC only goes up to
// 65535). The requests of a connection are handled concurrently, so they
// reach the card state out of order: it replaces each ATC by the next of
// a counter, so that every request is approved (one card, in order).
type benchCardState struct {
	cur atomic.Pointer[ledger.MemoryCardState]
	mu  sync.Mutex
	atc uint16
}

func newBenchCardState() *benchCardState {
	s := &benchCardState{}
	s.renew()
	return s
}

func (s *benchCardState) renew() {
	s.cur.Store(ledger.NewMemoryCardState(ledger.CardStateOptions{RateLimit: -1}))
	s.mu.Lock()
	s.atc = 0
	s.mu.Unlock()
}

func (s *benchCardState) Check(ctx context.Context, c ledger.CardCheck) (ledger.CardVerdict, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.atc++
	c.ATC = s.atc
	return s.cur.Load().Check(ctx, c)
}

func (s *benchCardState) Close() {}

// spoolAuditor hands records to an audit.Writer, as internal/app does.
type spoolAuditor struct{ w *audit.Writer }

func (a spoolAuditor) Audit(ctx context.Context, r audit.Record) error {
	return a.w.Write(ctx, r)
}

// openSpoolAuditor opens an audit writer on the spool only (no database),
// in memory when /dev/shm is there: the fsync is not what is measured.
func openSpoolAuditor(b *testing.B) gateway.Auditor {
	dir := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "atmgw-bench-")
		if err == nil {
			dir = d
			b.Cleanup(func() { os.RemoveAll(d) })
		}
	}
	if dir == "" {
		dir = b.TempDir()
	}
	w, err := audit.Open(context.Background(), audit.Options{SpoolDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Close(context.Background()) })
	return spoolAuditor{w}
}

// benchOptions are the options of the example configuration on the demo
// ledger, with metrics and an info-level JSON logger to io.Discard (as in
// production: debug off).
func benchOptions(b *testing.B, cs ledger.CardState) gateway.Options {
	opts, _ := exampleOptions(b)
	opts.CardState = cs
	opts.Logger = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.AddSync(io.Discard), zap.InfoLevel))
	opts.Metrics = gateway.NewMetrics(prometheus.NewRegistry())
	return opts
}

// benchCycle is how many different requests the benchmarks send: the
// card state is renewed each time they come round again (one card's ATC
// only goes up to 65535).
const benchCycle = 50000

var benchFramesOnce = sync.OnceValue(func() [][]byte { return buildBenchFrames(benchCycle) })

// benchFrames returns benchCycle signed 0200s of partner 812 (unframed),
// each with its own STAN and a higher ATC than the one before.
func benchFrames(b *testing.B) [][]byte {
	f := benchFramesOnce()
	if f == nil {
		b.Fatal("cannot build the requests")
	}
	return f
}

func buildBenchFrames(n int) [][]byte {
	key, _ := hex.DecodeString(macKey812)
	out := make([][]byte, n)
	for i := range out {
		s := i + 1
		stan := stanOf(s)
		m := &iso.Message{
			MTI: "0200", PAN: panPost, ProcessingCode: iso.ProcPension, TransmissionTime: "1124153010",
			STAN: stan, LocalTime: "153010", LocalDate: "1124", Expiry: "3012",
			EntryMode: "051", CardSequence: "001", Institution: "812",
			RRN: "261124" + stan, TerminalID: "ATM81201", CardAcceptor: "BLIQUERY0000001",
			ICC: card.BuildICC(card.ICC{
				Cryptogram: [8]byte{0x1A, 0x2B, 0x3C, 0x4D, 0x5E, 0x6F, 0x70, 0x81}, CID: 0x80,
				ATC: uint16(s), Unpredictable: [4]byte{0xDE, 0xAD, 0xBE, 0xEF},
				PANSequence: 1, HasPANSequence: true,
			}),
			MAC: make([]byte, 8),
		}
		raw, err := iso.Encode(m)
		if err != nil {
			return nil
		}
		if err := iso.SignMAC(raw, key); err != nil {
			return nil
		}
		out[i] = raw
	}
	return out
}

// cpuTime is the process's CPU time so far (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHandlerInquiry is one inquiry through the Handler as a session
// takes it: decode, decisions, the ledger answer, layout, then the edge's
// encode and MAC.
func BenchmarkHandlerInquiry(b *testing.B) {
	for _, c := range []struct {
		name  string
		audit bool
	}{{"audit=off", false}, {"audit=spool", true}} {
		b.Run(c.name, func(b *testing.B) {
			cs := newBenchCardState()
			opts := benchOptions(b, cs)
			if c.audit {
				opts.Auditor = openSpoolAuditor(b)
			}
			h, err := gateway.NewHandler(&opts)
			if err != nil {
				b.Fatal(err)
			}
			p := h.Partner("812")
			frames := benchFrames(b)
			ctx := context.Background()
			// Check once that the answer is the approved one.
			{
				msg, derr := iso.Decode(frames[0])
				resp := h.Inquiry(ctx, &gateway.Request{Msg: msg, Raw: frames[0], Err: derr, Start: time.Now()}, p)
				if resp.Msg == nil || resp.Msg.ResponseCode != "00" {
					b.Fatalf("not approved: %+v", resp)
				}
			}
			i := 1
			cpu0 := cpuTime()
			b.ReportAllocs()
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				if i == len(frames) {
					cs.renew()
					i = 0
				}
				raw := frames[i]
				i++
				msg, derr := iso.Decode(raw)
				resp := h.Inquiry(ctx, &gateway.Request{Msg: msg, Raw: raw, Err: derr, Start: time.Now()}, p)
				if resp.Msg == nil {
					b.Fatal("no answer")
				}
				if _, err := iso.EncodeMAC(resp.Msg, resp.MACKey); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkServerInquiry is inquiries through a real Server over loopback
// TCP: one connection, signed on as 812, the client pipelining up to 64
// requests (the server's MaxInFlight). The client's own work is in the
// figures too (it only writes prepared frames and reads answers).
func BenchmarkServerInquiry(b *testing.B) {
	for _, c := range []struct {
		name  string
		audit bool
	}{{"audit=off", false}, {"audit=spool", true}} {
		b.Run(c.name, func(b *testing.B) {
			cs := newBenchCardState()
			opts := benchOptions(b, cs)
			if c.audit {
				opts.Auditor = openSpoolAuditor(b)
			}
			srv, err := gateway.NewServer(opts)
			if err != nil {
				b.Fatal(err)
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(l) }()
			defer func() { srv.Close(); <-errc }()
			conn, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			br := bufio.NewReaderSize(conn, 64<<10)
			bw := bufio.NewWriterSize(conn, 64<<10)
			roundTrip := func(raw []byte) *iso.Message {
				if err := iso.WriteFrame(bw, raw); err != nil {
					b.Fatal(err)
				}
				if err := bw.Flush(); err != nil {
					b.Fatal(err)
				}
				f, err := iso.ReadFrame(br, nil)
				if err != nil {
					b.Fatal(err)
				}
				m, err := iso.Decode(f)
				if err != nil {
					b.Fatal(err)
				}
				return m
			}
			on, _ := iso.Encode(&iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: "999999", Institution: "812", NetworkCode: "001"})
			if m := roundTrip(on); m.ResponseCode != "00" {
				b.Fatalf("sign-on: %+v", m)
			}
			frames := benchFrames(b)
			if m := roundTrip(frames[0]); m.ResponseCode != "00" {
				b.Fatalf("not approved: %+v", m)
			}

			const window = 64
			slots := make(chan struct{}, window)
			var rerr error
			var wg sync.WaitGroup
			wg.Add(1)
			cpu0 := cpuTime()
			b.ReportAllocs()
			b.ResetTimer()
			go func() { // the reader
				defer wg.Done()
				buf := make([]byte, iso.MaxFrameLength)
				for n := 0; n < b.N; n++ {
					if _, err := iso.ReadFrame(br, buf); err != nil {
						rerr = err
						return
					}
					<-slots
				}
			}()
			i := 1
			for n := 0; n < b.N; n++ {
				if i == len(frames) {
					// Wait for what is in flight, then forget the card
					// state: the requests come round again.
					bw.Flush()
					for len(slots) > 0 {
						time.Sleep(50 * time.Microsecond)
					}
					cs.renew()
					i = 0
				}
				select {
				case slots <- struct{}{}:
				default:
					bw.Flush()
					slots <- struct{}{}
				}
				if err := iso.WriteFrame(bw, frames[i]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			bw.Flush()
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
			if rerr != nil {
				b.Fatal(rerr)
			}
		})
	}
}
