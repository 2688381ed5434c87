//go:build pcsc

package pcsc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bli/atmgw/internal/testsync"
	"github.com/bli/atmgw/sim/applet"
	"github.com/bli/atmgw/sim/vpcd"
)

// The end-to-end test runs pcscd with vsmartcard's vpcd driver as a child
// process, puts the Go virtual card (sim/vpcd) in its reader, and reaches it
// through libpcsclite and ebfe/scard, the stack a physical reader uses.
//
// pcscd always serves /run/pcscd/pcscd.comm. So that a pcscd already running
// on the machine is neither disturbed nor used, the test's pcscd runs in a
// private mount namespace (unshare, as root) where a temporary directory is
// mounted on /run/pcscd; this process finds that socket through
// PCSCLITE_CSOCK_NAME. Its vpcd listens on free ports, not 35963/35964.
//
// It needs root, pcscd and vsmartcard-vpcd (installed with apt-get when
// missing; libpcsclite-dev must already be there for this file to compile:
// scripts/test-pcsc installs all three). Without them it is skipped, saying
// why; with CI=true it fails instead.

const testReader = "ATMGW Test PCD"

func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("PC/SC test environment: "+format, args...)
	}
	t.Skipf("PC/SC test environment: "+format, args...)
}

func TestRealPCSCWithVirtualCard(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	env := setupPCSC(ctx, t)
	port, reader0 := env.port, env.reader0

	t.Run("no such reader", func(t *testing.T) {
		_, _, err := Open(ctx, "no reader has this name")
		if !errors.Is(err, ErrNoReader) || !strings.Contains(err.Error(), reader0) {
			t.Fatalf("Open = %v, want ErrNoReader listing %q", err, reader0)
		}
	})
	t.Run("no card yet", func(t *testing.T) {
		wctx, wcancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		defer wcancel()
		_, _, err := Open(wctx, reader0)
		if !errors.Is(err, ErrNoCard) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Open = %v, want ErrNoCard after the deadline", err)
		}
	})

	key := []byte("0123456789abcdef")
	card := &applet.Card{PAN: "6214850012345678901", Expiry: "2811", Sequence: 2, Key: key, ATC: 100}
	serveCtx, stopServe := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- serveCard(serveCtx, port, card) }()
	stopCard := func() error {
		stopServe()
		return <-served
	}
	var stopOnce sync.Once
	t.Cleanup(func() { stopOnce.Do(func() { _ = stopCard() }) })

	// Any reader whose name holds the words, in any case: the one with the card is taken.
	tr, closeFn, err := Open(ctx, strings.ToLower(testReader))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer closeFn()
	term := applet.Terminal{T: tr}

	info, err := term.ReadCard()
	if err != nil {
		t.Fatalf("ReadCard: %v", err)
	}
	if want := (applet.Info{PAN: card.PAN, Expiry: "2811", Sequence: 2}); info != want {
		t.Fatalf("ReadCard = %+v, want %+v", info, want)
	}
	for i, un := range [][4]byte{{1, 2, 3, 4}, {0xCA, 0xFE, 0xBA, 0xBE}, {1, 2, 3, 4}} {
		ac, err := term.GenerateAC(un)
		if err != nil {
			t.Fatalf("GenerateAC %d: %v", i, err)
		}
		wantATC := uint16(101 + i)
		want, err := applet.Cryptogram(key, wantATC, un, card.PAN)
		if err != nil {
			t.Fatal(err)
		}
		if ac.ATC != wantATC || ac.CID != 0x80 || ac.Cryptogram != want {
			t.Fatalf("GenerateAC %d = %+v, want ATC %d, CID 80, cryptogram %X", i, ac, wantATC, want)
		}
	}
	// A raw command the applet does not know comes back with its status word.
	if resp, err := tr.Transmit([]byte{0x00, 0x84, 0x00, 0x00, 0x08}); err != nil || !bytes.Equal(resp, []byte{0x6D, 0x00}) {
		t.Fatalf("GET CHALLENGE = %X, %v, want 6D00", resp, err)
	}

	if err := closeFn(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := closeFn(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := tr.Transmit([]byte{0x00, 0xA4, 0x04, 0x00}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Transmit after close = %v, want ErrClosed", err)
	}
	var serveErr error
	stopOnce.Do(func() { serveErr = stopCard() })
	if serveErr != nil {
		t.Fatalf("vpcd.Serve: %v", serveErr)
	}
	if card.ATC != 103 {
		t.Fatalf("card ATC %d after three GENERATE AC from 100", card.ATC)
	}
}

// pcscEnv is a running pcscd with the test's vpcd reader, its slot 0 waiting
// for a card on port.
type pcscEnv struct {
	port    int
	reader0 string
}

// setupPCSC installs what is missing, configures and starts pcscd, and
// checks on the way that Open reports a missing pcscd as ErrNoService.
func setupPCSC(ctx context.Context, t testing.TB) pcscEnv {
	t.Helper()
	ensurePackages(ctx, t, "pcscd", "vsmartcard-vpcd")
	driver := vpcdDriver(t)
	port := freePortPair(t)
	confDir := filepath.Join(t.TempDir(), "reader.conf.d")
	// libpcsclite reads PCSCLITE_CSOCK_NAME once per process, so the socket
	// directory has one name for the whole test binary.
	runDir := filepath.Join(os.TempDir(), fmt.Sprintf("atmgw-pcscd-%d", os.Getpid()))
	for _, d := range []string{confDir, runDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.RemoveAll(runDir) })
	conf := fmt.Sprintf("FRIENDLYNAME \"%s\"\nDEVICENAME   /dev/null:%d\nLIBPATH      %s\nCHANNELID    %d\n",
		testReader, port, driver, port)
	if err := os.WriteFile(filepath.Join(confDir, "vpcd"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}

	cmd, sock := pcscdCommand(ctx, t, confDir, runDir)
	t.Setenv("PCSCLITE_CSOCK_NAME", sock)

	// Before pcscd runs: the error says the service is not there.
	if _, _, err := Open(ctx, testReader); !errors.Is(err, ErrNoService) {
		t.Fatalf("Open without pcscd = %v, want ErrNoService", err)
	}

	proc := startPCSCD(t, cmd)
	return pcscEnv{port: port, reader0: waitForReader(ctx, t, proc)}
}

// BenchmarkGenerateACOverPCSC is one GENERATE AC (with its SELECT) through
// libpcsclite, pcscd, vpcd and the Go virtual card.
func BenchmarkGenerateACOverPCSC(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	env := setupPCSC(ctx, b)
	card := &applet.Card{PAN: "6214850012345678901", Expiry: "2811", Sequence: 2, Key: []byte("0123456789abcdef")}
	serveCtx, stopServe := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- serveCard(serveCtx, env.port, card) }()
	defer func() {
		stopServe()
		<-served
	}()
	tr, closeFn, err := Open(ctx, env.reader0)
	if err != nil {
		b.Fatal(err)
	}
	defer closeFn()
	term := applet.Terminal{T: tr}
	for b.Loop() {
		if _, err := term.GenerateAC([4]byte{1, 2, 3, 4}); err != nil {
			b.Fatal(err)
		}
	}
}

