package sim

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/bli/atmgw/iso"
)

// ConnOptions configure a partner connection.
type ConnOptions struct {
	Institution string // DE32 of every request
	MACKey      []byte // 16 bytes: 0200 requests carry DE64 and 0210 answers are checked
	TLS         *tls.Config
	DialTimeout time.Duration // default 5 s
}

// Conn is one partner connection to a gateway: it frames and writes
// requests, and a reader goroutine reads the answers and hands each to the
// call waiting for its STAN; answers nobody waits for are queued for Next.
type Conn struct {
	opts ConnOptions
	nc   net.Conn

	wmu sync.Mutex
	bw  *bufio.Writer

	mu      sync.Mutex
	stan    int
	waiting map[string]*Call
	queue   []*Response
	arrived chan struct{} // closed and replaced whenever queue grows
	readErr error
	done    chan struct{}
}

// Response is one frame that came back.
type Response struct {
	Msg *iso.Message // decoded (partial when DecodeErr is set)
	Raw []byte       // the message bytes (length header excluded)
	// DecodeErr is set when the frame did not decode cleanly.
	DecodeErr error
	// MACErr is set when the connection has a MAC key and a 0210's DE64 is
	// missing or wrong.
	MACErr error
	At     time.Time
}

// Call is a request waiting for its answer.
type Call struct {
	STAN string
	done chan struct{}
	resp *Response
}

// ErrClosed is returned once the connection is closed, by either side.
var ErrClosed = errors.New("connection closed")

// Dial connects to a gateway. It does not sign on.
func Dial(ctx context.Context, addr string, o ConnOptions) (*Conn, error) {
	if o.DialTimeout == 0 {
		o.DialTimeout = 5 * time.Second
	}
	if len(o.MACKey) != 0 && len(o.MACKey) != 16 {
		return nil, errors.New("MAC key must be 16 bytes (32 hex digits)")
	}
	d := &net.Dialer{Timeout: o.DialTimeout}
	var nc net.Conn
	var err error
	if o.TLS != nil {
		td := &tls.Dialer{NetDialer: d, Config: o.TLS}
		nc, err = td.DialContext(ctx, "tcp", addr)
	} else {
		nc, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot reach the gateway at %s: %w", addr, unwrapNet(err))
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	return NewConn(nc, o), nil
}

// unwrapNet drops the "dial tcp ...:" prefix that repeats the address.
func unwrapNet(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// NewConn runs the partner protocol on an established connection.
func NewConn(nc net.Conn, o ConnOptions) *Conn {
	c := &Conn{
		opts:    o,
		nc:      nc,
		bw:      bufio.NewWriter(nc),
		waiting: map[string]*Call{},
		arrived: make(chan struct{}),
		done:    make(chan struct{}),
	}
	go c.readLoop()
	return c
}

// MACKey is the connection's MAC key (nil: none).
func (c *Conn) MACKey() []byte { return c.opts.MACKey }

func (c *Conn) readLoop() {
	defer close(c.done)
	br := bufio.NewReader(c.nc)
	for {
		frame, err := iso.ReadFrame(br, nil)
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			for _, call := range c.waiting {
				close(call.done)
			}
			c.waiting = map[string]*Call{}
			close(c.arrived)
			c.arrived = make(chan struct{})
			c.mu.Unlock()
			return
		}
		r := &Response{Raw: frame, At: time.Now()}
		r.Msg, r.DecodeErr = iso.Decode(frame)
		if r.Msg == nil {
			r.Msg = &iso.Message{}
		}
		if key := c.opts.MACKey; key != nil && r.Msg.MTI == "0210" {
			if len(r.Msg.MAC) == 0 {
				r.MACErr = errors.New("the answer carries no MAC (DE64)")
			} else if err := iso.VerifyMAC(frame, key); err != nil {
				r.MACErr = fmt.Errorf("the answer's MAC (DE64) is wrong: %w", err)
			}
		}
		if key := c.opts.MACKey; key != nil && r.Msg.MTI == iso.MTIFileUpdateResp {
			if len(r.Msg.MAC2) == 0 {
				r.MACErr = errors.New("the answer carries no MAC (DE128)")
			} else if err := iso.VerifyMAC(frame, key); err != nil {
				r.MACErr = fmt.Errorf("the answer's MAC (DE128) is wrong: %w", err)
			}
		}
		c.mu.Lock()
		if call, ok := c.waiting[r.Msg.STAN]; ok && r.Msg.STAN != "" {
			delete(c.waiting, r.Msg.STAN)
			call.resp = r
			close(call.done)
		} else {
			c.queue = append(c.queue, r)
			close(c.arrived)
			c.arrived = make(chan struct{})
		}
		c.mu.Unlock()
	}
}

// NextSTAN returns the next DE11: 000001 to 999999, then 000001 again,
// skipping STANs still awaited.
func (c *Conn) NextSTAN() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		c.stan = c.stan%999999 + 1
		s := fmt.Sprintf("%06d", c.stan)
		if _, busy := c.waiting[s]; !busy {
			return s
		}
	}
}

