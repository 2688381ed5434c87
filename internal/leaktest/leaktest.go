// Package leaktest checks that tests leave no goroutine behind (goleak),
// wired one way for every package: Main for a whole package's tests, Check
// for one test.
package leaktest

import (
	"testing"

	"go.uber.org/goleak"
)

// Main runs the package's tests (from TestMain) and fails the run when
// goroutines are left once they have all ended.
func Main(m *testing.M) { goleak.VerifyTestMain(m) }

// Check fails t when, once it has ended and its cleanups registered after
// Check have run (a gateway's, a client's), goroutines are left that were
// not there when Check was called.
func Check(t testing.TB) {
	t.Helper()
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
}
