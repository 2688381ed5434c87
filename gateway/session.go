package gateway

import (
	"bufio"
	"context"
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

// session is one partner connection: a read loop (this goroutine), a write
// loop, and one goroutine per 0200 being handled, at most MaxInFlight.
// Responses are written as each is ready, in any order.
type session struct {
	srv    *Server
	conn   net.Conn
	remote netip.Addr
	log    *zap.Logger

	partner atomic.Pointer[Partner] // nil until signed on

	out      chan []byte   // packed responses for the write loop
	sem      chan struct{} // in-flight slots
	inflight sync.WaitGroup

	draining  atomic.Bool
	closeOnce sync.Once
	reasonMu  sync.Mutex
	reason    string
}

func newSession(s *Server, c net.Conn, id uint64) *session {
	var remote netip.Addr
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		remote = ap.Addr().Unmap()
	}
	return &session{
		srv:    s,
		conn:   c,
		remote: remote,
		log:    s.log.With(zap.Uint64("conn", id), zap.String("remote", c.RemoteAddr().String())),
		out:    make(chan []byte, s.opts.MaxInFlight+4),
		sem:    make(chan struct{}, s.opts.MaxInFlight),
	}
}

// setReason records why the connection closes; the first reason wins.
func (ss *session) setReason(r string) {
	ss.reasonMu.Lock()
	if ss.reason == "" {
		ss.reason = r
	}
	ss.reasonMu.Unlock()
}

func (ss *session) closeReason() string {
	ss.reasonMu.Lock()
	defer ss.reasonMu.Unlock()
	return ss.reason
}

// drain makes the read loop stop taking new requests (graceful shutdown).
func (ss *session) drain() {
	ss.setReason("server shutting down")
	ss.draining.Store(true)
	ss.conn.SetReadDeadline(time.Now())
}

// abort closes the connection at once.
func (ss *session) abort(reason string) {
	ss.setReason(reason)
	ss.closeOnce.Do(func() { ss.conn.Close() })
}

func (ss *session) run() {
	ss.log.Info("connection opened")
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
	ss.abort("closed")
	fields := []zap.Field{zap.String("reason", ss.closeReason())}
	if p := ss.partner.Load(); p != nil {
		fields = append(fields, zap.String("institution", p.Institution))
	}
	ss.log.Info("connection closed", fields...)
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
		ss.conn.SetReadDeadline(time.Now().Add(opts.IdleTimeout))
		if ss.draining.Load() { // drain may have set its deadline before ours
			return
		}
		frame, err := iso.ReadFrame(br, nil)
		if err != nil {
			switch {
			case ss.draining.Load():
			case errors.Is(err, iso.ErrFrameTooLarge):
				ss.setReason("frame length over 4096")
			case errors.Is(err, os.ErrDeadlineExceeded):
				ss.setReason("idle timeout")
			case errors.Is(err, io.EOF):
				ss.setReason("peer closed")
			case errors.Is(err, io.ErrUnexpectedEOF):
				ss.setReason("peer closed inside a frame")
			case errors.Is(err, net.ErrClosed):
				ss.setReason("connection closed")
			case errors.Is(err, iso.ErrEmptyFrame):
				// A zero-length frame is an unparseable frame (decision 1).
				bad++
				if bad >= opts.MaxBadFrames {
					ss.setReason("unparseable frames in a row")
					return
				}
				continue
			default:
				ss.setReason("read error: " + err.Error())
			}
			return
		}
		msg, derr := iso.Decode(frame)
		if !iso.Recovered(msg) {
			// Decision 1: no answer; counted; MaxBadFrames in a row close.
			bad++
			ss.log.Debug("unparseable frame", zap.Error(derr), zap.Int("in_a_row", bad))
			if bad >= opts.MaxBadFrames {
				ss.setReason("unparseable frames in a row")
				return
			}
			continue
		}
		bad = 0
		req := &Request{Msg: msg, Raw: frame, Err: derr}
		start := time.Now()
		switch msg.MTI {
		case iso.MTINetworkRequest:
			resp, p := h.NetworkManagement(req, ss.partner.Load(), ss.remote)
			ss.partner.Store(p)
			ss.send(req, resp, start)
		case iso.MTIFinancialRequest:
			select {
			case ss.sem <- struct{}{}:
			case <-ss.srv.ctx.Done():
				return
			}
			ss.inflight.Add(1)
			p := ss.partner.Load()
			go func() {
				defer func() { <-ss.sem; ss.inflight.Done() }()
				ctx, cancel := context.WithCancel(ss.srv.ctx)
				resp := h.Inquiry(ctx, req, p)
				cancel()
				ss.send(req, resp, start)
			}()
		default:
			resp, ok := h.WrongMTI(req, ss.partner.Load())
			if !ok {
				ss.log.Debug("response MTI received: not answered", zap.String("mti", msg.MTI), zap.String("stan", msg.STAN))
				continue
			}
			ss.send(req, resp, start)
		}
	}
}

// send packs a response (signing it when keyed) and queues it for writing.
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
	if ce := ss.log.Check(zap.DebugLevel, "request"); ce != nil {
		m := req.Msg
		ce.Write(zap.String("mti", m.MTI), zap.String("stan", m.STAN), zap.String("pc", m.ProcessingCode),
			zap.String("institution", m.Institution), zap.String("terminal", m.TerminalID),
			zap.String("pan", card.MaskPAN(m.PAN)), zap.String("rc", resp.Msg.ResponseCode),
			zap.String("decision", resp.Decision), zap.Duration("took", time.Since(start)))
	}
	ss.out <- b
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
			ss.abort("write error: " + err.Error())
		}
	}
	if !failed {
		bw.Flush()
	}
}
