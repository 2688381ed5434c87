// Package demo is the embedded demo ledger (the load files of this
// directory, built into the binary; see README.md for its cards) and
// Memory, the in-memory ledger.Store it and the tests run on.
package demo
