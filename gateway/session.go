package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/iso"
)

// closeReason is why a connection closed. Its String is both the text of
// the "connection closed" log line and the label value of
// atmgw_connections_closed_total, which dashboards, alert rules and
// docs/operations.md name: the texts below never change.
type closeReason int

const (
	closedUnknown        closeReason = iota // not recorded yet: the first reason recorded wins
	closedShutdown                          // graceful shutdown
	closedServer                            // the server closed it (Close, or closed under the read loop)
	closedTooLarge                          // a declared frame length over 4096
	closedIdle                              // no frame within the idle timeout
	closedFrameTimeout                      // a frame not complete within the frame timeout
	closedPeer                              // the peer closed it between frames
	closedPeerMidFrame                      // the peer closed it inside a frame
	closedBadFrames                         // too many unparseable frames in a row
	closedReadError                         // another read error
	closedWriteError                        // a write error
	closedHandshake                         // the TLS handshake failed
	closedSignOnDeadline                    // not signed on within the deadline
	closedSignOnRefused                     // a refused sign-on (05)
	closedPanic                             // a recovered panic
	// A reload no longer admits the connection (Server.Reload), for the
	// refusal of the bound partner, or as a stranger.
	closedReloadUnknownInstitution
	closedReloadAddress
	closedReloadCertificate
	closedReloadCertElsewhere
	closedReloadStranger
)

// closeReasonText is the String of every close reason (the label values of
// atmgw_connections_closed_total).
var closeReasonText = [...]string{
	closedUnknown:                  "",
	closedShutdown:                 "shutdown",
	closedServer:                   "server closed",
	closedTooLarge:                 "frame over 4096",
	closedIdle:                     "idle timeout",
	closedFrameTimeout:             "frame timeout",
	closedPeer:                     "peer closed",
	closedPeerMidFrame:             "peer closed inside a frame",
	closedBadFrames:                "unparseable frames",
	closedReadError:                "read error",
	closedWriteError:               "write error",
	closedHandshake:                "tls handshake failed",
	closedSignOnDeadline:           "no sign-on within the deadline",
	closedSignOnRefused:            "sign-on refused",
	closedPanic:                    "panic",
	closedReloadUnknownInstitution: "reload: " + refusedUnknownInstitution.String(),
	closedReloadAddress:            "reload: " + refusedAddress.String(),
	closedReloadCertificate:        "reload: " + refusedCertificate.String(),
	closedReloadCertElsewhere:      "reload: " + refusedCertElsewhere.String(),
	closedReloadStranger:           "reload: source outside every partner's networks",
}

func (r closeReason) String() string {
	if r < 0 || int(r) >= len(closeReasonText) {
		return "close reason " + strconv.Itoa(int(r))
	}
	return closeReasonText[r]
}

// sessionEnv is all a session may use of its server: the handler, the
// options (read only), the metrics, the server's base context (cancelled
// by Close) and the connection counts (caps). Nothing else of *Server.
type sessionEnv struct {
	h       *Handler
	opts    *Options
	metrics *Metrics
	base    context.Context
	counts  *connCounts
}

// session is one partner connection: a read loop (this goroutine), a write
// loop, and one goroutine per 0200 being handled, at most MaxInFlight.
// Responses are written as each is ready, in any order. Every goroutine
// recovers its own panics: a panic closes this connection only.
type session struct {
	env  *sessionEnv
	conn net.Conn
	peer Peer
	log  *zap.Logger

	// ctx is the session's: cancelled when the connection closes (and by
	// Server.Close), and passed to every inquiry of the connection.
	ctx    context.Context
	cancel context.CancelFunc

	// bound is the institution the connection signed on as (nil until
	// then). The partner is looked up on each request, so that a Reload
	// applies to open connections.
	bound atomic.Pointer[string]

	out      chan *[]byte  // packed responses for the write loop (from outBufs, back to it once written)
	sem      chan struct{} // in-flight slots
	inflight sync.WaitGroup

	// The goroutines that handle 0200s stay for the next one (at most
	// maxIdleWorkers of them idle), so that a goroutine's stack, grown
	// through the database driver once, is not grown again for every
	// inquiry (it was 8% of the gateway's CPU).
	jobs        chan inquiryJob // to an idle worker
	stopWorkers chan struct{}   // closed once nothing is in flight: idle workers leave
	idle        atomic.Int32
	workers     sync.WaitGroup

	signOnMu    sync.Mutex
	signOnTimer *time.Timer // closes the connection if still unbound

	draining  atomic.Bool
	closeOnce sync.Once
	reasonMu  sync.Mutex
	reason    closeReason
	detail    error
}

