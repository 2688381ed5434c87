package progress

import (
	"testing"
	"time"

	"github.com/bli/atmgw/internal/testsync"
)

func TestLineDrawsFinalStatus(t *testing.T) {
	var buf testsync.Buffer
	n := 0
	l := Start(&buf, time.Hour, func() string { n++; return "done 7/7" })
	l.Stop()
	l.Stop() // twice is fine
	if got := buf.String(); got != "\rdone 7/7\n" {
		t.Errorf("drew %q", got)
	}
	if n != 1 {
		t.Errorf("status called %d times", n)
	}
}

func TestNilWriter(t *testing.T) {
	l := Start(nil, time.Millisecond, func() string { t.Error("status called without a writer"); return "" })
	l.Stop()
}

func TestBar(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want string
	}{{0, "[....]"}, {0.5, "[##..]"}, {1, "[####]"}, {2, "[####]"}, {-1, "[....]"}} {
		if got := Bar(4, tc.f); got != tc.want {
			t.Errorf("Bar(4, %v) = %q, want %q", tc.f, got, tc.want)
		}
	}
	if got := Rate(12345); got != "12.3k/s" {
		t.Errorf("Rate = %q", got)
	}
}