// serveCard runs the virtual card, dialling again while vpcd does not listen yet.
func serveCard(ctx context.Context, port int, card *applet.Card) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for {
		err := vpcd.Serve(ctx, addr, card)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func TestMatchReaders(t *testing.T) {
	all := []string{"Virtual PCD 00 00", "Virtual PCD 00 01", "ACS ACR39U ICC Reader 00 00"}
	tests := []struct {
		name string
		want []string
	}{
		{"", all},
		{"Virtual PCD 00 01", []string{"Virtual PCD 00 01"}},
		{"virtual pcd", all[:2]},
		{"ACR39", all[2:]},
		{"Gemalto", nil},
	}
	for _, tc := range tests {
		if got := matchReaders(all, tc.name); !slices.Equal(got, tc.want) {
			t.Errorf("matchReaders(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// ensurePackages installs the Debian packages that are missing.
func ensurePackages(ctx context.Context, t testing.TB, pkgs ...string) {
	t.Helper()
	var missing []string
	for _, p := range pkgs {
		out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${Status}", p).Output()
		if err != nil || !strings.Contains(string(out), "install ok installed") {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Geteuid() != 0 {
		unavailable(t, "packages %v are missing and only root can install them", missing)
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		unavailable(t, "packages %v are missing and there is no apt-get", missing)
	}
	t.Logf("installing %v with apt-get", missing)
	ictx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	for _, args := range [][]string{
		{"update", "-qq"},
		append([]string{"install", "-y", "-qq", "--no-install-recommends"}, missing...),
	} {
		cmd := exec.CommandContext(ictx, "apt-get", args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			unavailable(t, "apt-get %s: %v\n%s", args[0], err, out)
		}
	}
}

// vpcdDriver is the driver's LIBPATH from the package's reader.conf.d file.
func vpcdDriver(t testing.TB) string {
	t.Helper()
	const conf = "/etc/reader.conf.d/vpcd"
	if f, err := os.Open(conf); err == nil {
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			fields := strings.Fields(s.Text())
			if len(fields) == 2 && fields[0] == "LIBPATH" {
				if _, err := os.Stat(fields[1]); err == nil {
					return fields[1]
				}
			}
		}
	}
	const fallback = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
	if _, err := os.Stat(fallback); err != nil {
		unavailable(t, "the vpcd driver is neither named in %s nor at %s", conf, fallback)
	}
	return fallback
}

// freePortPair finds a port p such that p and p+1 are free on every
// interface: vpcd opens one listening port per slot (two slots).
func freePortPair(t testing.TB) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp4", "0.0.0.0:0")
		if err != nil {
			t.Fatal(err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		ln2, err := net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", p+1))
		ln.Close()
		if err == nil {
			ln2.Close()
			return p
		}
	}
	t.Fatal("no two consecutive free TCP ports")
	return 0
}

// pcscdCommand is pcscd in the foreground with the test's reader
// configuration, in a private mount namespace when the machine allows one.
// It returns the command and the path of the socket it will serve.
func pcscdCommand(ctx context.Context, t testing.TB, confDir, runDir string) (*exec.Cmd, string) {
	t.Helper()
	pcscd, err := exec.LookPath("pcscd")
	if err != nil {
		if pcscd, err = exec.LookPath("/usr/sbin/pcscd"); err != nil {
			unavailable(t, "pcscd is not installed")
		}
	}
	const sysDir = "/run/pcscd"
	args := []string{pcscd, "--foreground", "--apdu", "--info", "--config", confDir}
	var cmd *exec.Cmd
	sock := filepath.Join(runDir, "pcscd.comm")
	if privateNamespace(ctx) {
		if err := os.MkdirAll(sysDir, 0o755); err != nil {
			unavailable(t, "cannot create %s for the bind mount: %v", sysDir, err)
		}
		script := `mount --bind "$1" /run/pcscd && shift && exec "$@"`
		cmd = exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "sh", runDir}, args...)...)
	} else {
		// No namespace: run pcscd on the machine's own socket, if it is free.
		sock = filepath.Join(sysDir, "pcscd.comm")
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			unavailable(t, "a pcscd already serves %s and no private mount namespace (unshare, as root) is available to run another", sock)
		}
		if os.Geteuid() != 0 {
			unavailable(t, "pcscd needs root to use %s", sysDir)
		}
		cmd = exec.Command(args[0], args[1:]...)
	}
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		// Not socket-activated: pcscd must open its own socket.
		return strings.HasPrefix(kv, "LISTEN_") || strings.HasPrefix(kv, "NOTIFY_SOCKET=") ||
			strings.HasPrefix(kv, "PCSCLITE_")
	})
	return cmd, sock
}

