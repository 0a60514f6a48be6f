package bench

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokeeper/gokeeper/jute"
)

// Errors returned by the load generator's connections.
var (
	// ErrHandshake means the server refused or garbled the session
	// handshake.
	ErrHandshake = errors.New("bench: session handshake failed")
	// ErrOutOfOrder means a reply arrived for an xid other than the oldest
	// one in flight: ZooKeeper answers a session's requests in order.
	ErrOutOfOrder = errors.New("bench: reply out of order")
	// ErrFrame means the server sent a frame with an impossible length.
	ErrFrame = errors.New("bench: bad frame")
	// ErrConnClosed means the connection closed with requests in flight.
	ErrConnClosed = errors.New("bench: connection closed")
)

// maxReply bounds a reply frame; getChildren on a 10k-child parent is
// well under it.
const maxReply = 4 * jute.DefaultMaxBuffer

// connBuf is the size of a Conn's read and write buffers: a window of
// requests or replies fits, a larger reply is read straight into its own
// slice, and session churn does not pay for big buffers per connection.
const connBuf = 16 << 10

// sessionTimeoutMs is the session timeout the generator asks for.
const sessionTimeoutMs = 30000

// Reply is a reply handed to a synchronous caller.
type Reply struct {
	// Zxid is the reply header's zxid.
	Zxid int64
	// Err is the reply header's error code.
	Err jute.Code
	// Body is a copy of the reply body.
	Body []byte
}

// pending is one request in flight on a Conn.
type pending struct {
	xid   int32
	start int64        // ns since the Conn's base time
	done  chan<- Reply // nil on the hot path: the reply is only timed
}

// Conn is one pipelined ZooKeeper session: any number of goroutines may
// send (sends are serialized), one reader goroutine matches replies to
// requests in order, records their latency in Hist and counts errors.
// Conn speaks the protocol with package jute and allocates nothing per
// request on the pipelined path.
type Conn struct {
	nc        net.Conn
	br        *bufio.Reader
	base      time.Time
	sessionID int64

	// window holds the requests in flight, oldest first; its capacity is
	// the pipelining depth.
	window chan pending

	wmu struct {
		sync.Mutex
		bw  *bufio.Writer
		xid int32
		buf []byte
	}

	// onEvent, if set before the first request, receives every watch
	// notification on the reader goroutine.
	onEvent func(typ jute.EventType, path []byte, at int64)

	// Completed counts replies; Hist and Errors are written only by the
	// reader goroutine and may be read after Close returns.
	Completed atomic.Int64
	Hist      Histogram
	Errors    map[jute.Code]int64

	readerDone chan struct{}
	readErr    error
}

// Dial connects to addr, opens a new session and starts the reader. depth
// is the number of requests that may be in flight at once (at least 1).
func Dial(addr string, depth int, onEvent func(typ jute.EventType, path []byte, at int64)) (*Conn, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	c := &Conn{
		nc:         nc,
		br:         bufio.NewReaderSize(nc, connBuf),
		base:       time.Now(),
		window:     make(chan pending, max(depth, 1)),
		onEvent:    onEvent,
		Errors:     make(map[jute.Code]int64),
		readerDone: make(chan struct{}),
	}
	c.wmu.bw = bufio.NewWriterSize(nc, connBuf)
	if err := c.handshake(); err != nil {
		nc.Close()
		return nil, err
	}
	go c.readLoop()
	return c, nil
}