// SetSTAN makes the next STAN n+1 (scenarios use it to test the wrap).
func (c *Conn) SetSTAN(n int) {
	c.mu.Lock()
	c.stan = n % 1000000
	c.mu.Unlock()
}

// Expect registers interest in the answer with a STAN, before the request
// is written, so that a fast answer is not missed.
func (c *Conn) Expect(stan string) *Call {
	call := &Call{STAN: stan, done: make(chan struct{})}
	c.mu.Lock()
	if c.readErr != nil {
		close(call.done)
	} else {
		c.waiting[stan] = call
	}
	c.mu.Unlock()
	return call
}

// Forget gives up on a call (its answer, if it comes, goes to the queue).
func (c *Conn) Forget(call *Call) {
	c.mu.Lock()
	if c.waiting[call.STAN] == call {
		delete(c.waiting, call.STAN)
	}
	c.mu.Unlock()
}

// Wait waits for a call's answer until ctx ends.
func (c *Conn) Wait(ctx context.Context, call *Call) (*Response, error) {
	select {
	case <-call.done:
		if call.resp == nil {
			return nil, c.closedErr()
		}
		return call.resp, nil
	case <-ctx.Done():
		c.Forget(call)
		return nil, fmt.Errorf("no answer to STAN %s: %w", call.STAN, ctx.Err())
	}
}

func (c *Conn) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.readErr == nil {
		return ErrClosed
	}
	if errors.Is(c.readErr, net.ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("%w: %v", ErrClosed, c.readErr)
}

// MACMode says how WriteMessage sets DE64.
type MACMode int

const (
	MACAuto  MACMode = iota // DE64 on 0200 when the connection has a key
	MACNone                 // never DE64
	MACWrong                // DE64 present but not the right MAC
)

// Encode packs a message, with DE64 per mode (DE128 for an 0302, whose
// fields run past DE64). The MAC covers every byte before it
// (docs/interface.md, sections 7 and 11).
func (c *Conn) Encode(m *iso.Message, mode MACMode) ([]byte, error) {
	key := c.opts.MACKey
	sign := false
	mac := &m.MAC
	if m.MTI == iso.MTIFileUpdate {
		mac = &m.MAC2
	}
	switch mode {
	case MACAuto:
		sign = key != nil && (m.MTI == "0200" || m.MTI == iso.MTIFileUpdate)
		if sign {
			*mac = make([]byte, 8)
		} else {
			*mac = nil
		}
	case MACNone:
		*mac = nil
	case MACWrong:
		*mac = make([]byte, 8)
		sign = true
		if key == nil {
			key = []byte("0123456789ABCDEF")
		}
	}
	b, err := iso.Encode(m)
	if err != nil {
		return nil, err
	}
	if sign {
		if err := iso.SignMAC(b, key); err != nil {
			return nil, err
		}
		if mode == MACWrong {
			// Change the last hex digit to another one.
			if b[len(b)-1] == '0' {
				b[len(b)-1] = '1'
			} else {
				b[len(b)-1] = '0'
			}
		}
		*mac, _ = decodeHexTail(b)
	}
	return b, nil
}

