// Package rawclient is a ZooKeeper client that speaks the jute wire protocol
// with no smarts of its own: it sends exactly the frames it is told to send
// (any op code, crafted request headers, raw body bytes, pipelined requests,
// handshakes with chosen fields) and records every frame the server sends
// back, so tests can compare servers byte for byte.
//
// A Client owns one net.Conn. It is not safe for concurrent use: one
// goroutine drives it. Every read has a deadline, so a test never hangs on a
// silent server.
package rawclient

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/gokeeper/gokeeper/jute"
)

// Errors returned by a Client. Each wraps one of these.
var (
	// ErrClosed means the server closed the connection (or the client did).
	ErrClosed = errors.New("rawclient: connection closed")
	// ErrTimeout means a read did not complete before its deadline.
	ErrTimeout = errors.New("rawclient: read timeout")
	// ErrFrameTooLarge means the server announced a frame longer than
	// MaxFrame.
	ErrFrameTooLarge = errors.New("rawclient: frame too large")
	// ErrUnexpectedXid means a reply arrived for an xid that was not in
	// flight.
	ErrUnexpectedXid = errors.New("rawclient: unexpected xid")
)

// MaxFrame bounds the length prefix the client accepts from a server: twice
// jute's default maximum buffer, which is more than any legal reply.
const MaxFrame = 2*jute.DefaultMaxBuffer + 1024

// DefaultIOTimeout is the read and write deadline used when Options leave
// IOTimeout zero.
const DefaultIOTimeout = 10 * time.Second

// ConnectOptions are the fields of the connect handshake. The zero value
// asks for a new session with protocol version 0, a zero timeout and no
// readOnly byte omitted.
type ConnectOptions struct {
	// ProtocolVersion is sent as ConnectRequest.protocolVersion.
	ProtocolVersion int32
	// LastZxidSeen is the highest zxid the client claims to have seen.
	LastZxidSeen int64
	// TimeoutMs is the requested session timeout in milliseconds.
	TimeoutMs int32
	// SessionID is 0 for a new session or an existing session's id.
	SessionID int64
	// Passwd is the session password; nil sends 16 zero bytes, as the
	// Java client does for a new session.
	Passwd []byte
	// ReadOnly is the value of the trailing readOnly byte.
	ReadOnly bool
	// OmitReadOnly leaves the trailing readOnly byte off, as clients older
	// than 3.4 do.
	OmitReadOnly bool
}

// ConnectResult is the server's answer to the handshake.
type ConnectResult struct {
	// Response holds the decoded fields; Response.ReadOnly is meaningful
	// only when ReadOnlyPresent is set.
	Response jute.ConnectResponse
	// ReadOnlyPresent reports whether the server sent the trailing
	// readOnly byte.
	ReadOnlyPresent bool
	// Raw is the frame body as received.
	Raw []byte
}

// Frame is one length-prefixed message received after the handshake.
type Frame struct {
	// Header is the reply header (xid, zxid, err).
	Header jute.ReplyHeader
	// Body is everything after the header.
	Body []byte
	// Op is the op code of the request this frame answers, looked up by
	// xid; OpNotification for watch events, OpPing for pings, OpAuth for
	// auth replies, OpSetWatches for setWatches replies (both versions use
	// xid -8), and OpError if the xid was unknown.
	Op jute.OpCode
	// Event is the decoded watch event when Header.Xid is -1.
	Event *jute.WatcherEvent
	// Record is the decoded reply body for a known op with err 0, or nil.
	Record jute.Record
	// DecodeErr is set when the body did not decode as Record.
	DecodeErr error
}

// IsEvent reports whether the frame is a watch notification.
func (f *Frame) IsEvent() bool { return f.Header.Xid == jute.XidNotification }

// Err returns the frame's error code.
func (f *Frame) Err() jute.Code { return jute.Code(f.Header.Err) }

// Client is one raw connection to a ZooKeeper server.
type Client struct {
	conn      net.Conn
	ioTimeout time.Duration
	nextXid   int32
	pending   map[int32]jute.OpCode
	frames    []Frame
	queued    []Frame
	closed    bool
	closeErr  error
	lenBuf    [4]byte
	session   ConnectResult
}

