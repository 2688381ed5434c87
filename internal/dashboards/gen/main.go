// Command gen writes the Grafana dashboard of atmgw (package dashboards) to
// a file: `go generate ./internal/dashboards` runs it as
//
//	go run ./gen -o ../../configs/grafana/atmgw.json
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bli/atmgw/internal/dashboards"
)

func main() {
	out := flag.String("o", "", "the `file` to write (default: standard output)")
	flag.Parse()
	b, err := dashboards.JSON()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if *out == "" {
		os.Stdout.Write(b)
		return
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