func remoteAddr(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

func newSession(env *sessionEnv, log *zap.Logger, c net.Conn, addr netip.Addr, id uint64) *session {
	ctx, cancel := context.WithCancel(env.base)
	return &session{
		env:    env,
		conn:   c,
		peer:   Peer{Addr: addr},
		log:    log.With(zap.Uint64("conn", id), zap.String("remote", c.RemoteAddr().String())),
		ctx:    ctx,
		cancel: cancel,
		out:    make(chan *[]byte, env.opts.MaxInFlight+4),
		sem:    make(chan struct{}, env.opts.MaxInFlight),

		jobs:        make(chan inquiryJob),
		stopWorkers: make(chan struct{}),
	}
}

// setReason records why the connection closes; the first reason wins.
func (ss *session) setReason(r closeReason, detail error) {
	ss.reasonMu.Lock()
	if ss.reason == closedUnknown {
		ss.reason, ss.detail = r, detail
	}
	ss.reasonMu.Unlock()
}

func (ss *session) closeReason() (closeReason, error) {
	ss.reasonMu.Lock()
	defer ss.reasonMu.Unlock()
	return ss.reason, ss.detail
}

// drain makes the read loop stop taking new requests; what is in flight is
// answered, then the connection closes (graceful shutdown, a refused
// sign-on, a recovered panic).
func (ss *session) drain(reason closeReason) {
	ss.setReason(reason, nil)
	ss.draining.Store(true)
	ss.conn.SetReadDeadline(time.Now())
}

// abort closes the connection at once and cancels its context.
func (ss *session) abort(reason closeReason, detail error) {
	ss.setReason(reason, detail)
	ss.closeOnce.Do(func() {
		ss.conn.Close()
		ss.cancel()
	})
}

// partner is the partner the connection is bound to now (nil: none).
func (ss *session) partner() *Partner {
	inst := ss.bound.Load()
	if inst == nil {
		return nil
	}
	return ss.env.h.Partner(*inst)
}

// Bind implements Binder: the connection counts as signed on as
// institution, no longer as unbound.
func (ss *session) Bind(institution string) bool {
	if !ss.env.counts.bind(ss.peer.Addr, ss.bound.Load(), institution) {
		return false
	}
	ss.stopSignOnTimer()
	return true
}

// Unbind implements Binder (a sign-off): the connection is unbound again,
// and must sign on within the deadline once more.
func (ss *session) Unbind(institution string) {
	ss.env.counts.unbind(ss.peer.Addr, institution)
	ss.armSignOnTimer()
}

func (ss *session) armSignOnTimer() {
	d := ss.env.opts.SignOnDeadline
	if d <= 0 {
		return
	}
	ss.signOnMu.Lock()
	defer ss.signOnMu.Unlock()
	if ss.signOnTimer != nil {
		ss.signOnTimer.Stop()
	}
	ss.signOnTimer = time.AfterFunc(d, func() {
		if ss.bound.Load() == nil {
			ss.env.metrics.refused("sign-on deadline")
			ss.abort(closedSignOnDeadline, nil)
		}
	})
}

func (ss *session) stopSignOnTimer() {
	ss.signOnMu.Lock()
	defer ss.signOnMu.Unlock()
	if ss.signOnTimer != nil {
		ss.signOnTimer.Stop()
		ss.signOnTimer = nil
	}
}

func (ss *session) run() {
	ss.env.metrics.opened()
	defer ss.finish()
	if tc, ok := ss.conn.(*tls.Conn); ok && !ss.handshake(tc) {
		return
	}
	ss.log.Info("connection opened", zap.Bool("tls", ss.peer.TLS))
	ss.armSignOnTimer()
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		ss.writeLoop()
	}()

	ss.readLoop()

	// Answer what is in flight, then let the writer flush and close.
	ss.inflight.Wait()
	close(ss.stopWorkers)
	ss.workers.Wait()
	close(ss.out)
	<-writerDone
}