// Dial opens a TCP connection to addr without handshaking. ioTimeout bounds
// every later read and write (DefaultIOTimeout if zero).
func Dial(addr string, ioTimeout time.Duration) (*Client, error) {
	if ioTimeout <= 0 {
		ioTimeout = DefaultIOTimeout
	}
	conn, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return nil, fmt.Errorf("rawclient: dial %s: %w", addr, err)
	}
	return &Client{conn: conn, ioTimeout: ioTimeout, nextXid: 1, pending: map[int32]jute.OpCode{}}, nil
}

// Connect dials addr and performs the handshake with opts. When the server
// refuses the session (timeout 0 in the response) the Client is still
// returned, with the result, so callers can observe the refusal and the
// close that follows.
func Connect(addr string, opts ConnectOptions, ioTimeout time.Duration) (*Client, *ConnectResult, error) {
	c, err := Dial(addr, ioTimeout)
	if err != nil {
		return nil, nil, err
	}
	res, err := c.Handshake(opts)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, res, nil
}

// EncodeConnect returns the body of a ConnectRequest built from opts.
func EncodeConnect(opts ConnectOptions) []byte {
	pw := opts.Passwd
	if pw == nil {
		pw = make([]byte, 16)
	}
	req := jute.ConnectRequest{
		ProtocolVersion: opts.ProtocolVersion,
		LastZxidSeen:    opts.LastZxidSeen,
		TimeOut:         opts.TimeoutMs,
		SessionId:       opts.SessionID,
		Passwd:          pw,
		ReadOnly:        opts.ReadOnly,
	}
	b := req.Encode(nil)
	if opts.OmitReadOnly {
		b = b[:len(b)-1]
	}
	return b
}

// Handshake sends a ConnectRequest and reads the ConnectResponse.
func (c *Client) Handshake(opts ConnectOptions) (*ConnectResult, error) {
	if err := c.WriteFrame(EncodeConnect(opts)); err != nil {
		return nil, err
	}
	body, err := c.readFrame()
	if err != nil {
		return nil, err
	}
	res, err := DecodeConnectResponse(body)
	if err != nil {
		return nil, err
	}
	c.session = *res
	return res, nil
}

// DecodeConnectResponse decodes a handshake reply, with or without the
// trailing readOnly byte.
func DecodeConnectResponse(body []byte) (*ConnectResult, error) {
	res := &ConnectResult{Raw: body}
	d := jute.NewDecoder(body, 0)
	r := &res.Response
	r.ProtocolVersion = d.Int()
	r.TimeOut = d.Int()
	r.SessionId = d.Long()
	r.Passwd = d.Buffer()
	if d.Err() == nil && d.Remaining() > 0 {
		r.ReadOnly = d.Bool()
		res.ReadOnlyPresent = true
	}
	if d.Err() != nil {
		return nil, fmt.Errorf("rawclient: connect response: %w", d.Err())
	}
	if d.Remaining() != 0 {
		return nil, fmt.Errorf("rawclient: connect response: %d trailing bytes", d.Remaining())
	}
	return res, nil
}

// Session returns the last handshake result.
func (c *Client) Session() ConnectResult { return c.session }

// Close closes the connection. It is safe to call more than once.
func (c *Client) Close() error {
	if !c.closed {
		c.closed = true
		c.closeErr = ErrClosed
	}
	return c.conn.Close()
}

// Closed reports whether the connection is known to be closed, and why.
func (c *Client) Closed() (bool, error) { return c.closed, c.closeErr }

// Frames returns every frame received so far, in arrival order.
func (c *Client) Frames() []Frame { return c.frames }

// NextXid returns the xid the next Send will use.
func (c *Client) NextXid() int32 { return c.nextXid }

// WriteFrame writes body with its 4-byte length prefix.
func (c *Client) WriteFrame(body []byte) error {
	buf := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	return c.WriteRaw(append(buf, body...))
}

// WriteRaw writes b exactly as given: no length prefix is added.
func (c *Client) WriteRaw(b []byte) error {
	if c.closed {
		return c.closeErr
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.ioTimeout))
	if _, err := c.conn.Write(b); err != nil {
		c.markClosed(err)
		return c.closeErr
	}
	return nil
}

