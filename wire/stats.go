package wire

import (
	"errors"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokeeper/gokeeper/internal/metrics"
	"github.com/gokeeper/gokeeper/jute"
	"github.com/gokeeper/gokeeper/server"
)

// ConnectionInfo is what ZooKeeper's ServerCnxn reports about one client
// connection (the `cons` and `stat` four-letter words, the AdminServer's
// connections command). Latencies are in milliseconds.
type ConnectionInfo struct {
	// RemoteAddr is the client's address and port.
	RemoteAddr string
	// HasSession is false until the ConnectRequest attached a session
	// (and always for a four-letter-word connection).
	HasSession bool
	// SessionID and SessionTimeout (ms) are the attached session's.
	SessionID      int64
	SessionTimeout int32
	// Queued is the number of requests received and not yet answered.
	Queued int64
	// OutputBytes is the bytes of replies and events queued for the
	// client and not yet written to its socket; MaxOutputBytes the most
	// there ever were at once. ReadPaused reports whether the server
	// stopped reading the client's requests until OutputBytes falls to
	// Options.ReadPauseBytes.
	OutputBytes, MaxOutputBytes int64
	ReadPaused                  bool
	// Idle reports whether the connection has handed its socket to the
	// idle poller and has no reader goroutine (Options.IdleAfter).
	Idle bool
	// PacketsReceived and PacketsSent count frames since the last reset,
	// including the ConnectRequest/Response and watch notifications.
	PacketsReceived int64
	PacketsSent     int64
	// Established is when the connection was accepted.
	Established time.Time
	// LastOp is the op of the last answered request (zero before any).
	LastOp jute.OpCode
	// LastOpSet reports whether any request has been answered since the
	// last reset; LastOp and the fields below are meaningful only then.
	LastOpSet bool
	// LastCxid is the xid of the last answered request with a
	// non-negative xid (-1 before any), LastZxid the zxid of the last reply.
	LastCxid int32
	LastZxid int64
	// LastResponse is when the last reply was queued.
	LastResponse time.Time
	// LastLatency, MinLatency, AvgLatency and MaxLatency summarise the
	// request latencies since the last reset (0 before any).
	LastLatency, MinLatency, AvgLatency, MaxLatency int64
}

// RequestObserver is told about every reply queued on the client port:
// the request's op, session, xid, the reply's zxid and error code, its
// latency from the request's arrival and the reply's size in bytes
// (header and body, without the length prefix, as ZooKeeper counts it).
// It is called with connection locks held and must not block.
type RequestObserver func(op jute.OpCode, session int64, xid int32, zxid int64, code jute.Code, latency time.Duration, size int)

// ListenerStats are the port-wide counters ZooKeeper keeps in
// ServerMetrics for the client port, which live in the server's registry
// (server.Server.Metrics) under the names in parentheses, and its gauge
// of TLS handshakes under way.
type ListenerStats struct {
	// BytesReceived counts request bytes read (bytes_received_count).
	BytesReceived *metrics.Counter
	// UnsuccessfulHandshakes counts connections that sent a bad
	// ConnectRequest (unsuccessful_handshake).
	UnsuccessfulHandshakes *metrics.Counter
	// ConnectionRejected counts connections refused on accept: accept
	// errors, maxCnxns and maxClientCnxns (connection_rejected).
	ConnectionRejected *metrics.Counter
	// ConnectionDropped counts connections the client closed: the read
	// found the end of the stream (connection_drop_count, ZooKeeper's
	// handleFailedRead).
	ConnectionDropped *metrics.Counter
	// ConnectionsExpired counts connections closed because they were
	// silent too long: no ConnectRequest within the handshake timeout,
	// or no packet for a whole session timeout
	// (sessionless_connections_expired: ZooKeeper's NIO connection
	// expirer closes both kinds and counts them there).
	ConnectionsExpired *metrics.Counter
	// ResponseBytes counts the bytes of replies queued, header and body
	// without the length prefix (response_bytes); WatchBytes those of
	// watch notifications (watch_bytes).
	ResponseBytes, WatchBytes *metrics.Counter
	// OutstandingTLSHandshakes is the number of TLS handshakes under way
	// (outstanding_tls_handshake).
	OutstandingTLSHandshakes atomic.Int64
	// TLSHandshakeExceeded counts connections refused because
	// Options.MaxTLSHandshakes handshakes were under way
	// (tls_handshake_exceeded).
	TLSHandshakeExceeded *metrics.Counter

	observer atomic.Pointer[RequestObserver]
}

