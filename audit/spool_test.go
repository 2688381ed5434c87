package audit

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bli/atmgw/internal/leaktest"
	"github.com/bli/atmgw/internal/testsync"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

// hash is a well-formed PAN hash (64 hex digits).
const hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func rec(id string, rc string) Record {
	return Record{ID: id, Time: time.Date(2026, 3, 12, 10, 15, 0, 123456000, time.UTC), Institution: "700", Terminal: "ATM70001",
		STAN: "000042", RRN: "261124000042", Service: "pension", PANHash: hash, ResponseCode: rc, Latency: 1234 * time.Microsecond}
}

// spoolLines reads every intact record of the spool files of dir.
func spoolLines(t *testing.T, dir string) []Record {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, spoolGlob))
	var out []Record
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			r, ok := parseLine(sc.Bytes())
			if !ok {
				t.Fatalf("%s: a bad line: %q", f, sc.Text())
			}
			out = append(out, r)
		}
	}
	return out
}

func TestLineRoundTrip(t *testing.T) {
	r := rec("p-1", "00")
	b := appendLine(nil, r)
	if b[len(b)-1] != '\n' || bytes.Count(b, []byte{'\n'}) != 1 {
		t.Fatalf("not one line: %q", b)
	}
	got, ok := parseLine(b[:len(b)-1])
	if !ok || got != r {
		t.Fatalf("round trip: %v\n%+v\n%+v", ok, got, r)
	}
	// Any byte changed, or the line cut anywhere, fails the check.
	for i := 0; i < len(b)-1; i++ {
		bad := bytes.Clone(b[:len(b)-1])
		bad[i] ^= 0x01
		if _, ok := parseLine(bad); ok {
			t.Fatalf("byte %d flipped: still parsed", i)
		}
		if _, ok := parseLine(b[:i]); ok {
			t.Fatalf("cut at %d: still parsed", i)
		}
	}
}

func TestCleanKeepsPANsAndBadBytesOut(t *testing.T) {
	r := rec("p-1\x00", "00")
	r.PANHash = "4711000000000001" // a PAN where the hash belongs: never kept
	r.Terminal = "ATM\xff\x00001"
	c := clean(r)
	if c.PANHash != "" {
		t.Errorf("PANHash %q kept", c.PANHash)
	}
	if c.Terminal != "ATM\uFFFD\uFFFD001" || c.ID != "p-1\uFFFD" {
		t.Errorf("terminal %q, id %q", c.Terminal, c.ID)
	}
	if clean(rec("x", "00")).PANHash != hash {
		t.Error("a real hash was blanked")
	}
}

// writeOrphan writes a spool file as a process that is gone left it.
func writeOrphan(t *testing.T, dir, name string, content []byte) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, content, 0o640); err != nil {
		t.Fatal(err)
	}
	return p
}

