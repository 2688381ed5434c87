package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/internal/config"
	"github.com/bli/atmgw/internal/gatewaytest"
	"github.com/bli/atmgw/internal/metrictest"
	"github.com/bli/atmgw/internal/testclient"
	"github.com/bli/atmgw/internal/testledger"
	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/ledger/pgtest"
)

// With the primary down, decision 7 cannot be shared: by default the
// gateway answers 91 to a request and to its exact duplicate alike (fail
// closed); with card_state.when_primary_down: memory it decides from its
// own memory meanwhile, so the duplicate is caught (94) and the fallback
// counted.
func TestPrimaryDownCardState(t *testing.T) {
	for _, c := range []struct {
		mode    string
		dupe    string
		counted float64
	}{
		{config.PrimaryDownFail, "91", 0},
		{config.PrimaryDownMemory, "94", 2},
	} {
		t.Run(c.mode, func(t *testing.T) {
			pg := pgtest.StartServer(t)
			testledger.Load(t, pg.URL())
			gw := gatewaytest.Start(t, gatewaytest.WithDatabase(pg.URL()), gatewaytest.WithConfig(func(cfg *config.Config) {
				cfg.CardState.WhenPrimaryDown = c.mode
				cfg.Audit.Mode = config.AuditSpool
			}))
			cl, err := testclient.Dial(gw.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			on := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: "000001", Institution: "700", NetworkCode: "001"}
			if r, err := cl.Do(on, nil, 10*time.Second); err != nil || r.ResponseCode != "00" {
				t.Fatalf("sign-on: %v %+v", err, r)
			}
			req := func(stan int) *iso.Message {
				s := fmt.Sprintf("%06d", stan)
				return &iso.Message{MTI: "0200", PAN: testledger.PanOK, ProcessingCode: "390000", TransmissionTime: "1124153010",
					STAN: s, LocalTime: "153010", LocalDate: "1124", Expiry: "3012", EntryMode: "051",
					Institution: "700", RRN: "26112400" + s[2:], TerminalID: "ATM70001",
					ICC: card.BuildICC(card.ICC{CID: 0x80, ATC: uint16(stan)})}
			}
			if r, err := cl.Do(req(2), nil, 10*time.Second); err != nil || r.ResponseCode != "00" {
				t.Fatalf("primary up: %v %+v", err, r)
			}
			pg.Stop()
			if r, err := cl.Do(req(3), nil, 10*time.Second); err != nil || r.ResponseCode != "91" {
				t.Fatalf("primary down (the ledger too): %v %+v, want 91", err, r)
			}
			if r, err := cl.Do(req(3), nil, 10*time.Second); err != nil || r.ResponseCode != c.dupe {
				t.Fatalf("its duplicate with the primary down: %v %+v, want %s", err, r, c.dupe)
			}
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := gw.App.Ready(rctx); err == nil {
				t.Error("/readyz would say ready with the primary down")
			}
			if c.counted == 0 {
				return // no fallback: no such metric
			}
			if n := metrictest.Sum(t, gw.App.Registry, "atmgw_card_state_fallbacks_total"); n != c.counted {
				t.Errorf("atmgw_card_state_fallbacks_total %v, want %v", n, c.counted)
			}
		})
	}
}

// Without partners (a library user's Reload: the configuration refuses it)
// the gateway is not ready, and the connections bound to the partners that
// went are closed.
func TestNotReadyWithoutPartners(t *testing.T) {
	gw := gatewaytest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := gw.App.Ready(ctx); err != nil {
		t.Fatalf("ready: %v", err)
	}
	c, err := testclient.Dial(gw.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	on := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: "000001", Institution: "700", NetworkCode: "001"}
	if r, err := c.Do(on, nil, 5*time.Second); err != nil || r.ResponseCode != "00" {
		t.Fatalf("sign-on: %v %+v", err, r)
	}
	if n, err := gw.App.Server.Reload(nil, gw.Settings.Gateway.Profiles); err != nil || n != 1 {
		t.Fatalf("reload to no partners: %d closed, %v", n, err)
	}
	if err := gw.App.Ready(ctx); err == nil || !strings.Contains(err.Error(), "no partner") {
		t.Fatalf("ready with no partners: %v", err)
	}
	if !c.Closed(5 * time.Second) {
		t.Fatal("a connection of a partner that went was kept")
	}
}