func decodeHexTail(b []byte) ([]byte, error) {
	if len(b) < 16 {
		return nil, errors.New("short")
	}
	out := make([]byte, 8)
	for i := range 8 {
		v, err := strconv.ParseUint(string(b[len(b)-16+2*i:len(b)-14+2*i]), 16, 8)
		if err != nil {
			return nil, err
		}
		out[i] = byte(v)
	}
	return out, nil
}

// WriteFrame writes one message with its 2-byte length header.
func (c *Conn) WriteFrame(msg []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := iso.WriteFrame(c.bw, msg); err != nil {
		return err
	}
	return c.bw.Flush()
}

// WriteRaw writes bytes as they are (no header added): malformed frames.
func (c *Conn) WriteRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.bw.Write(b); err != nil {
		return err
	}
	return c.bw.Flush()
}

// Exchange writes a packed message whose answer will carry stan and waits
// for the answer.
func (c *Conn) Exchange(ctx context.Context, stan string, msg []byte) (*Response, error) {
	call := c.Expect(stan)
	if err := c.WriteFrame(msg); err != nil {
		c.Forget(call)
		return nil, err
	}
	return c.Wait(ctx, call)
}

// Do sends a request (DE11 and DE32 filled in when empty, DE64 per the
// connection's key) and waits for its answer.
func (c *Conn) Do(ctx context.Context, m *iso.Message) (*Response, error) {
	if m.STAN == "" {
		m.STAN = c.NextSTAN()
	}
	if m.Institution == "" {
		m.Institution = c.opts.Institution
	}
	b, err := c.Encode(m, MACAuto)
	if err != nil {
		return nil, err
	}
	return c.Exchange(ctx, m.STAN, b)
}

// Next returns the next answer no call was waiting for (in arrival order),
// waiting until ctx ends.
func (c *Conn) Next(ctx context.Context) (*Response, error) {
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			r := c.queue[0]
			c.queue = c.queue[1:]
			c.mu.Unlock()
			return r, nil
		}
		if c.readErr != nil {
			c.mu.Unlock()
			return nil, c.closedErr()
		}
		arrived := c.arrived
		c.mu.Unlock()
		select {
		case <-arrived:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Closed is closed when the connection's reader has stopped (the peer
// closed it, or Close was called).
func (c *Conn) Closed() <-chan struct{} { return c.done }

// Close closes the connection and waits for its reader to stop.
func (c *Conn) Close() error {
	err := c.nc.Close()
	<-c.done
	return err
}

// NetworkRequest builds an 0800 with a network management code.
func NetworkRequest(code string, now time.Time) *iso.Message {
	return &iso.Message{MTI: "0800", TransmissionTime: now.UTC().Format("0102150405"), NetworkCode: code}
}

// Network management codes (DE70).
const (
	SignOnCode  = "001"
	SignOffCode = "002"
	EchoCode    = "301"
)

// Network sends an 0800 with a code and returns the 0810's response code.
func (c *Conn) Network(ctx context.Context, code string) (*Response, error) {
	return c.Do(ctx, NetworkRequest(code, time.Now()))
}

// SignOn signs the connection on as its institution; an answer other than
// 00 is an error that names the code.
func (c *Conn) SignOn(ctx context.Context) error {
	r, err := c.Network(ctx, SignOnCode)
	if err != nil {
		return fmt.Errorf("sign-on: %w", err)
	}
	if rc := r.Msg.ResponseCode; rc != "00" {
		return &SignOnError{Institution: c.opts.Institution, Code: rc}
	}
	return nil
}

// SignOnError is a sign-on the gateway refused.
type SignOnError struct {
	Institution string
	Code        string
}

func (e *SignOnError) Error() string {
	return fmt.Sprintf("sign-on as institution %s refused: %s %s", e.Institution, e.Code, iso.Describe(e.Code))
}