// privateNamespace reports whether unshare can give pcscd a private /run/pcscd.
func privateNamespace(ctx context.Context) bool {
	if os.Geteuid() != 0 {
		return false
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		return false
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return exec.CommandContext(cctx, "unshare", "--mount", "--propagation", "private", "--", "true").Run() == nil
}

// pcscdProc is the test's running pcscd: done is closed when it has exited,
// and err is then its exit.
type pcscdProc struct {
	done chan struct{}
	err  error
	out  *testsync.Buffer
}

// startPCSCD starts pcscd and makes sure it is stopped (SIGTERM, then
// SIGKILL) when the test ends.
func startPCSCD(t testing.TB, cmd *exec.Cmd) *pcscdProc {
	t.Helper()
	out := &testsync.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		unavailable(t, "start pcscd: %v", err)
	}
	p := &pcscdProc{done: make(chan struct{}), out: out}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() || testing.Verbose() {
			t.Logf("pcscd output:\n%s", out.String())
		}
	})
	return p
}

// waitForReader waits until pcscd lists the vpcd reader of slot 0.
func waitForReader(ctx context.Context, t testing.TB, p *pcscdProc) string {
	t.Helper()
	want := testReader + " 00 00"
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var last error
	for {
		names, err := Readers(wctx)
		if err == nil && slices.Contains(names, want) {
			return want
		}
		if err == nil {
			err = fmt.Errorf("readers %q", names)
		}
		last = err
		select {
		case <-p.done:
			unavailable(t, "pcscd exited (%v):\n%s", p.err, p.out.String())
		case <-wctx.Done():
			unavailable(t, "pcscd did not list %q in time (last: %v):\n%s", want, last, p.out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
