// Package configs holds the example configuration of atmgw, built into the
// binary so that `atmgw serve` with no --config runs the six partners of
// partner interface v1 on the embedded demo ledger.
package configs

import _ "embed"

// Example is configs/atmgw.example.yaml.
//
//go:embed atmgw.example.yaml
var Example []byte
