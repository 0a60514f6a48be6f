package wire

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/gokeeper/gokeeper/datatree"
	"github.com/gokeeper/gokeeper/jute"
	"github.com/gokeeper/gokeeper/server"
)

// errFrameLength closes a connection whose frame length is out of range.
var errFrameLength = errors.New("wire: frame length out of range")

// conn is one client connection: a reader goroutine (serve) that decodes
// frames and hands them to the server, and a writer goroutine, started
// when there is something Flush could not write and gone once it is
// written, that sends what the server queued, many frames per write. NB:
// Flush writes at once, on the caller's goroutine, what the socket takes
// without blocking, and leaves the rest (and every blocking write) to the
// writer, so a batch of replies costs one write and no goroutine switch,
// and an idle connection has no writer.
type conn struct {
	l  *Listener
	nc net.Conn // the connection the frames travel on: tcp, or tls over it
	// tcp is the accepted socket; closing it aborts the connection at
	// once, which closing a TLS connection (a close_notify first) may not.
	tcp net.Conn
	// tls is nc on a secure port, nil on a plaintext one. NB: a TLS
	// connection has no raw descriptor: its reader keeps its goroutine
	// and buffer while idle, and every write goes through the writer.
	tls *tls.Conn
	// tlsIDs are the ids the client's certificate earned (x509), given
	// to the session once attached.
	tlsIDs []jute.Id
	raw    syscall.RawConn // nc's descriptor for Flush; nil: always the writer
	ip     string
	client *server.Client

	// withReadOnly is false for pre-3.4 clients that sent no readOnly
	// byte in their ConnectRequest; they get none back either.
	withReadOnly bool

	mu struct {
		sync.Mutex
		out     []byte // frames queued, not yet taken by a writer
		spare   []byte // an empty buffer to queue into next
		writing bool   // Flush or the writer goroutine is writing a taken buffer
		closing string // non-empty: close once out is written
		// inWrite is the length of the buffer being written while
		// writing is set: queued bytes still pinned, though not in out.
		inWrite int
		// paused is set while the reader waits for the queued output to
		// fall to Options.ReadPauseBytes before it reads more requests.
		paused bool
		// maxQueued is the most bytes ever queued at once (out+inWrite).
		maxQueued int
		writer    bool // a writer goroutine is running
		finished  bool // the output is over: done is closed
	}
	done    chan struct{} // closed once what was queued before a close is written, or a write failed
	drained chan struct{} // capacity 1: a write finished while the reader was paused
	// writeDeadline is the socket's write deadline, set by the writer.
	writeDeadline time.Time

	// fr reads the client's frames; owned by the reader goroutine of the
	// moment (serve, or resume after an idle spell).
	fr *frameReader
	// park is the reader's waiting state, shared with the idle sweep
	// (idle.go); readLimit is how long the session's connection may be
	// silent, set at the handshake.
	park      parker
	readLimit time.Duration

	stats connStats // ServerCnxn statistics for cons/crst (stats.go)
}

func newConn(l *Listener, nc net.Conn, ip string, tlsCfg *tls.Config) *conn {
	c := &conn{l: l, nc: nc, tcp: nc, ip: ip, done: make(chan struct{}), drained: make(chan struct{}, 1)}
	if tlsCfg != nil {
		c.tls = tls.Server(nc, tlsCfg)
		c.nc = c.tls
	} else if sc, ok := nc.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
	}
	c.stats.init(time.Now())
	return c
}

// serve runs the connection until it closes or goes idle: then the
// idle poller resumes it (idle.go).
func (c *conn) serve() {
	c.fr = newFrameReader(c.nc, c.raw)
	reason := c.handshakeTLS()
	if reason == "" {
		reason = c.open()
	}
	if reason == "" {
		var idle bool
		if reason, idle = c.readRequests(false); idle {
			return
		}
	}
	c.finish(reason)
}

// resume runs an idle connection again, once its socket is readable or
// something else (a close, the session timeout) needs its reader.
func (c *conn) resume() {
	if reason, idle := c.readRequests(true); !idle {
		c.finish(reason)
	}
}

// finish closes the connection once what is queued has been written.
func (c *conn) finish(reason string) {
	c.Close(reason)
	<-c.done
	c.tcp.Close()
	if c.client != nil {
		c.client.Detach()
	}
	c.fr.close()
	c.l.connDone(c)
}

