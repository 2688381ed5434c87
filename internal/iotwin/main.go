package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/postgres"
)

// The sizes of the approved answer's screen, statement and receipt (DE61,
// DE62, DE63) in the example's layouts: a 0210 of 1,617 bytes.
const (
	screenLen    = 451
	statementLen = 395
	receiptLen   = 600
	// maxBatch is the most inquiries one read or commit batch takes (the
	// gateway's readers take 32).
	maxBatch = 32
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "iotwin:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("iotwin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8583", "address to listen on (loopback)")
	dbURL := fs.String("database-url", "", "PostgreSQL URL (required)")
	macKeys := fs.String("mac-key", "", "partners' MAC keys, comma-separated INST=32 hex digits")
	rows := fs.Int("rows", 20000, "rows of iotwin_rows, made when the table is missing")
	maxConns := fs.Int("max-conns", 8, "connections for the reads (the gateway's ledger max_conns)")
	readers := fs.Int("readers", 0, "goroutines sending the reads, each a batch at a time (0: max-conns/2, at most 4, as the gateway)")
	committers := fs.Int("committers", 2, "commit batches in flight on the primary (the gateway's card state workers)")
	readsKind := fs.String("reads", "plain", "what an inquiry reads: plain (one row of iotwin_rows by an integer key) or atmgw (the gateway's own ledger store, ledger/postgres.Store: its readers and its inquiry statement on atmgw's loaded ledger; needs --pan-key)")
	panKey := fs.String("pan-key", "", "the ledger's PAN hash key, hex (the configuration's pan_key): PANs hashed as atmgw load hashed them")
	writes := fs.String("writes", "plain", "what a commit writes: plain (the key, the counter and a record as plain inserts, on the twin's own tables) or atmgw (the gateway's own card state, ledger/postgres.CardState: its batches of card_state_check and audit_log records, on atmgw's schema)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *dbURL == "" {
		return errors.New("--database-url is required")
	}
	if *writes != "plain" && *writes != "atmgw" {
		return fmt.Errorf("--writes %q: want plain or atmgw", *writes)
	}
	if *readsKind != "plain" && *readsKind != "atmgw" {
		return fmt.Errorf("--reads %q: want plain or atmgw", *readsKind)
	}
	hasher, err := panHasher(*panKey)
	if err != nil {
		return err
	}
	if *readsKind == "atmgw" && *panKey == "" {
		return errors.New("--reads atmgw needs --pan-key (the ledger's pan_key)")
	}
	if *rows < 1 || *maxConns < 1 || *readers < 0 || *committers < 1 {
		return errors.New("--rows, --max-conns and --committers must be at least 1, --readers at least 0")
	}
	keys, err := parseKeys(*macKeys)
	if err != nil {
		return err
	}
	if *readers == 0 {
		*readers = min(max(*maxConns/2, 1), 4)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t := &twin{start: strconv.FormatInt(time.Now().UnixNano(), 36) + "-", keys: keys, rows: uint32(*rows), hasher: hasher,
		reads: make(chan *readReq), commits: make(chan *commitReq)}
	var readPool, primary *pgxpool.Pool // plain reads, plain writes
	if *readsKind == "atmgw" {
		st, err := postgres.Open(ctx, *dbURL, postgres.Options{MaxConns: int32(*maxConns), Warm: true, Readers: *readers})
		if err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		defer st.Close()
		t.store = st
		t.screen, t.statement, t.receipt = filled(screenLen, ' '), filled(statementLen, '.'), filled(receiptLen, '-')
	} else {
		if readPool, err = openPool(ctx, *dbURL, *maxConns); err != nil {
			return err
		}
		defer readPool.Close()
		if err := setUp(ctx, readPool, *rows); err != nil {
			return err
		}
	}
	if *writes == "atmgw" {
		cs, err := openCardState(ctx, *dbURL, *committers)
		if err != nil {
			return err
		}
		defer cs.close()
		t.cs = cs
	} else {
		if primary, err = openPool(ctx, *dbURL, *committers); err != nil {
			return err
		}
		defer primary.Close()
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	// The loops start once everything opened: an error above leaves none.
	var wg sync.WaitGroup
	if readPool != nil {
		for range *readers {
			wg.Go(func() { t.readLoop(ctx, readPool) })
		}
	}
	if primary != nil {
		for range *committers {
			wg.Go(func() { t.commitLoop(ctx, primary) })
		}
	}
	fmt.Fprintf(stderr, "iotwin serving on %s\n", l.Addr())
	context.AfterFunc(ctx, func() { l.Close() })
	var conns sync.WaitGroup
	var acceptErr error
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() == nil {
				acceptErr = err // not a stop: the twin stops all the same
			}
			break
		}
		conns.Go(func() { t.serve(ctx, c) })
	}
	cancel()
	conns.Wait()
	wg.Wait()
	return acceptErr
}

