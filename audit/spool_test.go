package audit

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

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
// with a corrupt line inside, loses exactly those lines; every intact
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
	if st.SpoolPending != 5 || st.Lost != 2 {
		t.Errorf("adopted %d records (want 5), %d lost (want 2: the corrupt and the torn line)", st.SpoolPending, st.Lost)
	}
	for _, p := range []string{old, newer} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there after its adoption: %v", p, err)
		}
	}
	w.Add(rec("", "00"))
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
	a.Add(rec("a-1", "00"))
	a.Add(rec("a-2", "00"))
	waitFor(t, "a's records in its spool", func() bool { return a.Stats().SpoolPending == 2 })

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

// When the buffer is full, Add appends to the spool itself rather than
// waiting or dropping; records added from many goroutines at once are all
// kept, each once.
func TestBufferFullGoesToSpool(t *testing.T) {
	dir := t.TempDir()
	w, err := open(context.Background(), Options{SpoolDir: dir, Buffer: 4, BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	// The writer goroutine is not running yet: nothing empties the buffer.
	for i := 0; i < 7; i++ {
		w.Add(rec("", "00"))
	}
	st := w.Stats()
	if st.Buffered != 4 || st.BufferFull != 3 || st.SpoolPending != 3 {
		t.Fatalf("buffered %d (want 4), spooled because full %d (want 3), pending %d (want 3)", st.Buffered, st.BufferFull, st.SpoolPending)
	}
	go w.run()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				w.Add(rec("", "00"))
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
	if len(seen) != 807 {
		t.Errorf("the spool holds %d records, want 807", len(seen))
	}
	if st := w.Stats(); st.Lost != 0 || st.Spooled != 807 {
		t.Errorf("lost %d, spooled %d", st.Lost, st.Spooled)
	}
	// After Close a record cannot be kept: counted, not silently dropped.
	w.Add(rec("", "00"))
	if w.Stats().Lost != 1 {
		t.Error("a record added after Close was not counted lost")
	}
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

// waitFor polls cond until it holds; the deadline only guards against a hang.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