// handshakeTLS runs the TLS handshake of a secure port's connection,
// within Options.TLSHandshakeTimeout. It returns "" once done (or on a
// plaintext port), else why the connection must close: a failed
// handshake is logged with the client's address and counted, as
// ZooKeeper counts it (unsuccessful_handshake, auth_failed_count).
func (c *conn) handshakeTLS() string {
	if c.tls == nil {
		return ""
	}
	st := c.l.Stats()
	timeout := c.l.opts.TLSHandshakeTimeout
	if timeout <= 0 {
		timeout = c.l.opts.HandshakeTimeout
	}
	st.OutstandingTLSHandshakes.Add(1)
	c.nc.SetDeadline(time.Now().Add(timeout))
	err := c.tls.Handshake()
	st.OutstandingTLSHandshakes.Add(-1)
	c.nc.SetDeadline(time.Time{})
	if err != nil {
		st.UnsuccessfulHandshakes.Add(1)
		c.l.srv.Stats.AuthFailed.Add(1)
		c.l.log.Warn().Err(err).Str("client", c.tcp.RemoteAddr().String()).Msg("TLS handshake failed, closing connection")
		return "tls handshake failed"
	}
	ids, err := c.l.srv.AuthenticateTLS(c.tls.ConnectionState().PeerCertificates, c.ip)
	if err != nil {
		c.l.srv.Stats.AuthFailed.Add(1)
		c.l.log.Warn().Err(err).Str("client", c.tcp.RemoteAddr().String()).Msg("x509 authentication failed, closing connection")
		return "x509 authentication failed"
	}
	c.tlsIDs = ids
	return ""
}

// readFrame reads the next frame; it is valid until the next call.
func (c *conn) readFrame() ([]byte, error) {
	b, err := c.fr.next(c.l.opts.MaxBuffer)
	if err == nil {
		c.frameIn(len(b))
	}
	return b, err
}

// open reads the connection's first frame: it answers a four-letter word,
// or attaches the connection to a session. It returns "" once a session
// is attached, else why the connection must close.
func (c *conn) open() string {
	log := c.l.log
	r := c.fr
	// The first four bytes: a four-letter word or a ConnectRequest length.
	c.nc.SetReadDeadline(time.Now().Add(c.l.opts.HandshakeTimeout))
	head, err := r.peek(4)
	if err != nil {
		c.countReadEnd(err)
		return "closed before handshake"
	}
	code := binary.BigEndian.Uint32(head)
	if code == telnetClose {
		return "telnet close"
	}
	if word, ok := fourLetterCodes[code]; ok {
		r.discard(4)
		c.frameIn(0)
		out := "This ZooKeeper instance does not answer four-letter words.\n"
		if fn := c.l.fourLetter.Load(); fn != nil {
			out = (*fn)(word)
		}
		c.queue([]byte(out))
		return "four-letter word " + word
	}
	b, err := c.readFrame()
	if err != nil {
		c.countReadEnd(err)
		log.Warn().Err(err).Str("client", c.ip).Msg("bad connect request, closing connection")
		return "bad connect request"
	}
	if reason, ok := c.handshake(b); !ok {
		return reason
	}
	timeout := time.Duration(c.client.Timeout()) * time.Millisecond
	c.readLimit = timeout + timeout/8
	return ""
}