func (ss *session) finish() {
	ss.stopSignOnTimer()
	ss.abort(closedServer, nil)
	ss.env.counts.release(ss.peer.Addr, ss.bound.Swap(nil))
	reason, detail := ss.closeReason()
	ss.env.metrics.closedWith(reason)
	fields := []zap.Field{zap.Stringer("reason", reason)}
	if detail != nil {
		fields = append(fields, zap.Error(detail))
	}
	ss.log.Info("connection closed", fields...)
}

// handshake completes a TLS handshake under HandshakeTimeout and records
// the verified client certificate's names.
func (ss *session) handshake(tc *tls.Conn) bool {
	ctx, cancel := context.WithTimeout(ss.ctx, ss.env.opts.HandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		ss.env.metrics.refused("tls")
		ss.setReason(closedHandshake, err)
		return false
	}
	st := tc.ConnectionState()
	if len(st.VerifiedChains) > 0 && len(st.PeerCertificates) > 0 {
		leaf := st.PeerCertificates[0]
		ss.peer.TLS = true
		if leaf.Subject.CommonName != "" {
			ss.peer.CertNames = append(ss.peer.CertNames, leaf.Subject.CommonName)
		}
		ss.peer.CertNames = append(ss.peer.CertNames, leaf.DNSNames...)
	}
	return true
}

// recovered logs and counts a recovered panic. The value and the stack
// pass through card.Scrub: no PAN or national ID reaches the log.
func (ss *session) recovered(where string, v any) {
	ss.env.metrics.panicked(where)
	ss.log.Error("panic recovered: this connection closes, the others go on", zap.String("where", where),
		zap.String("panic", card.Scrub(fmt.Sprint(v))), zap.String("stack", card.Scrub(string(debug.Stack()))))
}

func (ss *session) readLoop() {
	defer func() {
		if v := recover(); v != nil {
			ss.recovered("read", v)
			ss.setReason(closedPanic, nil)
		}
	}()
	opts := ss.env.opts
	h := ss.env.h
	br := bufio.NewReaderSize(ss.conn, 8192)
	bad := 0
	for {
		if ss.draining.Load() {
			return
		}
		// Wait for a frame's first byte up to the idle timeout, then give
		// the whole frame FrameTimeout: a trickling peer is cut off. The
		// deadlines bound reads from the connection: bytes already
		// buffered (pipelined frames) need none.
		if br.Buffered() == 0 {
			ss.conn.SetReadDeadline(time.Now().Add(opts.IdleTimeout))
			if ss.draining.Load() { // drain may have set its deadline before ours
				return
			}
			if _, err := br.Peek(1); err != nil {
				ss.readFailed(err, closedIdle)
				return
			}
		}
		if !frameBuffered(br) {
			ss.conn.SetReadDeadline(time.Now().Add(opts.FrameTimeout))
		}
		frame, err := iso.ReadFrame(br, nil)
		if err != nil {
			if errors.Is(err, iso.ErrEmptyFrame) {
				if bad = ss.badFrame(bad, err); bad < 0 {
					return
				}
				continue
			}
			ss.readFailed(err, closedFrameTimeout)
			return
		}
		start := time.Now()
		msg, derr := iso.Decode(frame)
		if !iso.Recovered(msg) {
			// Decision 1: no answer; counted; MaxBadFrames in a row close.
			if bad = ss.badFrame(bad, derr); bad < 0 {
				return
			}
			continue
		}
		bad = 0
		req := &Request{Msg: msg, Raw: frame, Err: derr, Start: start}
		switch msg.MTI {
		case iso.MTINetworkRequest:
			// In the read loop, so that a sign-on binds the connection
			// before the next request is read.
			resp, p := h.NetworkManagement(req, ss.partner(), ss.peer, ss)
			ss.rebind(p)
			ss.send(req, resp)
			if resp.Close {
				ss.drain(closedSignOnRefused)
			}
		case iso.MTIFinancialRequest, iso.MTIFileUpdate:
			select {
			case ss.sem <- struct{}{}:
			case <-ss.ctx.Done():
				return
			}
			ss.inflight.Add(1)
			j := inquiryJob{req, ss.partner()}
			select {
			case ss.jobs <- j: // an idle worker takes it
			default:
				ss.workers.Add(1)
				go ss.worker(j)
			}
		default:
			resp, ok := h.WrongMTI(req, ss.partner())
			if !ok {
				ss.log.Debug("response MTI received: not answered", zap.String("mti", msg.MTI), zap.String("stan", msg.STAN))
				continue
			}
			ss.send(req, resp)
		}
	}
}

