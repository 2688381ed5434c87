package app

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/bli/atmgw/configs"
	"github.com/bli/atmgw/internal/config"
)

func demoSettings(t *testing.T) *config.Settings {
	t.Helper()
	var c config.Config
	if err := config.Parse(configs.Example, &c); err != nil {
		t.Fatal(err)
	}
	c.Listen, c.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
	c.Audit.SpoolDir = t.TempDir()
	s, err := c.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The admin server is one of the service's goroutines: /readyz follows
// Start and Stop, an admin server that dies is logged at ERROR while the
// partners go on being served, and Stop waits for it.
func TestServiceAdminServer(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	svc, err := Listen(context.Background(), demoSettings(t), zap.New(core), ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	defer svc.Stop(ctx)
	readyz := func() int {
		hc := http.Client{Timeout: 200 * time.Millisecond}
		resp, err := hc.Get("http://" + svc.AdminAddr() + "/readyz")
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := readyz(); code != 0 {
		t.Errorf("/readyz answered %d before Start", code) // not served yet
	}
	svc.Start()
	if code := readyz(); code != http.StatusOK {
		t.Fatalf("/readyz after Start: %d", code)
	}

	svc.adminL.Close() // the admin listener dies under the server
	deadline := time.Now().Add(5 * time.Second)
	for logs.FilterMessageSnippet("admin endpoints stopped").Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the admin server stopped unnoticed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if e := logs.FilterMessageSnippet("admin endpoints stopped").All()[0]; e.Level != zapcore.ErrorLevel {
		t.Errorf("logged at %v, want ERROR", e.Level)
	}
	select {
	case err := <-svc.Err():
		t.Errorf("the partners' listener failed with the admin server: %v", err)
	default:
	}
	if err := svc.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if a := svc.Listeners()[0].Addr().String(); !strings.HasPrefix(a, "127.0.0.1:") {
		t.Errorf("the partners' listener: %q", a)
	}
}

// A partner listener that fails is reported on Err.
func TestServiceReportsListenerFailure(t *testing.T) {
	svc, err := Listen(context.Background(), demoSettings(t), zap.NewNop(), ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	defer svc.Stop(ctx)
	svc.Start()
	svc.listeners[0].Close()
	select {
	case err := <-svc.Err():
		if err == nil || !strings.Contains(err.Error(), "serving") {
			t.Errorf("Err: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("a dead listener went unreported")
	}
}
