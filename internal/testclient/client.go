// Package testclient is a minimal partner client for the gateway's own
// tests: it writes frames, reads responses in a goroutine and hands them out
// by STAN, so that tests can keep several requests in flight on one
// connection. (The partner-grade client is the simulator, package sim.)
package testclient

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/bli/atmgw/iso"
)

// Client is one connection to a gateway.
type Client struct {
	conn net.Conn
	bw   *bufio.Writer
	wmu  sync.Mutex

	mu      sync.Mutex
	got     map[string]*iso.Message
	arrived *sync.Cond
	readErr error
	done    chan struct{}
}

// Dial connects to addr.
func Dial(addr string) (*Client, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return New(conn), nil
}

// DialTLS connects to addr over TLS and completes the handshake.
func DialTLS(addr string, cfg *tls.Config) (*Client, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	return New(conn), nil
}

// New makes a client of an open connection.
func New(conn net.Conn) *Client {
	c := &Client{conn: conn, bw: bufio.NewWriter(conn), got: map[string]*iso.Message{}, done: make(chan struct{})}
	c.arrived = sync.NewCond(&c.mu)
	go c.readLoop()
	return c
}

func (c *Client) readLoop() {
	defer close(c.done)
	br := bufio.NewReader(c.conn)
	for {
		frame, err := iso.ReadFrame(br, nil)
		if err == nil {
			var m *iso.Message
			m, err = iso.Decode(frame)
			if err == nil {
				c.mu.Lock()
				c.got[m.STAN] = m
				c.arrived.Broadcast()
				c.mu.Unlock()
				continue
			}
		}
		c.mu.Lock()
		c.readErr = err
		c.arrived.Broadcast()
		c.mu.Unlock()
		return
	}
}

// Send packs and writes m (signing it with key when key is set).
func (c *Client) Send(m *iso.Message, key []byte) error {
	if key != nil {
		m.MAC = make([]byte, 8)
	}
	b, err := iso.Encode(m)
	if err != nil {
		return err
	}
	if key != nil {
		if err := iso.SignMAC(b, key); err != nil {
			return err
		}
	}
	return c.SendRaw(b)
}

// SendRaw writes b framed with its length.
func (c *Client) SendRaw(b []byte) error {
	var hdr [2]byte
	binary.BigEndian.PutUint16(hdr[:], uint16(len(b)))
	return c.SendBytes(append(hdr[:], b...))
}

// SendBytes writes b as it is (no framing): for broken frames.
func (c *Client) SendBytes(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.bw.Write(b); err != nil {
		return err
	}
	return c.bw.Flush()
}

// ErrTimeout is returned by Await when no response came in time.
var ErrTimeout = errors.New("testclient: no response in time")

// Await waits for the response with the given STAN.
func (c *Client) Await(stan string, timeout time.Duration) (*iso.Message, error) {
	deadline := time.Now().Add(timeout)
	t := time.AfterFunc(timeout, func() { c.mu.Lock(); c.arrived.Broadcast(); c.mu.Unlock() })
	defer t.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if m, ok := c.got[stan]; ok {
			delete(c.got, stan)
			return m, nil
		}
		if c.readErr != nil {
			return nil, fmt.Errorf("connection: %w", c.readErr)
		}
		if !time.Now().Before(deadline) {
			return nil, ErrTimeout
		}
		c.arrived.Wait()
	}
}

// Do sends m and waits for its response.
func (c *Client) Do(m *iso.Message, key []byte, timeout time.Duration) (*iso.Message, error) {
	if err := c.Send(m, key); err != nil {
		return nil, err
	}
	return c.Await(m.STAN, timeout)
}

// Closed waits until the gateway closed the connection, or timeout.
func (c *Client) Closed(timeout time.Duration) bool {
	select {
	case <-c.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// Close closes the connection and waits for the reader.
func (c *Client) Close() error {
	err := c.conn.Close()
	<-c.done
	return err
}
