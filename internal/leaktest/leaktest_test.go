package leaktest_test

import (
	"testing"

	"github.com/bli/atmgw/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

// A goroutine that a later cleanup stops is not a leak: Check looks after
// the test's cleanups.
func TestCheckRunsAfterLaterCleanups(t *testing.T) {
	leaktest.Check(t)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-stop
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
}

// A goroutine still running when the test ends fails it.
func TestCheckSeesALeak(t *testing.T) {
	stop := make(chan struct{})
	done := make(chan struct{})
	defer func() {
		close(stop)
		<-done
	}()
	ft := &fakeT{TB: t}
	func() {
		defer ft.runCleanups()
		leaktest.Check(ft)
		go func() {
			defer close(done)
			<-stop
		}()
	}()
	if !ft.failed {
		t.Errorf("a goroutine left running was not reported")
	}
}

// fakeT records Check's verdict instead of failing the test running it.
type fakeT struct {
	testing.TB
	cleanups []func()
	failed   bool
}

func (f *fakeT) Helper()                   {}
func (f *fakeT) Cleanup(fn func())         { f.cleanups = append(f.cleanups, fn) }
func (f *fakeT) Error(args ...any)         { f.failed = true }
func (f *fakeT) Errorf(s string, a ...any) { f.failed = true }

func (f *fakeT) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}