// A spool whose last write was torn (a crash in the middle of a line), or
// with a corrupt line inside, drops exactly those lines (only the corrupt
// one counts as lost: the torn one was never acknowledged); every intact
// record is adopted, in order, and the old file is removed.
func TestSpoolTornAndCorruptLines(t *testing.T) {
	dir := t.TempDir()
	var b []byte
	for i := 1; i <= 3; i++ {
		b = appendLine(b, rec(fmt.Sprintf("old-%d", i), "00"))
	}
	corrupt := appendLine(nil, rec("old-bad", "00"))
	corrupt[20] ^= 0x20
	b = append(b, corrupt...)
	b = appendLine(b, rec("old-4", "91"))
	torn := appendLine(nil, rec("old-torn", "00"))
	b = append(b, torn[:len(torn)/2]...)
	old := writeOrphan(t, dir, "audit-0000000000000001.spool", b)
	// A second orphan, newer, whose last line lacks only its newline: kept.
	last := appendLine(nil, rec("new-1", "14"))
	newer := writeOrphan(t, dir, "audit-0000000000000002.spool", last[:len(last)-1])
	future := time.Now().Add(time.Minute)
	os.Chtimes(newer, future, future)

	w, err := Open(context.Background(), Options{SpoolDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	if st.SpoolPending != 5 || st.Lost != 1 || st.Unfinished != 1 {
		t.Errorf("adopted %d records (want 5), %d lost (want 1: the corrupt line), %d unfinished (want 1: the torn last line)",
			st.SpoolPending, st.Lost, st.Unfinished)
	}
	for _, p := range []string{old, newer} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there after its adoption: %v", p, err)
		}
	}
	if err := w.Write(context.Background(), rec("", "00")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range spoolLines(t, dir) {
		ids = append(ids, r.ID)
	}
	got := strings.Join(ids, " ")
	want := "old-1 old-2 old-3 old-4 new-1 " + w.prefix + "-1"
	if got != want {
		t.Errorf("spool holds %q, want %q (oldest first)", got, want)
	}
}

// The spool file of a running process is locked: nobody adopts it until
// its process is gone. Two writers on one directory never share a file.
func TestSpoolOfARunningProcessIsLeftAlone(t *testing.T) {
	dir := t.TempDir()
	a, err := Open(context.Background(), Options{SpoolDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a-1", "a-2"} {
		if err := a.Write(context.Background(), rec(id, "00")); err != nil {
			t.Fatal(err)
		}
	}
	if n := a.Stats().SpoolPending; n != 2 {
		t.Fatalf("a's spool holds %d records, want 2", n)
	}

	b, err := Open(context.Background(), Options{SpoolDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if n := b.Stats().SpoolPending; n != 0 {
		t.Fatalf("b adopted %d records of a running writer", n)
	}
	if a.SpoolFile() == b.SpoolFile() {
		t.Fatal("two writers share one spool file")
	}
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// a is gone: the next writer adopts its records.
	c, err := Open(context.Background(), Options{SpoolDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if n := c.Stats().SpoolPending; n != 2 {
		t.Errorf("c adopted %d records, want 2", n)
	}
	c.Close(context.Background())
	if files, _ := filepath.Glob(filepath.Join(dir, spoolGlob)); len(files) != 1 {
		t.Errorf("spool files %v, want c's only", files)
	}
}

// When the queue is full, Write waits for room until its ctx ends (and
// then fails, counted, its record never stored); a queued record whose
// ctx ends before a batch takes it is withdrawn. Records written from many
// goroutines at once are all kept, each once.
func TestQueueFull(t *testing.T) {
	dir := t.TempDir()
	w, err := open(context.Background(), Options{SpoolDir: dir, Buffer: 4, BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	// The writers are not running yet: nothing takes the queue.
	var outs []<-chan error
	for i := 0; i < 3; i++ {
		outs = append(outs, writeAsync(context.Background(), w, rec(fmt.Sprintf("early-%d", i), "00")))
	}
	testsync.WaitFor(t, "3 records queued", func() bool { return w.Stats().Queued == 3 })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err = w.Write(ctx, rec("withdrawn", "00")) // queued, then its ctx ends
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Write whose ctx ended in the queue: %v", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	err = w.Write(ctx, rec("no-room", "00")) // the queue is full
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || w.Stats().Queued != 4 {
		t.Fatalf("Write on a full queue: %v, %d queued", err, w.Stats().Queued)
	}
	w.start()
	for _, ch := range outs {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if err := w.Write(context.Background(), rec("", "00")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range spoolLines(t, dir) {
		if seen[r.ID] {
			t.Fatalf("record %s twice", r.ID)
		}
		seen[r.ID] = true
	}
	if len(seen) != 803 || seen["withdrawn"] || seen["no-room"] {
		t.Errorf("the spool holds %d records, want 803 (withdrawn %v, no-room %v)", len(seen), seen["withdrawn"], seen["no-room"])
	}
	if st := w.Stats(); st.Lost != 0 || st.Spooled != 803 || st.WriteErrors != 2 {
		t.Errorf("%+v", st)
	}
	// After Close a record cannot be kept: an error, counted.
	if err := w.Write(context.Background(), rec("", "00")); !errors.Is(err, ErrClosed) || w.Stats().WriteErrors != 3 {
		t.Errorf("Write after Close: %v, %+v", err, w.Stats())
	}
}

// A spool whose fsync failed takes nothing more: a later fsync could
// report success for pages the kernel dropped.
func TestSpoolBrokenAfterAFailedSync(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(context.Background(), Options{SpoolDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(context.Background(), rec("ok", "00")); err != nil {
		t.Fatal(err)
	}
	w.spool.mu.Lock()
	w.spool.broken = errors.New("test: fsync failed")
	w.spool.mu.Unlock()
	if err := w.Write(context.Background(), rec("after", "00")); err == nil {
		t.Fatal("Write on a broken spool returned nil")
	}
	if st := w.Stats(); st.WriteErrors != 1 || st.Spooled != 1 {
		t.Errorf("%+v", st)
	}
	w.Close(context.Background())
}

func TestOpenFailsOnAnUnusableDirectory(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o640)
	if _, err := Open(context.Background(), Options{SpoolDir: filepath.Join(f, "audit")}); err == nil {
		t.Fatal("a spool directory under a file opened")
	}
	if _, err := Open(context.Background(), Options{SpoolDir: t.TempDir(), DatabaseURL: "postgres://u:secret@[::1"}); err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("bad URL: %v", err)
	}
}
