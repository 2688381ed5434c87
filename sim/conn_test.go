package sim

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bli/atmgw/internal/gatewaytest"
	"github.com/bli/atmgw/sim/cards"
)

func TestInquiryAgainstGateway(t *testing.T) {
	addr := gatewaytest.StartDemo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	profiles, _ := ParseProfiles(DefaultProfiles)
	for _, tc := range []struct {
		inst, pan string
		svc       Service
		want      string
		rows      int
	}{
		{"700", "4700123456789014", Pension, "00", -1},
		{"700", "4700123456789014", Insurance, "00", -1},
		{"808", "6808000000000014", Pension, "00", 0},
		{"012", "6012000000000013", Pension, "57", -1},
		{"812", "4700123456789014", Pension, "00", -1},
	} {
		var key []byte
		if tc.inst == "812" {
			key = []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10}
		}
		c, err := Dial(ctx, addr, ConnOptions{Institution: tc.inst, MACKey: key})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SignOn(ctx); err != nil {
			t.Fatal(err)
		}
		cd := cards.Demo().Find(tc.pan)
		cd.ATC = 10 + uint16(len(tc.svc)) // distinct per service on the shared card
		if tc.inst == "812" {
			cd.ATC = 30
		}
		ch, err := VirtualChip(cd)
		if err != nil {
			t.Fatal(err)
		}
		u, err := ch.Generate()
		if err != nil {
			t.Fatal(err)
		}
		term := Terminal{Institution: tc.inst, ID: "ATM" + tc.inst + string(tc.svc[:2]), Acceptor: DefaultAcceptor}
		req := Inquiry(term, tc.svc, u, c.NextSTAN(), time.Now())
		r, err := c.Do(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		pair, ok := profiles.Lookup(tc.inst, term.ID)
		o := Examine(req, r, pair, ok)
		var out strings.Builder
		o.Write(&out)
		if testing.Verbose() {
			t.Logf("%s %s %s:\n%s", tc.inst, tc.pan, tc.svc, out.String())
		}
		if o.Code() != tc.want {
			t.Errorf("%s %s: code %s, want %s", tc.inst, tc.svc, o.Code(), tc.want)
		}
		if len(o.Problems) > 0 {
			t.Errorf("%s %s: problems %v", tc.inst, tc.svc, o.Problems)
		}
		if tc.rows >= 0 && (o.Statement == nil || len(o.Statement.Rows) != tc.rows) {
			t.Errorf("%s %s: statement %+v, want %d rows", tc.inst, tc.svc, o.Statement, tc.rows)
		}
		c.Close()
	}
}
