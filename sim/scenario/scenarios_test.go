package scenario

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bli/atmgw/internal/gatewaytest"
	"github.com/bli/atmgw/sim/cards"
)

// TestShippedScenarios runs every scenario of sim/scenarios against a real
// gateway on the embedded demo ledger, each on a fresh gateway (the rate
// limit and the ATC tracker start clean) with fresh demo cards.
func TestShippedScenarios(t *testing.T) {
	files, err := filepath.Glob("../scenarios/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios found: %v", err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".yaml"), func(t *testing.T) {
			sc, err := Load(path)
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
			if !res.OK() || testing.Verbose() {
				t.Logf("%s:\n%s", path, out.String())
			}
			if !res.OK() {
				t.Errorf("%d of %d steps failed", res.Failed, len(res.Steps))
			}
			if len(res.Steps) < len(sc.Steps) {
				t.Errorf("%d results for %d steps", len(res.Steps), len(sc.Steps))
			}
		})
	}
	_ = os.Getenv
}
