package ledger

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/bli/atmgw/card"
)

//go:embed demo/as_of.txt demo/*.csv
var demoFiles embed.FS

// DemoFiles are the load files of the embedded demo ledger (see
// ledger/demo/README.md for its cards), for `atmgw load` in a demo and for tests.
func DemoFiles() fs.FS {
	sub, err := fs.Sub(demoFiles, "demo")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return sub
}

// Demo is the embedded demo ledger, with consents hashed under h (the key
// the gateway hashes DE2 with). The demo files have no bad row.
func Demo(h *card.PANHasher) (*Memory, error) {
	m, rep, err := LoadMemory(context.Background(), DemoFiles(), h)
	if err != nil {
		return nil, fmt.Errorf("demo ledger: %w", err)
	}
	if len(rep.Errors) > 0 {
		return nil, fmt.Errorf("demo ledger: %w", rep.Errors[0])
	}
	return m, nil
}