// readRequests reads requests until the connection fails or is closed,
// and returns why it stopped; or until it has been silent for
// Options.IdleAfter and the idle poller took it over: then it reports
// idle, and the goroutine must not touch the connection any more.
// resumed is set when it runs again after an idle spell.
func (c *conn) readRequests(resumed bool) (reason string, idle bool) {
	log := c.l.log
	r := c.fr
	r.park, r.clock = &c.park, c.l.clock
	timeout := time.Duration(c.client.Timeout()) * time.Millisecond
	if resumed && c.l.clock()-c.park.lastWait() > c.readLimit && c.closingReason() == "" {
		c.l.stats.ConnectionsExpired.Add(1)
		log.Info().Str("client", c.ip).Str("session", fmt.Sprintf("0x%x", c.client.SessionID())).
			Msg("no packet for a whole session timeout, closing connection")
		return "read timeout", false
	}
	var hdr jute.RequestHeader
	var d jute.Decoder
	var deadline time.Time
	// NB: a connection that has sent nothing but pings since it opened
	// or last went idle is most likely an idle session's: it goes idle
	// again as soon as its socket is empty, and its goroutine lives for
	// one ping. Any other request makes it wait Options.IdleAfter.
	r.idleNow = true
	for {
		// NB: a client pings every timeout/3; a connection silent for a
		// whole timeout is half-open, and its session is expiring anyway.
		// The deadline moves only once less than a timeout is left, to
		// between one and 9/8 timeouts away: setting it costs a timer
		// update, too much for every frame.
		if now := time.Now(); deadline.Sub(now) < timeout {
			deadline = now.Add(c.readLimit)
			r.setDeadline(deadline)
		}
		b, err := c.readFrame()
		if err != nil {
			if reason := c.closingReason(); reason != "" {
				return reason, false
			}
			switch {
			case errors.Is(err, errIdle):
				if c.goIdle() {
					return "", true
				}
				r.idleNow = false
				r.setDeadline(deadline)
				continue
			case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
				c.countReadEnd(err)
				return "client closed connection", false
			case errors.Is(err, os.ErrDeadlineExceeded):
				c.countReadEnd(err)
				log.Info().Str("client", c.ip).Str("session", fmt.Sprintf("0x%x", c.client.SessionID())).
					Msg("no packet for a whole session timeout, closing connection")
				return "read timeout", false
			case errors.Is(err, errFrameLength):
				log.Warn().Err(err).Str("client", c.ip).Msg("closing connection")
				return "bad frame length", false
			}
			return "read error: " + err.Error(), false
		}
		d.Reset(b, c.l.opts.MaxBuffer)
		hdr.Decode(&d)
		if d.Err() != nil {
			log.Warn().Str("client", c.ip).Int("len", len(b)).Msg("malformed request header, closing connection")
			return "malformed request header", false
		}
		if hdr.Type != int32(jute.OpPing) {
			r.idleNow = false
		}
		c.requestIn(&hdr, time.Now())
		c.client.Handle(&hdr, d.Rest())
		if !r.frameBuffered() {
			// NB: replies to the requests that arrived together leave
			// together, before this reader waits for more.
			c.Flush()
		}
		if reason := c.closingReason(); reason != "" {
			return reason, false // NB: nothing after a close is processed, as in ZooKeeper
		}
		if !c.awaitOutput() {
			return c.closingReason(), false
		}
	}
}

// awaitOutput holds the reader while more than Options.ReadPauseBytes of
// replies are queued for a client that does not read them, so a client
// that pipelines large reads pins about that much memory, not a reply
// per request it sent. It reports false when the connection closed
// meanwhile. NB: ZooKeeper stops reading a connection on the count of
// its outstanding requests, not on its output; replies already owed
// (reads queued behind a write) can still pass the pause bound, up to
// MaxOutstandingBytes, where the connection is closed.
func (c *conn) awaitOutput() bool {
	limit := c.l.opts.ReadPauseBytes
	if limit <= 0 {
		return true
	}
	c.mu.Lock()
	full := c.queuedLocked() > limit
	c.mu.Unlock()
	if !full {
		return true
	}
	c.Flush() // NB: the replies to frames read together are still queued
	c.mu.Lock()
	for c.queuedLocked() > limit {
		if c.mu.closing != "" {
			c.mu.Unlock()
			return false
		}
		c.mu.paused = true
		c.mu.Unlock()
		c.signal()
		select {
		case <-c.drained:
		case <-c.done:
			return false
		}
		c.mu.Lock()
	}
	c.mu.paused = false
	c.mu.Unlock()
	return true
}

// queuedLocked returns the bytes queued for the client and not yet
// written: those in out and those of the buffer being written.
func (c *conn) queuedLocked() int { return len(c.mu.out) + c.mu.inWrite }

// wroteLocked ends a write of a taken buffer and resumes a paused reader
// once the queue has fallen to the pause bound.
func (c *conn) wroteLocked() {
	c.mu.writing, c.mu.inWrite = false, 0
	if c.mu.paused && c.queuedLocked() <= c.l.opts.ReadPauseBytes {
		select {
		case c.drained <- struct{}{}:
		default:
		}
	}
}

// handshake reads the ConnectRequest and attaches the connection to a
// session. It reports false (with a reason) when the connection must close.
func (c *conn) handshake(b []byte) (string, bool) {
	log := c.l.log
	var req jute.ConnectRequest
	d := jute.NewDecoder(b, c.l.opts.MaxBuffer)
	req.ProtocolVersion = d.Int()
	req.LastZxidSeen = d.Long()
	req.TimeOut = d.Int()
	req.SessionId = d.Long()
	req.Passwd = d.Buffer()
	if d.Err() == nil && d.Remaining() > 0 {
		req.ReadOnly = d.Bool()
		c.withReadOnly = true
	}
	if d.Err() != nil {
		c.l.Stats().UnsuccessfulHandshakes.Add(1)
		log.Warn().Err(d.Err()).Str("client", c.ip).Msg("malformed connect request, closing connection")
		return "malformed connect request", false
	}
	client, resp, err := c.l.srv.Connect(&req, c.ip, c)
	if err != nil {
		if errors.Is(err, server.ErrZxidAhead) {
			log.Info().Str("client", c.ip).Str("zxid", fmt.Sprintf("0x%x", req.LastZxidSeen)).
				Str("server_zxid", fmt.Sprintf("0x%x", c.l.srv.LastZxid())).
				Msg("refusing session: client has seen a later zxid, it must try another server")
		} else {
			log.Warn().Err(err).Str("client", c.ip).Msg("refusing session")
		}
		return err.Error(), false
	}
	c.queueConnectResponse(&resp)
	if client == nil {
		return "session expired", false
	}
	c.client = client
	client.AddAuth(c.tlsIDs)
	c.attached(client)
	return "", true
}

