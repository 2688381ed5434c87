package demo

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/bli/atmgw/card"
)

//go:embed as_of.txt *.csv
var files embed.FS

// Files are the load files of the embedded demo ledger (see README.md for
// its cards), for `atmgw load` in a demo and for tests.
func Files() fs.FS { return files }

// Open returns the embedded demo ledger, with consents hashed under h (the
// key the gateway hashes DE2 with). The demo files have no bad row.
func Open(h *card.PANHasher) (*Memory, error) {
	m, rep, err := LoadMemory(context.Background(), Files(), h)
	if err != nil {
		return nil, fmt.Errorf("demo ledger: %w", err)
	}
	if len(rep.Errors) > 0 {
		return nil, fmt.Errorf("demo ledger: %w", rep.Errors[0])
	}
	return m, nil
}
