package audit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// The spool directory's files.
const (
	spoolGlob    = "audit-*.spool"      // one per process: audit-<prefix>.spool
	rejectedName = "audit-rejected.log" // rows the database refused as invalid
	maxLineLen   = 64 << 10             // a longer "line" is garbage
)

// errSpoolClosed is returned by an append after close.
var errSpoolClosed = errors.New("audit: spool closed")

// spool is the append-only file of one process. Appends may come from many
// goroutines (concurrent appends share one fsync); reading and consuming
// (the replay) from one.
//
// A spool file holds one record a line ("<crc32c> <json>"), fsync'd per
// append. A torn or corrupt line (a crash in the middle of a write) fails
// its checksum and is dropped when the file is read; the lines around it
// are kept. After a failed fsync the spool takes nothing more (the kernel
// may have dropped the pages; a later fsync could not tell).
//
// Each process spools to its own file, audit-<prefix>.spool, which it
// holds locked (flock) while it runs. At Open, the files of processes that
// are gone (unlocked) are adopted: their intact lines are copied into the
// new file, which is fsync'd before the old file is removed. So a spool
// left by a crash, or by a stop while the database was down, is replayed
// by the next start, and two gateways sharing a directory never write to
// one file.
type spool struct {
	dir, path string
	f         *os.File // O_APPEND, flock'd until closed

	mu        sync.Mutex
	closed    bool
	size      int64  // bytes in the file
	lines     int    // lines in the file
	doneOff   int64  // the replay has consumed the file up to here
	doneLines int    // and this many lines
	gen       uint64 // appends so far

	broken error // set once appended records may be lost (a failed fsync, a torn write not undone): no append succeeds after

	syncMu sync.Mutex
	synced uint64 // appends known to be on disk
}

// adopted says what openSpool took over from processes that are gone.
type adopted struct {
	Files int // spool files adopted
	Lines int // intact records copied
	Bad   int // corrupt lines dropped: records that may have been acknowledged
	// Unfinished counts the torn last lines dropped: an append cut short
	// by the crash of its process. Its fsync never ran, so no Write
	// returned nil for it and no answer left: nothing acknowledged is lost.
	Unfinished int
}

// openSpool creates the spool file of this process (audit-<prefix>.spool in
// dir, made if missing) and adopts the spool files of processes that are
// gone, oldest first.
func openSpool(ctx context.Context, dir, prefix string) (*spool, adopted, error) {
	var ad adopted
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, ad, err
	}
	s := &spool{dir: dir, path: filepath.Join(dir, "audit-"+prefix+".spool")}
	// Created under a name no other process adopts, locked, then renamed:
	// nobody can take the new file for an orphan.
	tmp := filepath.Join(dir, ".audit-"+prefix+".new")
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o640)
	if err != nil {
		return nil, ad, err
	}
	if ok, err := tryLock(f); !ok || err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, ad, fmt.Errorf("cannot lock %s: %v", tmp, err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, ad, err
	}
	s.f = f
	fail := func(err error) (*spool, adopted, error) {
		f.Close()
		os.Remove(s.path)
		return nil, ad, err
	}
	olds, err := filepath.Glob(filepath.Join(dir, spoolGlob))
	if err != nil {
		return fail(err)
	}
	type old struct {
		path string
		mod  time.Time
	}
	var orphans []old
	for _, p := range olds {
		if p == s.path {
			continue
		}
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			orphans = append(orphans, old{p, st.ModTime()})
		}
	}
	slices.SortFunc(orphans, func(a, b old) int { return a.mod.Compare(b.mod) })
	for _, o := range orphans {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		n, bad, unfinished, took, err := s.adopt(o.path)
		if err != nil {
			return fail(fmt.Errorf("adopting %s: %w", o.path, err))
		}
		if took {
			ad.Files++
			ad.Lines += n
			ad.Bad += bad
			ad.Unfinished += unfinished
		}
	}
	if err := syncDir(dir); err != nil {
		return fail(err)
	}
	return s, ad, nil
}

// adopt copies the intact lines of the spool file of a process that is
// gone into s, fsyncs s, and removes the old file. A file still locked by
// its process is left alone (took false).
func (s *spool) adopt(path string) (lines, bad, unfinished int, took bool, err error) {
	of, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, 0, false, nil // adopted by someone else meanwhile
	}
	if err != nil {
		return 0, 0, 0, false, err
	}
	defer of.Close()
	if ok, err := tryLock(of); err != nil || !ok {
		return 0, 0, 0, false, err // its process runs
	}
	// Locked: is it still the file at that path (not one another process
	// adopted and removed between our open and our lock)?
	st1, err1 := of.Stat()
	st2, err2 := os.Stat(path)
	if err1 != nil || err2 != nil || !os.SameFile(st1, st2) {
		return 0, 0, 0, false, nil
	}
	r := bufio.NewReaderSize(of, maxLineLen)
	w := bufio.NewWriterSize(s.f, 64<<10)
	var written int64
	for {
		b, rerr := r.ReadSlice('\n')
		if errors.Is(rerr, bufio.ErrBufferFull) {
			for errors.Is(rerr, bufio.ErrBufferFull) {
				_, rerr = r.ReadSlice('\n')
			}
			if rerr == nil {
				bad++
				continue
			}
			if errors.Is(rerr, io.EOF) {
				unfinished++ // an overlong last line without its newline: torn
				break
			}
			bad++
			return 0, 0, 0, false, rerr
		}
		if errors.Is(rerr, io.EOF) {
			// A last line without its newline: the write was torn, unless
			// only the newline is missing.
			if len(b) > 0 {
				if intact(b) {
					n, _ := w.Write(b)
					m, _ := w.Write([]byte{'\n'})
					written += int64(n + m)
					lines++
				} else {
					unfinished++
				}
			}
			break
		}
		if rerr != nil {
			return 0, 0, 0, false, rerr
		}
		if !intact(b[:len(b)-1]) {
			bad++
			continue
		}
		n, werr := w.Write(b)
		written += int64(n)
		if werr != nil {
			return 0, 0, 0, false, werr
		}
		lines++
	}
	if err := w.Flush(); err != nil {
		return 0, 0, 0, false, err
	}
	if err := s.f.Sync(); err != nil {
		return 0, 0, 0, false, err
	}
	s.mu.Lock()
	s.size += written
	s.lines += lines
	s.gen++
	s.mu.Unlock()
	if err := os.Remove(path); err != nil {
		return 0, 0, 0, false, err
	}
	return lines, bad, unfinished, true, nil
}

