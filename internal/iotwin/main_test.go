package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bli/atmgw/internal/leaktest"
	"github.com/bli/atmgw/internal/testclient"
	"github.com/bli/atmgw/internal/testledger"
	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/ledger/pgtest"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

const macKey812 = "0123456789ABCDEFFEDCBA9876543210"

func TestBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--database-url", "postgres://x", "--mac-key", "812=00"},
		{"--database-url", "postgres://x", "--rows", "0"},
		{"--database-url", "postgres://x", "extra"},
		{"--database-url", "postgres://x", "--writes", "some"},
		{"--database-url", "postgres://x", "--reads", "some"},
		{"--database-url", "postgres://x", "--reads", "atmgw"},
		{"--database-url", "postgres://x", "--pan-key", "zz"},
		{"--database-url", "postgres://x", "--pan-key", "0011"},
	} {
		var stderr bytes.Buffer
		if err := run(context.Background(), args, &stderr); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

// TestAnswersLikeTheGateway signs on as 812 (MAC key), sends the reference
// 0200 and checks the twin's 0210: approved, signed, with the gateway's
// sizes, and what it wrote on the primary: its key, its card's counter and
// its record, on the twin's tables (plain) or on atmgw's (atmgw).
func TestAnswersLikeTheGateway(t *testing.T) {
	t.Run("plain", func(t *testing.T) {
		testAnswers(t, pgtest.NewDatabase(t), "plain",
			`SELECT (SELECT count(*) FROM iotwin_log WHERE stan = $1 AND terminal = $2) + (SELECT count(*) FROM iotwin_keys) + (SELECT count(*) FROM iotwin_counters)`, "")
	})
	const atmgwWritten = `SELECT (SELECT count(*) FROM audit_log WHERE stan = $1 AND terminal = $2 AND response_code = '00') + (SELECT count(*) FROM card_duplicate_keys) + (SELECT count(*) FROM card_counters WHERE atc > 0)`
	t.Run("atmgw", func(t *testing.T) {
		testAnswers(t, testledger.Database(t), "atmgw", atmgwWritten, "")
	})
	// The gateway's own reads too: the consent of the 0200's card (812's,
	// keyed) found in the loaded ledger under its PAN key (an unknown card
	// would be a 91).
	t.Run("atmgw reads", func(t *testing.T) {
		url := pgtest.NewDatabase(t)
		testledger.Load(t, url)
		testAnswers(t, url, "atmgw", atmgwWritten, testledger.PanMAC, "--reads", "atmgw", "--pan-key", hex.EncodeToString(testledger.DemoKey()))
	})
}

// testAnswers runs the twin with --writes writes (and args) on url, and
// sends it the reference 0200 (for the card pan, when not empty); written
// counts the rows the inquiry wrote (its STAN and terminal as $1 and $2):
// 3.
func testAnswers(t *testing.T, url, writes, written, pan string, args ...string) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"--listen", "127.0.0.1:0", "--database-url", url, "--rows", "100", "--mac-key", "812=" + macKey812, "--writes", writes}, args...), pw)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no serving line: %v (%v)", err, <-done)
	}
	go io.Copy(io.Discard, pr)
	addr := strings.TrimSpace(strings.TrimPrefix(line, "iotwin serving on "))
	c, err := testclient.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Send(&iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: "000001", Institution: "812", NetworkCode: "001"}, nil); err != nil {
		t.Fatal(err)
	}
	if m, err := c.Await("000001", 5*time.Second); err != nil || m.MTI != "0810" || m.ResponseCode != "00" {
		t.Fatalf("sign-on: %+v, %v", m, err)
	}
	h, err := os.ReadFile("../../iso/testdata/0200-pension-mac.hex")
	if err != nil {
		t.Fatal(err)
	}
	frame, _ := hex.DecodeString(strings.TrimSpace(string(h)))
	raw := frame[2:]
	req, err := iso.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := hex.DecodeString(macKey812)
	if pan != "" { // the same 0200 for another card, signed again
		req.PAN, req.MAC = pan, nil
		if raw, err = iso.AppendEncodeMAC(nil, req, key); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.SendRaw(raw); err != nil {
		t.Fatal(err)
	}
	m, err := c.Await(req.STAN, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if m.MTI != "0210" || m.ResponseCode != "00" || len(m.Screen) != screenLen || len(m.Statement) != statementLen || len(m.Receipt) != receiptLen {
		t.Fatalf("0210: %s rc %s, screen %d, statement %d, receipt %d bytes", m.MTI, m.ResponseCode, len(m.Screen), len(m.Statement), len(m.Receipt))
	}
	// The answer packed again as it came (its DE64 included) must verify.
	wire, err := iso.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := iso.VerifyMAC(wire, key); err != nil {
		t.Errorf("the 0210's MAC: %v", err)
	}
	var n int
	db := pgtest.Connect(t, url)
	if err := db.QueryRow(ctx, written, req.STAN, req.TerminalID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("rows committed for the inquiry (record, key, counter): %d, want 3", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}
