package gateway_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/internal/gatewaytest"
	"github.com/bli/atmgw/internal/leaktest"
	"github.com/bli/atmgw/internal/testclient"
	"github.com/bli/atmgw/internal/testledger"
	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/ledger/pgtest"
)

// TestDatabaseStoppedMidRun stops a real PostgreSQL under a running
// gateway: while it is down every inquiry is answered 91 (quickly: the
// breaker opens), no connection is lost, and once it is back inquiries are
// approved again without any restart. When the gateway stops, no goroutine
// is left behind.
func TestDatabaseStoppedMidRun(t *testing.T) {
	pg := pgtest.StartServer(t)
	testledger.Load(t, pg.URL())

	// Everything started from here on must be gone at the end.
	leaktest.Check(t)
	t.Run("run", func(t *testing.T) {
		gw := gatewaytest.Start(t, gatewaytest.WithDatabase(pg.URL()), gatewaytest.WithoutRateLimit())
		c, err := testclient.Dial(gw.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		stan := 0
		send := func() *iso.Message {
			stan++
			m := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: fmt.Sprintf("%06d", stan), Institution: "700", NetworkCode: "001"}
			if stan > 1 {
				icc := card.BuildICC(card.ICC{CID: 0x80, ATC: uint16(stan)})
				m = &iso.Message{MTI: "0200", PAN: testledger.PanOK, ProcessingCode: "390000", TransmissionTime: "1124153010",
					STAN: fmt.Sprintf("%06d", stan), LocalTime: "153010", LocalDate: "1124", Expiry: "3012", EntryMode: "051",
					Institution: "700", RRN: fmt.Sprintf("26112400%04d", stan), TerminalID: "ATM70001", ICC: icc}
			}
			r, err := c.Do(m, nil, 10*time.Second)
			if err != nil {
				t.Fatalf("STAN %d: %v", stan, err)
			}
			return r
		}
		if r := send(); r.ResponseCode != "00" {
			t.Fatalf("sign-on: %s", r.ResponseCode)
		}
		for i := 0; i < 5; i++ {
			if r := send(); r.ResponseCode != "00" {
				t.Fatalf("before the stop: %s", r.ResponseCode)
			}
		}
		pg.Stop()
		var slowest time.Duration
		for i := 0; i < 30; i++ {
			start := time.Now()
			r := send()
			if d := time.Since(start); d > slowest {
				slowest = d
			}
			if r.ResponseCode != "91" {
				t.Fatalf("database down, inquiry %d: %s, want 91", i, r.ResponseCode)
			}
		}
		// Not a speed target (see the benchmarks), a sanity bound: a
		// gateway waiting on a dead database would take the client's
		// whole timeout, not this.
		if slowest > 5*time.Second {
			t.Errorf("a 91 took %v while the database was down", slowest)
		}
		pg.Start()
		deadline := time.Now().Add(60 * time.Second)
		for {
			r := send()
			if r.ResponseCode == "00" {
				break
			}
			if r.ResponseCode != "91" || time.Now().After(deadline) {
				t.Fatalf("after the database came back: %s", r.ResponseCode)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}