func newListenerStats(r *metrics.Registry) ListenerStats {
	return ListenerStats{
		BytesReceived:          r.Counter("bytes_received_count"),
		UnsuccessfulHandshakes: r.Counter("unsuccessful_handshake"),
		ConnectionRejected:     r.Counter("connection_rejected"),
		ConnectionDropped:      r.Counter("connection_drop_count"),
		ConnectionsExpired:     r.Counter("sessionless_connections_expired"),
		ResponseBytes:          r.Counter("response_bytes"),
		WatchBytes:             r.Counter("watch_bytes"),
		TLSHandshakeExceeded:   r.Counter("tls_handshake_exceeded"),
	}
}

// Stats returns the listener's port-wide counters.
func (l *Listener) Stats() *ListenerStats { return &l.stats }

// SetRequestObserver installs fn to be told about every reply.
func (l *Listener) SetRequestObserver(fn RequestObserver) { l.Stats().observer.Store(&fn) }

// Connections returns the open connections' statistics, ordered by when
// they were established.
func (l *Listener) Connections() []ConnectionInfo {
	l.mu.Lock()
	conns := make([]*conn, 0, len(l.mu.conns))
	for c := range l.mu.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	out := make([]ConnectionInfo, 0, len(conns))
	for _, c := range conns {
		out = append(out, c.stats.info(c))
	}
	slices.SortFunc(out, func(a, b ConnectionInfo) int { return a.Established.Compare(b.Established) })
	return out
}

// ResetConnectionStats clears every open connection's counters and
// latencies, as ZooKeeper's `crst` does.
func (l *Listener) ResetConnectionStats() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.mu.conns {
		c.stats.reset()
	}
}

// pendingRequest is a request waiting for its reply.
type pendingRequest struct {
	xid   int32
	op    jute.OpCode
	start time.Time
}

// connStats is one connection's ServerCnxn statistics. Requests are
// matched to replies by xid: a session's replies come in request order,
// except auth, which is answered at once, so the match is almost always
// the head of pending.
type connStats struct {
	mu struct {
		sync.Mutex
		established time.Time
		received    int64
		sent        int64
		pending     []pendingRequest
		lastOp      jute.OpCode
		lastOpSet   bool
		lastCxid    int32
		lastZxid    int64
		lastResp    time.Time
		lastLat     int64
		minLat      int64
		maxLat      int64
		totalLat    int64
		count       int64
		// client is c.client, copied here when the handshake attaches
		// it so that other goroutines can read it under this lock.
		client *server.Client
	}
}

func (s *connStats) init(now time.Time) {
	s.mu.Lock()
	s.mu.established = now
	s.mu.lastCxid = -1
	s.mu.lastZxid = -1
	s.mu.Unlock()
}

// attached records the session the handshake attached.
func (c *conn) attached(cl *server.Client) {
	c.stats.mu.Lock()
	c.stats.mu.client = cl
	c.stats.mu.Unlock()
}

// frameIn counts one frame of n bytes read from the client.
func (c *conn) frameIn(n int) {
	c.stats.mu.Lock()
	c.stats.mu.received++
	c.stats.mu.Unlock()
	c.l.Stats().BytesReceived.Add(int64(n) + 4)
}

// requestIn records a request about to be handed to the server.
func (c *conn) requestIn(hdr *jute.RequestHeader, now time.Time) {
	c.stats.mu.Lock()
	c.stats.mu.pending = append(c.stats.mu.pending, pendingRequest{xid: hdr.Xid, op: jute.OpCode(hdr.Type), start: now})
	c.stats.mu.Unlock()
}

