package scenario

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bli/atmgw/internal/gatewaytest"
	"github.com/bli/atmgw/sim/cards"
)

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"name: x\n", "no steps"},
		{"steps:\n  - do: dance\n", `do "dance"`},
		{"steps:\n  - do: inquiry\n", "card"},
		{"steps:\n  - do: inquiry\n    card: '1234567890'\n    service: loans\n", "service"},
		{"steps:\n  - do: inquiry\n    card: '1234567890'\n    set: {99: x}\n", "not a field"},
		{"steps:\n  - do: raw\n    text: abc\n", "expect is required"},
		{"steps:\n  - do: raw\n    hex: zz\n    expect: none\n", "hex"},
		{"steps:\n  - do: echo\n    expect: '000'\n", "response code"},
		{"steps:\n  - do: echo\n    colour: red\n", "colour"},
		{"institution: abc\nsteps:\n  - do: echo\n", "institution"},
		{"mac_key: 0011\nsteps:\n  - do: echo\n", "mac_key"},
	} {
		_, err := Parse([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want it to mention %q", tc.in, err, tc.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	sc, err := Parse([]byte("institution: '812'\nsteps:\n  - do: inquiry\n    card: '4700123456789014'\n  - do: raw\n    text: x\n    expect: none\n"))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Terminal != "ATM81201" || sc.Steps[0].Expect != "00" || sc.Steps[0].Service != "pension" || sc.Steps[0].Repeat != 1 {
		t.Errorf("defaults not applied: %+v %+v", sc, sc.Steps[0])
	}
	b, _ := sc.Steps[1].rawBytes()
	if string(b) != "\x00\x01x" {
		t.Errorf("raw bytes %q", b)
	}
}

// TestFailuresAreReported runs wrong expectations: each step must fail.
func TestFailuresAreReported(t *testing.T) {
	sc, err := Parse([]byte(`
timeout: 300ms
steps:
  - {do: sign-on}
  - {do: inquiry, card: "4700123456789014", expect: "57", name: "approved, but 57 expected"}
  - {do: inquiry, card: "4700123456789014", rows: 2, name: "six rows, but two expected"}
  - {do: inquiry, card: "4700123456789014", screen_contains: "不存在的字", name: "the screen lacks a text"}
  - {do: echo, expect: none, name: "echo is answered, none expected"}
  - {do: inquiry, card: "9999999999999999", name: "card not in the file"}
  - {do: repeat, expect: "00", name: "a duplicate is 94, not 00"}
  - {do: expect-closed, name: "the gateway keeps the connection open"}
`))
	if err != nil {
		t.Fatal(err)
	}
	addr := gatewaytest.StartDemo(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out strings.Builder
	res, err := Run(ctx, sc, Options{Gateway: addr, Cards: cards.Demo(), Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if res.Passed != 1 || res.Failed != len(sc.Steps)-1 {
		t.Errorf("passed %d failed %d, want 1 and %d:\n%s", res.Passed, res.Failed, len(sc.Steps)-1, out.String())
	}
	if !strings.Contains(out.String(), "FAIL") || !strings.Contains(out.String(), "want 57") {
		t.Errorf("report:\n%s", out.String())
	}
	if res.ATCs["4700123456789014"] != 3 {
		t.Errorf("ATCs %v, want the card at 3", res.ATCs)
	}
}

func TestUnreachable(t *testing.T) {
	sc, _ := Parse([]byte("steps:\n  - do: echo\n"))
	_, err := Run(context.Background(), sc, Options{Gateway: "127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("err = %v", err)
	}
}