// SendHeader sends a request with a crafted header and raw body bytes. The
// op used to decode the reply is hdr.Type; the xid is not checked, so
// duplicate or special xids can be sent.
func (c *Client) SendHeader(hdr jute.RequestHeader, body []byte) error {
	b := hdr.Encode(make([]byte, 0, 8+len(body)))
	b = append(b, body...)
	if err := c.WriteFrame(b); err != nil {
		return err
	}
	op := jute.OpCode(hdr.Type)
	switch hdr.Xid {
	case jute.XidPing:
		op = jute.OpPing
	case jute.XidAuth:
		op = jute.OpAuth
	case jute.XidSetWatches:
		op = jute.OpSetWatches
	}
	c.pending[hdr.Xid] = op
	return nil
}

// Send sends op with the next xid and req as body (nil for no body), and
// returns the xid used.
func (c *Client) Send(op jute.OpCode, req jute.Record) (int32, error) {
	xid := c.nextXid
	c.nextXid++
	var body []byte
	if req != nil {
		body = req.Encode(make([]byte, 0, req.Size()))
	}
	return xid, c.SendHeader(jute.RequestHeader{Xid: xid, Type: int32(op)}, body)
}

// SendBytes sends op with the next xid and a raw body, and returns the xid.
func (c *Client) SendBytes(op jute.OpCode, body []byte) (int32, error) {
	xid := c.nextXid
	c.nextXid++
	return xid, c.SendHeader(jute.RequestHeader{Xid: xid, Type: int32(op)}, body)
}

// Call sends op and waits for its reply. The events received before the
// reply are returned with it.
func (c *Client) Call(op jute.OpCode, req jute.Record) (Frame, []Frame, error) {
	xid, err := c.Send(op, req)
	if err != nil {
		return Frame{}, nil, err
	}
	return c.Wait(xid)
}

// CallBytes is Call with a raw body.
func (c *Client) CallBytes(op jute.OpCode, body []byte) (Frame, []Frame, error) {
	xid, err := c.SendBytes(op, body)
	if err != nil {
		return Frame{}, nil, err
	}
	return c.Wait(xid)
}

// Ping sends a ping (xid -2) and waits for its reply, returning the events
// that arrived before it.
func (c *Client) Ping() (Frame, []Frame, error) {
	if err := c.SendHeader(jute.RequestHeader{Xid: jute.XidPing, Type: int32(jute.OpPing)}, nil); err != nil {
		return Frame{}, nil, err
	}
	return c.Wait(jute.XidPing)
}

// Auth sends an auth packet (xid -4) and waits for its reply.
func (c *Client) Auth(scheme string, auth []byte) (Frame, []Frame, error) {
	p := jute.AuthPacket{Type: 0, Scheme: scheme, Auth: auth}
	if err := c.SendHeader(jute.RequestHeader{Xid: jute.XidAuth, Type: int32(jute.OpAuth)}, p.Encode(nil)); err != nil {
		return Frame{}, nil, err
	}
	return c.Wait(jute.XidAuth)
}

// SetWatches sends setWatches (xid -8) and waits for its reply.
func (c *Client) SetWatches(req *jute.SetWatches) (Frame, []Frame, error) {
	if err := c.SendHeader(jute.RequestHeader{Xid: jute.XidSetWatches, Type: int32(jute.OpSetWatches)}, req.Encode(nil)); err != nil {
		return Frame{}, nil, err
	}
	return c.Wait(jute.XidSetWatches)
}

// SetWatches2 sends setWatches2 (xid -8) and waits for its reply.
func (c *Client) SetWatches2(req *jute.SetWatches2) (Frame, []Frame, error) {
	if err := c.SendHeader(jute.RequestHeader{Xid: jute.XidSetWatches, Type: int32(jute.OpSetWatches2)}, req.Encode(nil)); err != nil {
		return Frame{}, nil, err
	}
	return c.Wait(jute.XidSetWatches)
}

// CloseSession sends closeSession and waits for its reply.
func (c *Client) CloseSession() (Frame, []Frame, error) {
	return c.Call(jute.OpCloseSession, nil)
}

