package gateway_test

import (
	"context"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bli/atmgw/gateway"
	"github.com/bli/atmgw/iso"
)

// FuzzHandle drives arbitrary frames through the decoder and the handlers
// exactly as a session does (seeded with the reference messages): nothing
// panics, and every answer packs and keeps the echo rules.
func FuzzHandle(f *testing.F) {
	files, _ := filepath.Glob("../iso/testdata/*.hex")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		raw, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(raw) < 2 {
			f.Fatalf("%s: not hex", p)
		}
		f.Add(raw[2:])
	}
	if len(files) == 0 {
		f.Fatal("no seed messages in ../iso/testdata")
	}
	r := newRig(f)
	post := r.h.Partner("700")
	taishin := r.h.Partner("812")
	peer := gateway.Peer{Addr: netip.MustParseAddr("127.0.0.1")}
	f.Fuzz(func(t *testing.T, raw []byte) {
		msg, derr := iso.Decode(raw)
		if !iso.Recovered(msg) {
			return // decision 1: no answer
		}
		req := &gateway.Request{Msg: msg, Raw: raw, Err: derr}
		var resps []gateway.Response
		switch msg.MTI {
		case "0800":
			resp, _ := r.h.NetworkManagement(req, nil, peer, nil)
			resps = append(resps, resp)
		case "0200":
			for _, p := range []*gateway.Partner{nil, post, taishin} {
				resps = append(resps, r.h.Inquiry(context.Background(), req, p))
			}
		default:
			if resp, ok := r.h.WrongMTI(req, nil); ok {
				resps = append(resps, resp)
			}
		}
		for _, resp := range resps {
			if resp.Msg == nil {
				continue // withheld: no audit trail here, so never
			}
			if _, err := iso.Encode(resp.Msg); err != nil {
				t.Fatalf("answer (%s) does not pack: %v", resp.Decision, err)
			}
			if resp.MACKey != nil {
				if _, err := iso.EncodeMAC(resp.Msg, resp.MACKey); err != nil {
					t.Fatalf("answer cannot be signed: %v", err)
				}
			}
			if resp.Msg.STAN != "" && resp.Msg.STAN != msg.STAN {
				t.Fatalf("DE11 %q answered as %q", msg.STAN, resp.Msg.STAN)
			}
		}
	})
}
