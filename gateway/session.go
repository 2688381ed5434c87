package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/iso"
)

// Close reasons, also the label values of atmgw_connections_closed_total.
const (
	reasonShutdown     = "shutdown"
	reasonClosed       = "server closed"
	reasonTooLarge     = "frame over 4096"
	reasonIdle         = "idle timeout"
	reasonFrameTimeout = "frame timeout"
	reasonPeerClosed   = "peer closed"
	reasonPeerMidFrame = "peer closed inside a frame"
	reasonBadFrames    = "unparseable frames"
	reasonReadError    = "read error"
	reasonWriteError   = "write error"
	reasonHandshake    = "tls handshake failed"
)

// session is one partner connection: a read loop (this goroutine), a write
// loop, and one goroutine per 0200 being handled, at most MaxInFlight.
// Responses are written as each is ready, in any order.
type session struct {
	srv  *Server
	conn net.Conn
	peer Peer
	log  *zap.Logger

	// bound is the institution the connection signed on as (nil until
	// then). The partner is looked up on each request, so that a Reload
	// applies to open connections.
	bound atomic.Pointer[string]

	out      chan []byte   // packed responses for the write loop
	sem      chan struct{} // in-flight slots
	inflight sync.WaitGroup

	draining  atomic.Bool
	closeOnce sync.Once
	reasonMu  sync.Mutex
	reason    string
	detail    error
}

func newSession(s *Server, c net.Conn, id uint64) *session {
	var addr netip.Addr
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		addr = ap.Addr().Unmap()
	}
	return &session{
		srv:  s,
		conn: c,
		peer: Peer{Addr: addr},
		log:  s.log.With(zap.Uint64("conn", id), zap.String("remote", c.RemoteAddr().String())),
		out:  make(chan []byte, s.opts.MaxInFlight+4),
		sem:  make(chan struct{}, s.opts.MaxInFlight),
	}
}

// setReason records why the connection closes; the first reason wins.
func (ss *session) setReason(r string, detail error) {
	ss.reasonMu.Lock()
	if ss.reason == "" {
		ss.reason, ss.detail = r, detail
	}
	ss.reasonMu.Unlock()
}

func (ss *session) closeReason() (string, error) {
	ss.reasonMu.Lock()
	defer ss.reasonMu.Unlock()
	return ss.reason, ss.detail
}

// drain makes the read loop stop taking new requests (graceful shutdown).
func (ss *session) drain() {
	ss.setReason(reasonShutdown, nil)
	ss.draining.Store(true)
	ss.conn.SetReadDeadline(time.Now())
}

// abort closes the connection at once.
func (ss *session) abort(reason string, detail error) {
	ss.setReason(reason, detail)
	ss.closeOnce.Do(func() { ss.conn.Close() })
}

// partner is the partner the connection is bound to now (nil: none).
func (ss *session) partner() *Partner {
	inst := ss.bound.Load()
	if inst == nil {
		return nil
	}
	return ss.srv.handler.Partner(*inst)
}

func (ss *session) run() {
	metrics := ss.srv.opts.Metrics
	metrics.opened()
	if tc, ok := ss.conn.(*tls.Conn); ok && !ss.handshake(tc) {
		ss.finish()
		return
	}
	ss.log.Info("connection opened", zap.Bool("tls", ss.peer.TLS))
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		ss.writeLoop()
	}()

	ss.readLoop()

	// Answer what is in flight, then let the writer flush and close.
	ss.inflight.Wait()
	close(ss.out)
	<-writerDone
	ss.finish()
}

func (ss *session) finish() {
	ss.abort(reasonClosed, nil)
	if inst := ss.bound.Swap(nil); inst != nil {
		ss.srv.unbind(*inst)
	}
	reason, detail := ss.closeReason()
	ss.srv.opts.Metrics.closedWith(reason)
	fields := []zap.Field{zap.String("reason", reason)}
	if detail != nil {
		fields = append(fields, zap.Error(detail))
	}
	ss.log.Info("connection closed", fields...)
}

// handshake completes a TLS handshake under HandshakeTimeout and records
// the verified client certificate's names.
func (ss *session) handshake(tc *tls.Conn) bool {
	ctx, cancel := context.WithTimeout(ss.srv.ctx, ss.srv.opts.HandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		ss.srv.opts.Metrics.refused("tls")
		ss.setReason(reasonHandshake, err)
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

func (ss *session) readLoop() {
	opts := &ss.srv.opts
	h := ss.srv.handler
	br := bufio.NewReaderSize(ss.conn, 8192)
	bad := 0
	for {
		if ss.draining.Load() {
			return
		}
		// Wait for a frame's first byte up to the idle timeout, then give
		// the whole frame FrameTimeout: a trickling peer is cut off.
		ss.conn.SetReadDeadline(time.Now().Add(opts.IdleTimeout))
		if ss.draining.Load() { // drain may have set its deadline before ours
			return
		}
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				ss.readFailed(err, reasonIdle)
				return
			}
		}
		ss.conn.SetReadDeadline(time.Now().Add(opts.FrameTimeout))
		frame, err := iso.ReadFrame(br, nil)
		if err != nil {
			if errors.Is(err, iso.ErrEmptyFrame) {
				if bad = ss.badFrame(bad, err); bad < 0 {
					return
				}
				continue
			}
			ss.readFailed(err, reasonFrameTimeout)
			return
		}
		msg, derr := iso.Decode(frame)
		if !iso.Recovered(msg) {
			// Decision 1: no answer; counted; MaxBadFrames in a row close.
			if bad = ss.badFrame(bad, derr); bad < 0 {
				return
			}
			continue
		}
		bad = 0
		req := &Request{Msg: msg, Raw: frame, Err: derr}
		start := time.Now()
		switch msg.MTI {
		case iso.MTINetworkRequest:
			ss.netmgmt(req, start)
		case iso.MTIFinancialRequest:
			select {
			case ss.sem <- struct{}{}:
			case <-ss.srv.ctx.Done():
				return
			}
			ss.inflight.Add(1)
			p := ss.partner()
			go func() {
				defer func() { <-ss.sem; ss.inflight.Done() }()
				ctx, cancel := context.WithCancel(ss.srv.ctx)
				resp := h.Inquiry(ctx, req, p)
				cancel()
				ss.send(req, resp, start)
			}()
		default:
			resp, ok := h.WrongMTI(req, ss.partner())
			if !ok {
				ss.log.Debug("response MTI received: not answered", zap.String("mti", msg.MTI), zap.String("stan", msg.STAN))
				continue
			}
			ss.send(req, resp, start)
		}
	}
}