// Wait reads frames until the reply for xid arrives and returns it with
// the events received before it. Replies to other pipelined requests that
// arrive first are kept for later Wait calls.
func (c *Client) Wait(xid int32) (Frame, []Frame, error) {
	var events []Frame
	for i, f := range c.queued {
		if f.Header.Xid == xid {
			c.queued = append(c.queued[:i:i], c.queued[i+1:]...)
			return f, nil, nil
		}
	}
	for {
		f, err := c.Next()
		if err != nil {
			return Frame{}, events, err
		}
		switch {
		case f.IsEvent():
			events = append(events, f)
		case f.Header.Xid == xid:
			return f, events, nil
		default:
			c.queued = append(c.queued, f)
		}
	}
}

// Pending reports how many sent requests have no reply yet.
func (c *Client) Pending() int { return len(c.pending) }

// Next reads the next frame, decodes it by the op of the request it answers
// and records it.
func (c *Client) Next() (Frame, error) {
	body, err := c.readFrame()
	if err != nil {
		return Frame{}, err
	}
	f := Frame{}
	d := jute.NewDecoder(body, MaxFrame)
	f.Header.Decode(d)
	if d.Err() != nil {
		c.markClosed(fmt.Errorf("rawclient: reply header: %w", d.Err()))
		return Frame{}, c.closeErr
	}
	f.Body = d.Rest()
	if f.IsEvent() {
		f.Op = jute.OpNotification
		ev := &jute.WatcherEvent{}
		f.DecodeErr = jute.Unmarshal(f.Body, ev, MaxFrame)
		f.Event = ev
	} else {
		op, ok := c.pending[f.Header.Xid]
		if !ok {
			f.Op = jute.OpError
		} else {
			delete(c.pending, f.Header.Xid)
			f.Op = op
			if f.Header.Err == 0 {
				f.Record, f.DecodeErr = DecodeResponse(op, f.Body)
			}
		}
	}
	c.frames = append(c.frames, f)
	return f, nil
}

// Drain reads frames until the connection has been idle for idle (or is
// closed) and returns them. It is meant for tests that expect nothing more;
// use Ping to wait for events deterministically.
func (c *Client) Drain(idle time.Duration) []Frame {
	saved := c.ioTimeout
	c.ioTimeout = idle
	defer func() { c.ioTimeout = saved }()
	var out []Frame
	for {
		f, err := c.Next()
		if err != nil {
			if errors.Is(err, ErrTimeout) {
				c.closed, c.closeErr = false, nil
			}
			return out
		}
		out = append(out, f)
	}
}

// WaitClosed reads until the server closes the connection or timeout
// passes, returning the frames that arrived first and whether it closed.
func (c *Client) WaitClosed(timeout time.Duration) ([]Frame, bool) {
	saved := c.ioTimeout
	c.ioTimeout = timeout
	defer func() { c.ioTimeout = saved }()
	var out []Frame
	for {
		f, err := c.Next()
		if err != nil {
			if errors.Is(err, ErrTimeout) {
				c.closed, c.closeErr = false, nil
				return out, false
			}
			return out, true
		}
		out = append(out, f)
	}
}

func (c *Client) markClosed(err error) {
	if c.closed && c.closeErr != nil && !errors.Is(c.closeErr, ErrTimeout) {
		return
	}
	c.closed = true
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		c.closeErr = fmt.Errorf("%w: %v", ErrTimeout, err)
	case errors.Is(err, ErrClosed), errors.Is(err, ErrFrameTooLarge):
		c.closeErr = err
	default:
		c.closeErr = fmt.Errorf("%w: %v", ErrClosed, err)
	}
}

func (c *Client) readFrame() ([]byte, error) {
	if c.closed {
		return nil, c.closeErr
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(c.ioTimeout))
	if _, err := io.ReadFull(c.conn, c.lenBuf[:]); err != nil {
		c.markClosed(err)
		return nil, c.closeErr
	}
	n := int32(binary.BigEndian.Uint32(c.lenBuf[:]))
	if n < 0 || n > MaxFrame {
		c.markClosed(fmt.Errorf("%w: %d", ErrFrameTooLarge, n))
		c.conn.Close()
		return nil, c.closeErr
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.conn, body); err != nil {
		c.markClosed(err)
		return nil, c.closeErr
	}
	return body, nil
}