// frameBuffered reports whether a whole frame (header and message) is in
// br's buffer: reading it makes no read from the connection.
func frameBuffered(br *bufio.Reader) bool {
	if br.Buffered() < 2 {
		return false
	}
	hdr, err := br.Peek(2)
	if err != nil {
		return false
	}
	return br.Buffered() >= 2+(int(hdr[0])<<8|int(hdr[1]))
}

// rebind records the binding the handler returned.
func (ss *session) rebind(p *Partner) {
	if p == nil {
		ss.bound.Store(nil)
		return
	}
	inst := p.Institution
	ss.bound.Store(&inst)
}

// maxIdleWorkers is how many 0200 goroutines of a connection may wait idle
// for the next request.
const maxIdleWorkers = 8

// inquiryJob is one 0200 for a worker: the request and the partner the
// connection was bound to when it was read.
type inquiryJob struct {
	req *Request
	p   *Partner
}

// worker handles j, then waits for the next 0200 of the connection while
// fewer than maxIdleWorkers wait, until nothing is in flight any more and
// the connection closes.
func (ss *session) worker(j inquiryJob) {
	defer ss.workers.Done()
	for {
		ss.inquiry(j.req, j.p)
		if ss.idle.Add(1) > maxIdleWorkers {
			ss.idle.Add(-1)
			return
		}
		select {
		case j = <-ss.jobs:
			ss.idle.Add(-1)
		case <-ss.stopWorkers:
			ss.idle.Add(-1)
			return
		}
	}
}

// inquiry handles one 0200. A panic is answered 91 (audited) where it
// still can be, and closes this connection once what is in flight is
// answered; the other connections go on.
func (ss *session) inquiry(req *Request, p *Partner) {
	defer func() { <-ss.sem; ss.inflight.Done() }()
	defer func() {
		if v := recover(); v != nil {
			ss.recovered("inquiry", v)
			ss.drain(closedPanic)
			ss.answerUnavailable(req, p)
		}
	}()
	ss.send(req, ss.env.h.Request(ss.ctx, req, p))
}

func (ss *session) answerUnavailable(req *Request, p *Partner) {
	defer func() {
		if v := recover(); v != nil {
			ss.recovered("inquiry", v) // the 91 itself failed: no answer
		}
	}()
	ss.send(req, ss.env.h.Unavailable(ss.ctx, req, p, "panic recovered"))
}

// readFailed records why reading stopped. timeoutReason names a deadline
// that passed (idle between frames, or frame timeout inside one).
func (ss *session) readFailed(err error, timeoutReason closeReason) {
	switch {
	case ss.draining.Load():
	case errors.Is(err, iso.ErrFrameTooLarge):
		ss.setReason(closedTooLarge, nil)
	case errors.Is(err, os.ErrDeadlineExceeded):
		ss.setReason(timeoutReason, nil)
	case errors.Is(err, io.EOF):
		ss.setReason(closedPeer, nil)
	case errors.Is(err, io.ErrUnexpectedEOF):
		ss.setReason(closedPeerMidFrame, nil)
	case errors.Is(err, net.ErrClosed):
		ss.setReason(closedServer, nil)
	default:
		ss.setReason(closedReadError, err)
	}
}