func (c *conn) queueConnectResponse(resp *jute.ConnectResponse) {
	b := make([]byte, 4, 64)
	b = jute.AppendInt(b, resp.ProtocolVersion)
	b = jute.AppendInt(b, resp.TimeOut)
	b = jute.AppendLong(b, resp.SessionId)
	b = jute.AppendBuffer(b, resp.Passwd)
	if c.withReadOnly {
		b = jute.AppendBool(b, resp.ReadOnly)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	c.frameOut()
	c.queue(b)
}

// Reply implements server.Sink. It copies body into the output buffer:
// the server reuses body for its next reply.
func (c *conn) Reply(xid int32, zxid int64, code jute.Code, body []byte) {
	c.replyOut(xid, zxid, code, 16+len(body))
	c.l.stats.ResponseBytes.Add(int64(16 + len(body)))
	c.mu.Lock()
	if c.mu.closing != "" {
		c.mu.Unlock() // NB: the connection is closing: nothing more goes out
		return
	}
	start := len(c.mu.out)
	c.mu.out = append(c.mu.out, 0, 0, 0, 0)
	c.mu.out = jute.AppendInt(c.mu.out, xid)
	c.mu.out = jute.AppendLong(c.mu.out, zxid)
	c.mu.out = jute.AppendInt(c.mu.out, int32(code))
	c.mu.out = append(c.mu.out, body...)
	c.finishFrameLocked(start)
}

// Event implements server.Sink: a notification with xid -1.
func (c *conn) Event(ev datatree.Event) {
	c.frameOut()
	c.mu.Lock()
	if c.mu.closing != "" {
		c.mu.Unlock()
		return
	}
	start := len(c.mu.out)
	c.mu.out = append(c.mu.out, 0, 0, 0, 0)
	c.mu.out = jute.AppendInt(c.mu.out, jute.XidNotification)
	c.mu.out = jute.AppendLong(c.mu.out, ev.Zxid)
	c.mu.out = jute.AppendInt(c.mu.out, 0)
	c.mu.out = jute.AppendInt(c.mu.out, int32(ev.Type))
	c.mu.out = jute.AppendInt(c.mu.out, int32(jute.StateSyncConnected))
	c.mu.out = jute.AppendString(c.mu.out, ev.Path)
	n := len(c.mu.out) - start - 4
	c.finishFrameLocked(start)
	c.l.stats.WatchBytes.Add(int64(n))
}

// finishFrameLocked fills in the length of the frame that starts at start,
// checks the slow-consumer bound, wakes the writer and unlocks c.mu.
func (c *conn) finishFrameLocked(start int) {
	binary.BigEndian.PutUint32(c.mu.out[start:], uint32(len(c.mu.out)-start-4))
	c.mu.maxQueued = max(c.mu.maxQueued, c.queuedLocked())
	if len(c.mu.out) > c.l.opts.MaxOutstandingBytes && c.mu.closing == "" {
		c.mu.closing = "slow consumer"
		c.mu.out = c.mu.out[:0]
		c.mu.Unlock()
		c.l.log.Warn().Str("client", c.ip).Int("max_bytes", c.l.opts.MaxOutstandingBytes).
			Msg("client does not read its replies, closing connection")
		c.tcp.Close()
		c.signal()
		return
	}
	c.mu.Unlock()
}

func (c *conn) queue(b []byte) {
	c.mu.Lock()
	c.mu.out = append(c.mu.out, b...)
	c.mu.maxQueued = max(c.mu.maxQueued, c.queuedLocked())
	c.mu.Unlock()
	c.signal()
}

// Flush implements server.Sink: it writes what is queued if no write is in
// progress and the socket takes it all without blocking; whatever is left
// goes to the writer goroutine.
func (c *conn) Flush() {
	c.mu.Lock()
	if len(c.mu.out) == 0 {
		c.mu.Unlock()
		return
	}
	if c.mu.writing || c.mu.closing != "" || c.raw == nil {
		c.mu.Unlock()
		c.signal()
		return
	}
	out := c.takeLocked()
	c.mu.Unlock()
	n := c.writeNow(out)
	c.mu.Lock()
	if n == len(out) {
		c.keepLocked(out)
	} else {
		// NB: what the socket did not take goes back in front of what
		// was queued meanwhile.
		rest := out[:copy(out, out[n:])]
		c.mu.out, c.mu.spare = append(rest, c.mu.out...), c.mu.out[:0]
	}
	c.wroteLocked()
	// NB: a Flush or Close while this one wrote left the work to the
	// writer, which skipped it while writing was set: hand it over now.
	pending := len(c.mu.out) > 0 || c.mu.closing != ""
	c.mu.Unlock()
	if pending {
		c.signal()
	}
}

// takeLocked takes the queued frames for writing.
func (c *conn) takeLocked() []byte {
	out := c.mu.out
	c.mu.out, c.mu.spare = c.mu.spare[:0], nil
	c.mu.writing, c.mu.inWrite = true, len(out)
	return out
}

// keepLocked keeps a written buffer for reuse, unless it is big.
func (c *conn) keepLocked(b []byte) {
	if cap(b) <= 1<<20 && cap(b) > cap(c.mu.spare) {
		c.mu.spare = b[:0]
	}
}

// writeNow writes as much of b as the socket takes without blocking, in
// one write(2), and returns how much that was. Errors are left for the
// writer goroutine to meet again.
func (c *conn) writeNow(b []byte) int {
	var n int
	err := c.raw.Write(func(fd uintptr) bool {
		n, _ = syscall.Write(int(fd), b)
		return true // NB: one attempt, never a wait for writability
	})
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// Close implements server.Sink: the connection closes after what is
// queued has been written.
func (c *conn) Close(reason string) {
	c.mu.Lock()
	if c.mu.closing == "" {
		c.mu.closing = reason
	}
	c.mu.Unlock()
	c.signal()
}

func (c *conn) closingReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.closing
}

// signal starts a writer if there is something to write or a close to
// finish and no writer is running. NB: while Flush writes, it is left to
// Flush, which signals again once done if anything is left.
func (c *conn) signal() {
	c.mu.Lock()
	start := !c.mu.writer && !c.mu.writing && !c.mu.finished && (len(c.mu.out) > 0 || c.mu.closing != "")
	c.mu.writer = c.mu.writer || start
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// writeTimeout bounds one write to a client that does not read.
const writeTimeout = 30 * time.Second

// writeLoop writes queued frames, all that have accumulated in one write,
// until none are left; once a close was asked for and everything is
// written, it half-closes the socket and closes done.
func (c *conn) writeLoop() {
	for {
		c.mu.Lock()
		if c.mu.writing || (len(c.mu.out) == 0 && c.mu.closing == "") {
			c.mu.writer = false // NB: a writing Flush signals again if it leaves any
			c.mu.Unlock()
			return
		}
		if len(c.mu.out) == 0 {
			c.mu.writer, c.mu.finished = false, true
			c.mu.Unlock()
			// NB: a half-close lets the client read everything before EOF.
			if c.tls != nil {
				c.tls.CloseWrite() // NB: close_notify; fails harmlessly before a handshake
			}
			if tc, ok := c.tcp.(*net.TCPConn); ok {
				tc.CloseWrite()
			}
			c.nc.SetReadDeadline(time.Now()) // wakes the reader
			close(c.done)
			c.wakeIdle() // NB: or starts it, if the connection is idle
			return
		}
		out := c.takeLocked()
		c.mu.Unlock()
		// NB: as the read deadline, moved only once it is near.
		if now := time.Now(); c.writeDeadline.Sub(now) < writeTimeout-time.Second {
			c.writeDeadline = now.Add(writeTimeout)
			c.nc.SetWriteDeadline(c.writeDeadline)
		}
		_, err := c.nc.Write(out)
		c.mu.Lock()
		c.keepLocked(out)
		c.wroteLocked()
		if err != nil {
			c.mu.writer, c.mu.finished = false, true
			if c.mu.closing == "" {
				c.mu.closing = "write error: " + err.Error()
			}
			c.mu.out = c.mu.out[:0]
			c.mu.Unlock()
			c.tcp.Close()
			close(c.done)
			c.wakeIdle()
			return
		}
		c.mu.Unlock()
	}
}