func parseKeys(s string) (map[string][]byte, error) {
	keys := map[string][]byte{}
	for kv := range strings.SplitSeq(s, ",") {
		if kv == "" {
			continue
		}
		inst, h, ok := strings.Cut(kv, "=")
		k, err := hex.DecodeString(h)
		if !ok || err != nil || len(k) != 16 {
			return nil, fmt.Errorf("--mac-key %q: want INST=32 hex digits", inst)
		}
		keys[inst] = k
	}
	return keys, nil
}

func openPool(ctx context.Context, url string, n int) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("--database-url: %w", err)
	}
	cfg.MaxConns, cfg.MinConns = int32(n), int32(n)
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := p.Ping(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// setUp makes the twin's tables when they are missing: the rows an inquiry
// reads (one per person, by primary key) and the log it commits to.
func setUp(ctx context.Context, db *pgxpool.Pool, rows int) error {
	_, err := db.Exec(ctx, `
CREATE TABLE IF NOT EXISTS iotwin_rows (id int PRIMARY KEY, screen bytea NOT NULL, statement bytea NOT NULL, receipt bytea NOT NULL);
CREATE TABLE IF NOT EXISTS iotwin_keys (key bytea PRIMARY KEY, seen_at bigint NOT NULL);
CREATE TABLE IF NOT EXISTS iotwin_counters (pan_hash bytea PRIMARY KEY, atc integer NOT NULL) WITH (fillfactor = 70);
CREATE TABLE IF NOT EXISTS iotwin_log (id text PRIMARY KEY, institution text NOT NULL, terminal text NOT NULL, stan text NOT NULL, pan_hash bytea NOT NULL, at timestamptz NOT NULL DEFAULT now())`)
	if err != nil {
		return err
	}
	var have int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM iotwin_rows`).Scan(&have); err != nil {
		return err
	}
	if have >= rows {
		return nil
	}
	_, err = db.Exec(ctx, `INSERT INTO iotwin_rows
SELECT i, convert_to(rpad(i::text, $2, ' '), 'UTF8'), convert_to(rpad(i::text, $3, '.'), 'UTF8'), convert_to(rpad(i::text, $4, '-'), 'UTF8')
FROM generate_series(0, $1 - 1) i ON CONFLICT DO NOTHING`, rows, screenLen, statementLen, receiptLen)
	if err == nil {
		_, err = db.Exec(ctx, `VACUUM ANALYZE iotwin_rows`)
	}
	return err
}

type twin struct {
	cs     *cardState      // --writes atmgw: the gateway's card state; nil: plain writes
	store  *postgres.Store // --reads atmgw: the gateway's ledger store; nil: plain reads
	hasher *card.PANHasher
	// --reads atmgw: the answer's screen, statement and receipt (nothing is
	// laid out: the gateway's sizes, fixed bytes)
	screen, statement, receipt []byte
	start                      string        // the records' id prefix: when the twin started
	seq                        atomic.Uint64 // the records' ids after it
	keys                       map[string][]byte
	rows                       uint32
	reads                      chan *readReq
	commits                    chan *commitReq
}

// waiter is a request's answer: its error, and a channel closed when done.
type waiter struct {
	err  error
	done chan struct{}
}

func newWaiter() waiter { return waiter{done: make(chan struct{})} }

func (w *waiter) finish(err error) { w.err = err; close(w.done) }

func (w *waiter) wait() error { <-w.done; return w.err }

type readReq struct {
	waiter
	id                         int32
	screen, statement, receipt []byte
}

// commitReq is what "One truth for every gateway" writes on the primary for
// an inquiry: its key (decision 7), its card's counter (decisions 14 and
// 15) and its record (the write-ahead audit trail).
type commitReq struct {
	waiter
	key, panHash                []byte
	atc                         int32
	institution, stan, terminal string
}

// serve reads the connection's frames and answers them: 0800s at once, in
// order; each 0200 on a goroutine of its own. Answers go out through one
// writer, those waiting together in one write.
func (t *twin) serve(ctx context.Context, c net.Conn) {
	defer c.Close()
	defer context.AfterFunc(ctx, func() { c.Close() })()
	out := make(chan []byte, 64)
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		bw := bufio.NewWriterSize(c, 8192)
		for msg := range out {
			if iso.WriteFrame(bw, msg) != nil || len(out) == 0 && bw.Flush() != nil {
				break
			}
		}
		for range out { // the connection failed: drop the rest
		}
	}()
	var inflight sync.WaitGroup
	defer func() { inflight.Wait(); close(out); <-wrote }()
	br := bufio.NewReaderSize(c, 8192)
	var key []byte
	for {
		f, err := iso.ReadFrame(br, nil)
		if err != nil {
			return
		}
		m, err := iso.Decode(f)
		if err != nil {
			continue // the twin answers only what it reads
		}
		switch m.MTI {
		case iso.MTINetworkRequest:
			if m.NetworkCode == "001" { // sign-on: the partner, for its MAC key
				key = t.keys[m.Institution]
			}
			m.MTI, m.ResponseCode = iso.MTINetworkResponse, "00"
			out <- encode(m, nil)
		case iso.MTIFinancialRequest:
			inflight.Go(func() { out <- t.inquiry(ctx, m, key) })
		}
	}
}

// inquiry reads the card's row, commits the inquiry's row on the primary,
// and returns the packed 0210.
func (t *twin) inquiry(ctx context.Context, m *iso.Message, key []byte) []byte {
	var hash string // the ledger's and the card state's (plain writes hash their own)
	if t.store != nil || t.cs != nil {
		hash = t.hasher.Hash(m.PAN)
	}
	r := &readReq{}
	rc := "00"
	if err := t.read(ctx, m, hash, r); err != nil {
		rc = "91"
	} else if t.cs != nil {
		if t.cs.check(ctx, m, hash) != nil {
			rc = "91"
		}
	} else {
		pan := sha256.Sum256([]byte(m.PAN))
		icc, _ := card.ParseICC(m.ICC, m.CardSequence)
		c := &commitReq{waiter: newWaiter(), key: []byte(m.Institution + m.TerminalID + m.STAN + m.TransmissionTime),
			panHash: pan[:], atc: int32(icc.ATC), institution: m.Institution, stan: m.STAN, terminal: m.TerminalID}
		if send(ctx, t.commits, c) != nil {
			rc = "91"
		}
	}
	m.MTI, m.ResponseCode = iso.MTIFinancialResponse, rc
	m.ICC, m.MAC = nil, nil
	if rc == "00" {
		m.Screen, m.Statement, m.Receipt = r.screen, r.statement, r.receipt
	}
	return encode(m, key)
}

// read gets the inquiry's answer into r: one row of iotwin_rows through
// the read loops, or the gateway's ledger store (--reads atmgw).
func (t *twin) read(ctx context.Context, m *iso.Message, hash string, r *readReq) error {
	if t.store == nil {
		h := fnv.New32a()
		h.Write([]byte(m.PAN))
		r.waiter, r.id = newWaiter(), int32(h.Sum32()%t.rows)
		return send(ctx, t.reads, r)
	}
	ans, err := t.store.Inquire(ctx, ledger.Query{Institution: m.Institution, PANHash: hash, Service: iso.ServiceOf(m.ProcessingCode)})
	if err == nil && (ans.Consent == nil || ans.Person == nil) {
		err = errors.New("no consent or person")
	}
	r.screen, r.statement, r.receipt = t.screen, t.statement, t.receipt
	return err
}

func filled(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

// panHasher is the hasher of the ledger's key (hex), or of the twin's own
// when there is none (the card state's hashes then match no consent: the
// twin's plain reads need none).
func panHasher(hexKey string) (*card.PANHasher, error) {
	if hexKey == "" {
		return card.NewPANHasher([]byte("iotwin PAN hash key, not a secret"))
	}
	k, err := hex.DecodeString(hexKey)
	if err != nil {
		return nil, fmt.Errorf("--pan-key: want hex digits")
	}
	h, err := card.NewPANHasher(k)
	if err != nil {
		return nil, fmt.Errorf("--pan-key: %w", err)
	}
	return h, nil
}

// encode packs m, signed with key when there is one.
func encode(m *iso.Message, key []byte) []byte {
	b := make([]byte, 0, 2048)
	var err error
	if key != nil {
		b, err = iso.AppendEncodeMAC(b, m, key)
	} else {
		b, err = iso.AppendEncode(b, m)
	}
	if err != nil {
		panic(fmt.Sprintf("iotwin: encoding a %s: %v", m.MTI, err))
	}
	return b
}

// send hands r to the loops and waits for it to be done.
func send[R interface{ wait() error }](ctx context.Context, to chan R, r R) error {
	select {
	case to <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	return r.wait()
}

// take waits for the next request and returns it with those waiting behind
// it, at most maxBatch; ok is false when ctx is done first.
func take[R any](ctx context.Context, from chan R, batch []R) (_ []R, ok bool) {
	select {
	case r := <-from:
		batch = append(batch[:0], r)
	case <-ctx.Done():
		return batch[:0], false
	}
	for len(batch) < maxBatch {
		select {
		case r := <-from:
			batch = append(batch, r)
		default:
			return batch, true
		}
	}
	return batch, true
}

const readRow = `SELECT screen, statement, receipt FROM iotwin_rows WHERE id = $1`

// readLoop sends the reads waiting at once as one pipeline (one alone as a
// plain query), as the gateway's ledger readers do.
func (t *twin) readLoop(ctx context.Context, db *pgxpool.Pool) {
	batch := make([]*readReq, 0, maxBatch)
	for {
		var ok bool
		if batch, ok = take(ctx, t.reads, batch); !ok {
			return
		}
		if len(batch) == 1 {
			r := batch[0]
			r.finish(db.QueryRow(ctx, readRow, r.id).Scan(&r.screen, &r.statement, &r.receipt))
			continue
		}
		var b pgx.Batch
		for _, r := range batch {
			b.Queue(readRow, r.id)
		}
		br := db.SendBatch(ctx, &b)
		errs := make([]error, len(batch))
		for i, r := range batch {
			errs[i] = br.QueryRow().Scan(&r.screen, &r.statement, &r.receipt)
		}
		cerr := br.Close()
		for i, r := range batch {
			r.finish(cmp.Or(errs[i], cerr))
		}
	}
}

// nextID returns a new record id, as the audit trail gives each record one.
func (t *twin) nextID() string {
	return t.start + strconv.FormatUint(t.seq.Add(1), 10)
}

// plainCommit writes a batch's keys, counters and records in one
// statement: plain inserts and an upsert, no check.
const plainCommit = `WITH k AS (
	INSERT INTO iotwin_keys (key, seen_at) SELECT * FROM unnest($1::bytea[], $2::bigint[]) ON CONFLICT (key) DO NOTHING
), c AS (
	INSERT INTO iotwin_counters AS c (pan_hash, atc)
	SELECT DISTINCT ON (h) h, a FROM unnest($3::bytea[], $4::integer[]) AS u(h, a) ORDER BY h, a DESC
	ON CONFLICT (pan_hash) DO UPDATE SET atc = greatest(c.atc, excluded.atc)
)
INSERT INTO iotwin_log (id, institution, terminal, stan, pan_hash) SELECT * FROM unnest($5::text[], $8::text[], $7::text[], $6::text[], $3::bytea[])`

// commitLoop writes what the commits waiting at once need in one
// statement, one commit (plainCommit), as the gateway's card state does
// with its checks and their audit records.
func (t *twin) commitLoop(ctx context.Context, db *pgxpool.Pool) {
	batch := make([]*commitReq, 0, maxBatch)
	var (
		keys, hashes             [][]byte
		nows                     []int64
		atcs                     []int32
		ids, stans, terms, insts []string
	)
	for {
		var ok bool
		if batch, ok = take(ctx, t.commits, batch); !ok {
			return
		}
		keys, hashes, nows, atcs = keys[:0], hashes[:0], nows[:0], atcs[:0]
		ids, stans, terms, insts = ids[:0], stans[:0], terms[:0], insts[:0]
		now := time.Now().UnixNano()
		for _, c := range batch {
			keys, hashes, nows, atcs = append(keys, c.key), append(hashes, c.panHash), append(nows, now), append(atcs, c.atc)
			ids, stans, terms, insts = append(ids, t.nextID()), append(stans, c.stan), append(terms, c.terminal), append(insts, c.institution)
		}
		_, err := db.Exec(ctx, plainCommit, keys, nows, hashes, atcs, ids, stans, terms, insts)
		for _, c := range batch {
			c.finish(err)
		}
	}
}