// readFailed records why reading stopped. timeoutReason names a deadline
// that passed (idle between frames, or frame timeout inside one).
func (ss *session) readFailed(err error, timeoutReason string) {
	switch {
	case ss.draining.Load():
	case errors.Is(err, iso.ErrFrameTooLarge):
		ss.setReason(reasonTooLarge, nil)
	case errors.Is(err, os.ErrDeadlineExceeded):
		ss.setReason(timeoutReason, nil)
	case errors.Is(err, io.EOF):
		ss.setReason(reasonPeerClosed, nil)
	case errors.Is(err, io.ErrUnexpectedEOF):
		ss.setReason(reasonPeerMidFrame, nil)
	case errors.Is(err, net.ErrClosed):
		ss.setReason(reasonClosed, nil)
	default:
		ss.setReason(reasonReadError, err)
	}
}

// badFrame counts an unparseable frame; it returns the new count, or -1
// when the connection must close.
func (ss *session) badFrame(bad int, err error) int {
	bad++
	ss.srv.opts.Metrics.badFrame()
	ss.log.Debug("unparseable frame", zap.Error(err), zap.Int("in_a_row", bad))
	if bad >= ss.srv.opts.MaxBadFrames {
		ss.setReason(reasonBadFrames, nil)
		return -1
	}
	return bad
}

// netmgmt answers an 0800 in the read loop, so that a sign-on binds the
// connection before the next request is read.
func (ss *session) netmgmt(req *Request, start time.Time) {
	current := ss.partner()
	resp, p := ss.srv.handler.NetworkManagement(req, current, ss.peer)
	if p != current {
		if p != nil && !ss.srv.bind(p.Institution) {
			ss.srv.opts.Metrics.refused("partner")
			resp.Msg.ResponseCode = iso.RCDoNotHonour
			resp.Decision = "sign-on: too many connections of this partner"
			p = current
		} else {
			if old := ss.bound.Swap(nil); old != nil {
				ss.srv.unbind(*old)
			}
			if p != nil {
				inst := p.Institution
				ss.bound.Store(&inst)
			}
		}
	}
	ss.send(req, resp, start)
}

// send packs a response (signing it when keyed), queues it for writing, and
// records it in the metrics and the audit trail.
func (ss *session) send(req *Request, resp Response, start time.Time) {
	b, err := iso.Encode(resp.Msg)
	if err == nil && resp.MACKey != nil {
		err = iso.SignMAC(b, resp.MACKey)
	}
	if err != nil {
		// A response we cannot pack is our bug, not the partner's: log it
		// (without card data) and send nothing rather than garbage.
		ss.log.Error("cannot pack response", zap.String("mti", resp.Msg.MTI), zap.String("stan", resp.Msg.STAN), zap.Error(err))
		return
	}
	took := time.Since(start)
	m := req.Msg
	inst := ""
	if p := ss.partner(); p != nil {
		inst = p.Institution
	}
	ss.srv.opts.Metrics.request(metricInstitution(ss.srv.handler, inst, m.Institution), m, resp.Msg, took)
	if ce := ss.log.Check(zap.DebugLevel, "request"); ce != nil {
		ce.Write(zap.String("mti", m.MTI), zap.String("stan", m.STAN), zap.String("pc", m.ProcessingCode),
			zap.String("institution", m.Institution), zap.String("terminal", m.TerminalID),
			zap.String("pan", card.MaskPAN(m.PAN)), zap.String("rc", resp.Msg.ResponseCode),
			zap.String("decision", resp.Decision), zap.Duration("took", took))
	}
	if a := ss.srv.opts.Auditor; a != nil && m.MTI == iso.MTIFinancialRequest {
		a.Audit(ss.srv.ctx, AuditRecord{
			Time: time.Now(), Institution: m.Institution, Terminal: m.TerminalID, STAN: m.STAN, RRN: m.RRN,
			Service: serviceLabel(m), PANHash: resp.PANHash, ResponseCode: resp.Msg.ResponseCode, Latency: took,
		})
	}
	ss.out <- b
}

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
	opts := &ss.srv.opts
	bw := bufio.NewWriterSize(ss.conn, 8192)
	failed := false
	for b := range ss.out {
		if failed {
			continue // keep draining so that handlers never block
		}
		ss.conn.SetWriteDeadline(time.Now().Add(opts.WriteTimeout))
		err := iso.WriteFrame(bw, b)
		if err == nil && len(ss.out) == 0 {
			err = bw.Flush() // flush when nothing else is queued: batches under load
		}
		if err != nil {
			failed = true
			ss.abort(reasonWriteError, err)
		}
	}
	if !failed {
		ss.conn.SetWriteDeadline(time.Now().Add(opts.WriteTimeout))
		bw.Flush()
	}
}
