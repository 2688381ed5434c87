package demo_test

import (
	"context"
	"io/fs"
	"testing"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/internal/leaktest"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/demo"
	"github.com/bli/atmgw/ledger/storetest"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, files fs.FS, h *card.PANHasher) ledger.Store {
		m, rep, err := demo.LoadMemory(context.Background(), files, h)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Errors) > 0 {
			t.Fatalf("refused rows: %v", rep.Errors)
		}
		return m
	})
}