// badFrame counts an unparseable frame; it returns the new count, or -1
// when the connection must close.
func (ss *session) badFrame(bad int, err error) int {
	bad++
	ss.env.metrics.badFrame()
	ss.log.Debug("unparseable frame", zap.Error(err), zap.Int("in_a_row", bad))
	if bad >= ss.env.opts.MaxBadFrames {
		ss.setReason(closedBadFrames, nil)
		return -1
	}
	return bad
}

// send is the edge: it packs and signs the handler's final answer in one
// step (iso.EncodeMAC), queues it for writing, and records it in the
// metrics. A nil answer (withheld) is not written.
func (ss *session) send(req *Request, resp Response) {
	m := req.Msg
	if resp.Msg == nil {
		ss.log.Debug("no answer", zap.String("mti", m.MTI), zap.String("stan", m.STAN), zap.String("decision", resp.Decision))
		return
	}
	bp := outBufs.Get().(*[]byte)
	var err error
	if resp.MACKey != nil {
		*bp, err = iso.AppendEncodeMAC((*bp)[:0], resp.Msg, resp.MACKey)
	} else {
		*bp, err = iso.AppendEncode((*bp)[:0], resp.Msg)
	}
	if err != nil {
		outBufs.Put(bp)
		// A response we cannot pack is our bug, not the partner's: log it
		// (without card data) and send nothing rather than garbage.
		ss.log.Error("cannot pack response", zap.String("mti", resp.Msg.MTI), zap.String("stan", resp.Msg.STAN), zap.Error(err))
		return
	}
	took := since(req.Start)
	inst := ""
	if p := ss.partner(); p != nil {
		inst = p.Institution
	}
	ss.env.metrics.request(metricInstitution(ss.env.h, inst, m.Institution), m, resp.Msg, took)
	if ce := ss.log.Check(zap.DebugLevel, "request"); ce != nil {
		ce.Write(zap.String("mti", m.MTI), zap.String("stan", m.STAN), zap.String("pc", m.ProcessingCode),
			zap.String("institution", m.Institution), zap.String("terminal", m.TerminalID),
			zap.String("pan", card.MaskPAN(m.PAN)), zap.String("rc", resp.Msg.ResponseCode),
			zap.String("decision", resp.Decision), zap.Duration("took", took))
	}
	ss.out <- bp
}

// outBufs holds the buffers responses are packed into: the write loop
// gives each back once written.
var outBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, 2048)
	return &b
}}

// metricInstitution keeps the institution label to configured partners, so
// that a peer cannot grow the metrics without bound.
func metricInstitution(h *Handler, bound, asked string) string {
	if bound != "" {
		return bound
	}
	if h.Partner(asked) != nil {
		return asked
	}
	return "none"
}

func (ss *session) writeLoop() {
	failed := false
	defer func() {
		if v := recover(); v != nil {
			ss.recovered("write", v)
			ss.abort(closedPanic, nil)
			for bp := range ss.out { // keep draining so that handlers never block
				outBufs.Put(bp)
			}
		}
	}()
	opts := ss.env.opts
	bw := bufio.NewWriterSize(ss.conn, 8192)
	for bp := range ss.out {
		if failed {
			outBufs.Put(bp)
			continue // keep draining so that handlers never block
		}
		// Every write to the connection gets WriteTimeout: a frame that
		// goes to the buffer only needs none.
		if bw.Available() < 2+len(*bp) {
			ss.conn.SetWriteDeadline(time.Now().Add(opts.WriteTimeout))
		}
		err := iso.WriteFrame(bw, *bp)
		outBufs.Put(bp)
		if err == nil && len(ss.out) == 0 {
			// Flush when nothing else is queued: under load, the answers
			// ready together go out in one write.
			ss.conn.SetWriteDeadline(time.Now().Add(opts.WriteTimeout))
			err = bw.Flush()
		}
		if err != nil {
			failed = true
			ss.abort(closedWriteError, err)
		}
	}
	if !failed {
		ss.conn.SetWriteDeadline(time.Now().Add(opts.WriteTimeout))
		bw.Flush()
	}
}