// handshake sends a ConnectRequest for a new session and reads the
// ConnectResponse.
func (c *Conn) handshake() error {
	req := jute.ConnectRequest{TimeOut: sessionTimeoutMs, Passwd: make([]byte, 16)}
	b := make([]byte, 4, 64)
	b = req.Encode(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.nc.SetDeadline(time.Time{})
	if _, err := c.nc.Write(b); err != nil {
		return fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	body, err := c.readFrame(nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	var resp jute.ConnectResponse
	d := jute.NewDecoder(body, maxReply)
	resp.ProtocolVersion = d.Int()
	resp.TimeOut = d.Int()
	resp.SessionId = d.Long()
	if d.Err() != nil || resp.SessionId == 0 {
		return fmt.Errorf("%w: response of %d bytes, session 0x%x", ErrHandshake, len(body), resp.SessionId)
	}
	c.sessionID = resp.SessionId
	return nil
}

// SessionID returns the session's id.
func (c *Conn) SessionID() int64 { return c.sessionID }

// now returns nanoseconds since the Conn was dialed (monotonic).
func (c *Conn) now() int64 { return int64(time.Since(c.base)) }

// readFrame reads one length-prefixed frame into buf's storage.
func (c *Conn) readFrame(buf []byte) ([]byte, error) {
	var lb [4]byte
	if _, err := io.ReadFull(c.br, lb[:]); err != nil {
		return nil, err
	}
	n := int(int32(binary.BigEndian.Uint32(lb[:])))
	if n < 16 && buf != nil || n < 0 || n > maxReply {
		return nil, fmt.Errorf("%w: length %d", ErrFrame, n)
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, err := io.ReadFull(c.br, buf)
	return buf, err
}

// readLoop matches replies to the oldest request in flight until the
// connection closes.
func (c *Conn) readLoop() {
	defer close(c.readerDone)
	buf := make([]byte, 0, 4096)
	for {
		b, err := c.readFrame(buf[:0])
		if err != nil {
			c.readErr = err
			c.failPending()
			return
		}
		if cap(b) > cap(buf) {
			buf = b
		}
		at := c.now()
		xid := int32(binary.BigEndian.Uint32(b[0:4]))
		zxid := int64(binary.BigEndian.Uint64(b[4:12]))
		code := jute.Code(int32(binary.BigEndian.Uint32(b[12:16])))
		switch xid {
		case jute.XidNotification:
			if c.onEvent != nil && len(b) >= 28 {
				typ := jute.EventType(int32(binary.BigEndian.Uint32(b[16:20])))
				c.onEvent(typ, b[28:], at)
			}
			continue
		case jute.XidPing:
			continue
		}
		var p pending
		select {
		case p = <-c.window:
		default:
			c.readErr = fmt.Errorf("%w: xid %d with nothing in flight", ErrOutOfOrder, xid)
			c.nc.Close()
			c.failPending()
			return
		}
		if p.xid != xid {
			c.readErr = fmt.Errorf("%w: xid %d, expected %d", ErrOutOfOrder, xid, p.xid)
			c.nc.Close()
			c.failPending()
			return
		}
		if p.done != nil {
			p.done <- Reply{Zxid: zxid, Err: code, Body: append([]byte(nil), b[16:]...)}
		} else {
			c.Hist.Record(at - p.start)
			if code != jute.CodeOK {
				c.Errors[code]++
			}
			c.Completed.Add(1)
		}
	}
}

// failPending answers every synchronous caller still waiting with
// connection loss.
func (c *Conn) failPending() {
	for {
		select {
		case p := <-c.window:
			if p.done != nil {
				p.done <- Reply{Err: jute.CodeConnectionLoss}
			} else {
				c.Errors[jute.CodeConnectionLoss]++
			}
		default:
			return
		}
	}
}

// encoder appends one request body to a frame being built and says which
// op it is. The load generator's workers implement it, so the hot path
// converts a pointer to an interface and allocates nothing.
type encoder interface {
	encode(b []byte) (jute.OpCode, []byte)
}

// encodeFunc adapts a function to encoder for one-off requests.
type encodeFunc func(b []byte) (jute.OpCode, []byte)

func (f encodeFunc) encode(b []byte) (jute.OpCode, []byte) { return f(b) }

// send queues one request: a 4-byte length, the RequestHeader, then the
// body e appends. It blocks while the window is full, flushing what is
// buffered first so the server can answer it. When flush is set the
// request is written out at once. done, if not nil, receives the reply;
// otherwise the reply is only timed and counted.
func (c *Conn) send(e encoder, done chan<- Reply, flush bool) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wmu.xid++
	if c.wmu.xid <= 0 {
		c.wmu.xid = 1
	}
	p := pending{xid: c.wmu.xid, done: done}
	select {
	case <-c.readerDone:
		return fmt.Errorf("%w: %v", ErrConnClosed, c.readErr)
	default:
	}
	p.start = c.now()
	select {
	case c.window <- p:
	default:
		if err := c.wmu.bw.Flush(); err != nil {
			return err
		}
		// NB: time the request from when it could be sent, not from
		// when the generator wanted to send it (closed-loop load).
		p.start = c.now()
		select {
		case c.window <- p:
		case <-c.readerDone:
			return fmt.Errorf("%w: %v", ErrConnClosed, c.readErr)
		}
	}
	b := c.wmu.buf[:0]
	b = append(b, 0, 0, 0, 0)
	b = jute.AppendInt(b, p.xid)
	b = append(b, 0, 0, 0, 0)
	op, b := e.encode(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	binary.BigEndian.PutUint32(b[8:], uint32(op))
	c.wmu.buf = b
	if _, err := c.wmu.bw.Write(b); err != nil {
		return err
	}
	if flush {
		return c.wmu.bw.Flush()
	}
	return nil
}

// Flush writes out buffered requests.
func (c *Conn) Flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.wmu.bw.Flush()
}

// Call sends one request and waits for its reply.
func (c *Conn) Call(op jute.OpCode, body func(b []byte) []byte) (Reply, error) {
	done := make(chan Reply, 1)
	e := encodeFunc(func(b []byte) (jute.OpCode, []byte) { return op, body(b) })
	if err := c.send(e, done, true); err != nil {
		return Reply{}, err
	}
	r := <-done
	return r, nil
}

// Drain waits until every request sent so far has been answered.
func (c *Conn) Drain() error {
	if err := c.Flush(); err != nil {
		return err
	}
	// A ping is answered in order with the session's other requests by
	// ZooKeeper, but not every server promises that, so wait on a real
	// request instead: exists on "/" is the cheapest.
	_, err := c.Call(jute.OpExists, func(b []byte) []byte {
		b = jute.AppendString(b, "/")
		return jute.AppendBool(b, false)
	})
	return err
}

// Close ends the session (closeSession, then the socket) and waits for
// the reader to stop.
func (c *Conn) Close() error {
	done := make(chan Reply, 1)
	e := encodeFunc(func(b []byte) (jute.OpCode, []byte) { return jute.OpCloseSession, b })
	err := c.send(e, done, true)
	if err == nil {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	}
	c.nc.Close()
	<-c.readerDone
	return err
}

// Abort closes the socket without ending the session.
func (c *Conn) Abort() {
	c.nc.Close()
	<-c.readerDone
}