// append writes recs at the end of the file and fsyncs it before it
// returns: nil means they are on disk. Concurrent appends share an fsync
// (the first to reach it syncs what all have written). A failed write
// leaves the file as it was. After a failed fsync, or a torn write that
// cannot be undone, every append fails: the kernel may have dropped
// written pages and a later fsync could not tell (the spool is then
// unusable until the process restarts; its intact lines are adopted).
func (s *spool) append(recs []Record) error {
	var buf []byte
	for _, r := range recs {
		buf = appendLine(buf, r)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errSpoolClosed
	}
	if s.broken != nil {
		err := s.broken
		s.mu.Unlock()
		return err
	}
	n, err := s.f.Write(buf)
	if err != nil {
		if n > 0 {
			if terr := s.f.Truncate(s.size); terr != nil { // no half line left behind
				s.broken = fmt.Errorf("spool %s unusable: a torn append could not be undone: %w", s.path, terr)
			}
		}
		s.mu.Unlock()
		return err
	}
	s.size += int64(n)
	s.lines += len(recs)
	s.gen++
	gen := s.gen
	s.mu.Unlock()
	return s.syncTo(gen)
}

// syncTo fsyncs the file unless an fsync begun after append number gen did.
func (s *spool) syncTo(gen uint64) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if s.synced >= gen {
		return nil
	}
	s.mu.Lock()
	cur, broken := s.gen, s.broken
	s.mu.Unlock()
	if broken != nil {
		return broken
	}
	if err := s.f.Sync(); err != nil {
		s.mu.Lock()
		s.broken = fmt.Errorf("spool %s unusable after a failed fsync: %w", s.path, err)
		s.mu.Unlock()
		return err
	}
	s.synced = cur
	return nil
}

// read returns up to max records from the replay position, the offset
// after them and the lines they took (bad counts the torn or corrupt ones
// among them, skipped).
func (s *spool) read(max int) (recs []Record, next int64, lines, bad int, err error) {
	s.mu.Lock()
	off, size := s.doneOff, s.size
	s.mu.Unlock()
	r := bufio.NewReaderSize(io.NewSectionReader(s.f, off, size-off), maxLineLen)
	next = off
	for len(recs) < max {
		b, rerr := r.ReadSlice('\n')
		if errors.Is(rerr, bufio.ErrBufferFull) {
			n := int64(len(b))
			for errors.Is(rerr, bufio.ErrBufferFull) {
				b, rerr = r.ReadSlice('\n')
				n += int64(len(b))
			}
			if rerr != nil {
				break
			}
			next += n
			lines++
			bad++
			continue
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				break // only whole lines are ever appended: nothing torn here
			}
			return nil, off, 0, 0, rerr
		}
		next += int64(len(b))
		lines++
		rec, ok := parseLine(b[:len(b)-1])
		if !ok {
			bad++
			continue
		}
		recs = append(recs, rec)
	}
	return recs, next, lines, bad, nil
}

// consumed moves the replay position to next, past lines more lines. Once
// the whole file is consumed it is truncated (under the append lock, so
// that nothing appended meanwhile is lost).
func (s *spool) consumed(next int64, lines int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.doneOff = next
	s.doneLines += lines
	if s.doneOff < s.size || s.closed {
		return nil
	}
	if err := s.f.Truncate(0); err != nil {
		return err
	}
	s.size, s.lines, s.doneOff, s.doneLines = 0, 0, 0, 0
	return s.f.Sync()
}

// pending is the number of records waiting in the file (not yet replayed).
func (s *spool) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lines - s.doneLines
}

// close closes the file, removing it when nothing waits in it, and
// returns how many records it keeps.
func (s *spool) close() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.lines - s.doneLines, nil
	}
	s.closed = true
	left := s.lines - s.doneLines
	var err error
	if left == 0 {
		err = os.Remove(s.path)
	} else {
		err = s.f.Sync()
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	return left, err
}

// appendRejected appends recs to the spool directory's file of rows the
// database refused, in the spool's line format (an operator can move them
// back into a .spool file once the cause is fixed).
func appendRejected(dir string, recs []Record) error {
	var buf []byte
	for _, r := range recs {
		buf = appendLine(buf, r)
	}
	p := filepath.Join(dir, rejectedName)
	_, serr := os.Stat(p)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(buf)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && errors.Is(serr, os.ErrNotExist) {
		err = syncDir(dir) // a new file: its name must be durable too
	}
	return err
}

// syncDir makes the directory's entries (a rename, a removal) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}