// frameOut counts a frame queued for the client that answers no request
// (the ConnectResponse, a watch notification).
func (c *conn) frameOut() {
	c.stats.mu.Lock()
	c.stats.mu.sent++
	c.stats.mu.Unlock()
}

// replyOut records the reply to request xid: its zxid, code and frame size.
func (c *conn) replyOut(xid int32, zxid int64, code jute.Code, size int) {
	now := time.Now()
	s := &c.stats
	s.mu.Lock()
	s.mu.sent++
	i := slices.IndexFunc(s.mu.pending, func(p pendingRequest) bool { return p.xid == xid })
	if i < 0 {
		s.mu.Unlock()
		return
	}
	p := s.mu.pending[i]
	s.mu.pending = slices.Delete(s.mu.pending, i, i+1)
	lat := now.Sub(p.start)
	ms := lat.Milliseconds()
	if xid >= 0 {
		s.mu.lastCxid = xid
	}
	s.mu.lastOp, s.mu.lastOpSet, s.mu.lastZxid, s.mu.lastResp, s.mu.lastLat = p.op, true, zxid, now, ms
	if s.mu.count == 0 || ms < s.mu.minLat {
		s.mu.minLat = ms
	}
	s.mu.maxLat = max(s.mu.maxLat, ms)
	s.mu.totalLat += ms
	s.mu.count++
	s.mu.Unlock()
	if fn := c.l.Stats().observer.Load(); fn != nil {
		var session int64
		if cl := c.stats.client(); cl != nil {
			session = cl.SessionID()
		}
		(*fn)(p.op, session, xid, zxid, code, lat, size)
	}
}

func (s *connStats) client() *server.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.client
}

func (s *connStats) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.received, s.mu.sent = 0, 0
	s.mu.lastOpSet, s.mu.lastOp = false, 0
	s.mu.lastCxid, s.mu.lastZxid, s.mu.lastResp = -1, -1, time.Time{}
	s.mu.lastLat, s.mu.minLat, s.mu.maxLat, s.mu.totalLat, s.mu.count = 0, 0, 0, 0, 0
}

func (s *connStats) info(c *conn) ConnectionInfo {
	ci := ConnectionInfo{RemoteAddr: c.nc.RemoteAddr().String()}
	c.mu.Lock()
	ci.OutputBytes, ci.MaxOutputBytes, ci.ReadPaused = int64(c.queuedLocked()), int64(c.mu.maxQueued), c.mu.paused
	c.mu.Unlock()
	c.park.mu.Lock()
	ci.Idle = c.park.idle
	c.park.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if cl := s.mu.client; cl != nil {
		ci.HasSession, ci.SessionID, ci.SessionTimeout = true, cl.SessionID(), cl.Timeout()
	}
	ci.Queued = int64(len(s.mu.pending))
	ci.PacketsReceived, ci.PacketsSent = s.mu.received, s.mu.sent
	ci.Established = s.mu.established
	ci.LastOp, ci.LastOpSet = s.mu.lastOp, s.mu.lastOpSet
	ci.LastCxid, ci.LastZxid, ci.LastResponse = s.mu.lastCxid, s.mu.lastZxid, s.mu.lastResp
	ci.LastLatency, ci.MinLatency, ci.MaxLatency = s.mu.lastLat, s.mu.minLat, s.mu.maxLat
	if s.mu.count > 0 {
		ci.AvgLatency = s.mu.totalLat / s.mu.count
	}
	return ci
}

// countReadEnd counts a read error that ends the connection: the client
// closed it (connection_drop_count), or it was silent past its deadline
// (sessionless_connections_expired).
func (c *conn) countReadEnd(err error) {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		c.l.stats.ConnectionDropped.Add(1)
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.l.stats.ConnectionsExpired.Add(1)
	}
}
