package server

import (
	"bytes"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokeeper/gokeeper/datatree"
	"github.com/gokeeper/gokeeper/internal/sasl"
	"github.com/gokeeper/gokeeper/jute"
)

// Client is one connection's attachment to a session. Package wire owns
// the socket and calls Handle for every request frame, from one goroutine.
// Client answers the session's requests in the order they arrived: writes
// go to the log at once (in order), reads run as soon as every earlier
// request of the session has been answered.
type Client struct {
	s        *Server
	session  int64
	timeout  int32
	watcher  datatree.WatcherID
	sink     Sink
	remoteIP string

	lastBucket atomic.Int64 // expiry bucket of the last session touch
	touchedIn  uint64       // the applier batch that last queued for it (applier only)
	// closeSent is set once the client has sent closeSession (Handle's
	// goroutine only).
	closeSent bool
	// local is set while the session is local to this member (set by
	// Connect, cleared by an upgrade on Handle's goroutine).
	local bool
	// sasl is the connection's SASL exchange, from its first SASL packet
	// (Handle's goroutine only).
	sasl *sasl.DigestMD5
	// closing is set once the server starts closing the session (it
	// expired, or its closeSession was prepared; set under the server's
	// smu) or touch finds it closing or gone: every request after is
	// dropped. NB: touch skips the tracker while the session stays in
	// one expiry bucket, so the tracker alone would let some through.
	closing atomic.Bool

	mu struct {
		sync.Mutex
		auth  []jute.Id // replaced, never mutated: requests keep a snapshot
		queue slotQueue // requests not yet answered, in arrival order
		dead  bool      // a request was dropped: answer nothing more
		// detached is set once the connection is gone: reads still
		// queued run without registering watches, which no one would
		// remove (ZooKeeper's isDeadWatcher).
		detached bool
		// reply is the buffer reply bodies are encoded into, reused from
		// one reply to the next: Sink.Reply copies what it keeps.
		reply []byte
	}
}

// pending is one write on its way through the pipeline: its reply slot,
// request and write in one allocation, reused through Server.pendings.
// NB: two holders release it: the reply queue, when the slot leaves it
// (answered or discarded), and the write path, when the write has been
// applied, refused or abandoned; the last to let go recycles it.
type pending struct {
	sl   slot
	req  Request
	w    write
	refs atomic.Int32
}

// release drops one of p's two holds.
func (p *pending) release(s *Server) {
	switch n := p.refs.Add(-1); {
	case n == 0:
		s.putPending(p)
	case n < 0:
		panic("server: a write's pending released more than twice")
	}
}

// getPending takes a pending from the pool; putPending puts one back
// once no one holds it.
func (s *Server) getPending() *pending {
	s.pendingsLive.Add(1)
	return s.pendings.Get().(*pending)
}

func (s *Server) putPending(p *pending) {
	*p = pending{}
	s.pendingsLive.Add(-1)
	s.pendings.Put(p)
}

// slot is one request waiting for its turn to be answered. NB: every
// write carries one; its fields are ordered to pack tightly.
type slot struct {
	xid      int32
	reject   jute.Code     // non-OK: the read's answer is this error (a refused write)
	code     jute.Code     // a ready write's reply code
	done     bool          // a write's reply is ready
	dropped  bool          // no reply will ever be sent (the connection is closing)
	received time.Duration // when the request arrived, on Server.sinceStart's clock
	read     *Request      // a read to run when the slot reaches the head
	owner    *pending      // the write this slot belongs to; nil for a read
	zxid     int64         // a ready write's reply zxid
	body     []byte        // a ready write's reply body
}

// Connect attaches a connection to a new or existing session, as
// ZooKeeper's processConnectRequest does. It returns the ConnectResponse to
// send. A nil Client with a nil error means the session is expired or the
// password wrong: send the response (timeout 0) and close.
func (s *Server) Connect(req *jute.ConnectRequest, remoteIP string, sink Sink) (*Client, jute.ConnectResponse, error) {
	var resp jute.ConnectResponse
	select {
	case <-s.stop:
		return nil, resp, ErrClosed
	default:
	}
	readOnly := false
	if s.ens != nil && !s.ens.serving() {
		switch {
		case !s.ens.readOnly.Load():
			s.m.closedNotServing.Add(1)
			return nil, resp, ErrNotServing
		case !req.ReadOnly:
			return nil, resp, ErrNotReadOnlyClient
		case req.SessionId != 0 && !s.localSession(req.SessionId):
			return nil, resp, ErrGlobalSessionReadOnly
		}
		readOnly = true
	}
	s.m.connectionRequests.Add(1)
	if last := s.tree.LastZxid(); req.LastZxidSeen > last {
		return nil, resp, ErrZxidAhead
	}
	if req.SessionId != 0 {
		s.m.connectionRevalidate.Add(1)
	}
	timeout := min(max(req.TimeOut, int32(s.cfg.EffectiveMinSessionTimeout())), int32(s.cfg.EffectiveMaxSessionTimeout()))
	c := &Client{s: s, timeout: timeout, sink: sink, remoteIP: remoteIP}
	c.watcher = datatree.WatcherID(s.nextWatch.Add(1))
	if id, code := Authenticate(SchemeIP, nil, remoteIP, &s.prepO); code == jute.CodeOK {
		c.mu.auth = []jute.Id{id}
	}
	nowMs := s.sessionMs()

	if req.SessionId == 0 {
		// NB: a local session (localSessionsEnabled, or read-only mode)
		// lives on this member only and needs no txn.
		c.local = readOnly || s.ens != nil && s.cfg.LocalSessionsEnabled
		s.smu.Lock()
		id := s.smu.nextID
		s.smu.nextID++
		t := s.smu.tracker
		if c.local {
			t = s.smu.local
		}
		t.add(id, timeout, nowMs)
		s.smu.Unlock()
		c.session = id
		if !c.local {
			if code := s.createSession(id, timeout); code != jute.CodeOK {
				s.smu.Lock()
				s.smu.tracker.remove(id)
				s.smu.Unlock()
				return nil, resp, code
			}
		}
		s.log.Info().Str("session", sessionHex(id)).Int32("timeout", timeout).Str("client", remoteIP).Bool("local", c.local).Msg("session created")
	} else {
		ok := bytes.Equal(req.Passwd, sessionPassword(req.SessionId))
		s.smu.Lock()
		c.local = s.smu.local.live(req.SessionId)
		s.smu.Unlock()
		if ok && s.ens != nil && !c.local {
			var err error
			if ok, err = s.ens.live(req.SessionId, timeout); err != nil {
				return nil, resp, ErrNotServing
			}
		}
		s.smu.Lock()
		switch {
		case ok && c.local:
			ok = s.smu.local.touch(req.SessionId, timeout, nowMs)
		case ok && s.ens == nil:
			ok = s.smu.tracker.touch(req.SessionId, timeout, nowMs)
		}
		// NB: ZooKeeper drops the session's current connection before it
		// checks the password, so even a failed reconnect moves the client.
		old := s.smu.clients[req.SessionId]
		delete(s.smu.clients, req.SessionId)
		s.smu.Unlock()
		if old != nil {
			old.sink.Close("client reconnecting")
		}
		if !ok {
			s.log.Info().Str("session", sessionHex(req.SessionId)).Str("client", remoteIP).
				Msg("refusing reconnect: session expired or wrong password")
			resp.Passwd = make([]byte, 16)
			return nil, resp, nil
		}
		c.session = req.SessionId
		s.log.Debug().Str("session", sessionHex(c.session)).Str("client", remoteIP).Msg("session reconnected")
	}

	s.watchers.Store(c.watcher, c)
	s.smu.Lock()
	old := s.smu.clients[c.session]
	s.smu.clients[c.session] = c
	s.smu.Unlock()
	if old != nil {
		old.sink.Close("session moved to another connection")
	}
	// NB: a client that can be read-only learns that this server is; one
	// that cannot still gets its reads served.
	resp = jute.ConnectResponse{TimeOut: timeout, SessionId: c.session, Passwd: sessionPassword(c.session),
		ReadOnly: req.ReadOnly && s.ReadOnly()}
	return c, resp, nil
}

// localSession reports whether id is a live local session here.
func (s *Server) localSession(id int64) bool {
	s.smu.Lock()
	defer s.smu.Unlock()
	return s.smu.local.live(id)
}

// createSession logs and applies the createSession txn of a new session.
func (s *Server) createSession(id int64, timeout int32) jute.Code {
	applied := make(chan jute.Code, 1)
	s.submit(&Request{Session: id, Op: jute.OpCreateSession, Time: s.now().UnixMilli(),
		Body: (&jute.CreateSessionTxn{TimeOut: timeout}).Encode(nil)},
		&write{op: jute.OpCreateSession, done: func(r *datatree.Result) { applied <- r.Err }})
	return <-applied
}

// SessionID returns the session this connection is attached to.
func (c *Client) SessionID() int64 { return c.session }

// Timeout returns the negotiated session timeout in ms.
func (c *Client) Timeout() int32 { return c.timeout }

// Detach is called by wire when the connection is gone. The session lives
// on until it expires or a new connection picks it up.
func (c *Client) Detach() {
	s := c.s
	// NB: a read registers its watches holding c.mu, so each one either
	// registered before this, and RemoveWatcher removes it, or sees
	// detached and registers none.
	c.mu.Lock()
	c.mu.detached = true
	c.mu.Unlock()
	s.watchers.Delete(c.watcher)
	s.tree.RemoveWatcher(c.watcher)
	s.smu.Lock()
	if s.smu.clients[c.session] == c {
		delete(s.smu.clients, c.session)
	}
	s.smu.Unlock()
}

// Handle processes one request frame: its header and the body bytes that
// followed. body is only read during the call.
func (c *Client) Handle(hdr *jute.RequestHeader, body []byte) {
	s := c.s
	received := s.sinceStart()
	s.Stats.PacketsReceived.Add(1)
	live := c.touch(received.Milliseconds())

	op := jute.OpCode(hdr.Type)
	if op == jute.OpSASL {
		c.handleSASL(hdr.Xid, body)
		return
	}
	if op != jute.OpAuth && !c.enforced() {
		// NB: as ZooKeeper's AuthenticationHelper: answered, then the
		// connection closes; the session lives on until it expires.
		s.log.Warn().Str("session", sessionHex(c.session)).Str("client", c.remoteIP).Strs("schemes", s.enforce.Schemes).
			Msg("client has no id of the schemes authentication is enforced for, closing connection")
		c.sink.Reply(hdr.Xid, 0, jute.CodeSessionClosedRequireSASLAuth, nil)
		c.sink.Close("authentication required")
		return
	}
	if op != jute.OpAuth && (c.closeSent || !live) {
		// NB: as ZooKeeper's submitRequestNow, whose touch fails: a
		// request of a session that is closing or gone is dropped
		// unanswered, and the connection closes with the session.
		s.log.Debug().Str("session", sessionHex(c.session)).Stringer("op", op).Msg("session closing, request dropped")
		return
	}
	if op == jute.OpCloseSession {
		c.closeSent = true
	}
	if !clientOps[op] {
		// NB: as ZooKeeper's UnimplementedRequestProcessor: answer, then
		// drop the connection (the session lives on).
		s.log.Warn().Str("session", sessionHex(c.session)).Int32("op", hdr.Type).Str("client", c.remoteIP).
			Msg("unknown request type, closing connection")
		c.sink.Reply(hdr.Xid, -1, jute.CodeUnimplemented, nil)
		c.sink.Close("unknown request type")
		return
	}
	if op == jute.OpAuth {
		c.handleAuth(hdr.Xid, body)
		return
	}
	select {
	case s.inFlight <- struct{}{}:
	default:
		// NB: globalOutstandingLimit is reached: this reader waits, and
		// what it answered so far must not wait with it.
		c.sink.Flush()
		s.inFlight <- struct{}{}
	}
	// NB: sl and req stay on this goroutine's stack for a request answered
	// during the call; one that waits copies them to the heap.
	sl := slot{xid: hdr.Xid, received: received}
	req := Request{Session: c.session, Cxid: hdr.Xid, Op: op, Time: s.now().UnixMilli(), Body: body}
	if !IsWrite(op) && !(op == jute.OpSync && s.ens != nil && syncPath(body, s.cfg.JuteMaxBuffer) != nil) {
		c.answerInOrder(&sl, &req, jute.CodeOK)
		return
	}
	if code, rejected := s.prep.Reject(&req); rejected {
		// NB: refused before a zxid is taken, as ZooKeeper decodes
		// these requests first; answered in turn, like a read.
		c.answerInOrder(&sl, &req, code)
		return
	}
	// NB: one reused allocation for everything a write carries through
	// the pipeline.
	p := s.getPending()
	p.sl, p.req = sl, req
	p.sl.owner = p
	p.refs.Store(2)
	c.mu.Lock()
	if !c.enqueueLocked(&p.sl) {
		c.mu.Unlock()
		s.putPending(p) // NB: the connection answers nothing more; no one else holds p
		return
	}
	p.req.Auth = c.mu.auth
	c.mu.Unlock()
	// NB: body is the reader's buffer, only valid during Handle, and the
	// request is prepared later, on the prep goroutine. A record Reject
	// decoded owns copies of its bytes: Prep needs no body.
	if p.req.decoded != nil && s.ens == nil {
		p.req.Body = nil
	} else {
		p.req.Body = bytes.Clone(body)
	}
	p.w = write{op: op, client: c, slot: &p.sl}
	s.submit(&p.req, &p.w)
}

// syncPath returns a sync request's path, or nil if body is malformed. In
// an ensemble a sync takes the write path: it is answered once every txn
// the leader proposed before it is applied here (ZooKeeper's sync).
func syncPath(body []byte, maxBuffer int) *string {
	var r jute.SyncRequest
	if jute.Unmarshal(body, &r, maxBuffer) != nil {
		return nil
	}
	return &r.Path
}

// mayRead reports whether the client may READ a znode with acl: a watch
// event is sent only then, as ZooKeeper's ServerCnxn.process checks since
// 3.8.4 and 3.9.2 (CVE-2024-23944). NB: most znodes are world-readable,
// which needs no look at the connection's ids.
func (c *Client) mayRead(acl []jute.ACL) bool {
	s := c.s
	reg := s.prepO.authRegistry()
	if aclCheck(reg, s.prepO.SkipACL, acl, jute.PermRead, nil) == jute.CodeOK {
		return true
	}
	c.mu.Lock()
	auth := c.mu.auth
	c.mu.Unlock()
	return aclCheck(reg, s.prepO.SkipACL, acl, jute.PermRead, auth) == jute.CodeOK
}

// queuedRead is a read (or a refused write) waiting for the requests
// ahead of it in its session to be answered.
type queuedRead struct {
	sl  slot
	req Request
}

// answerInOrder answers a read now if nothing of the session is ahead of
// it, or queues it to run once everything ahead has been answered. A
// non-OK reject is the answer of a write refused before it got a zxid.
// sl and req are only used during the call.
func (c *Client) answerInOrder(sl *slot, req *Request, reject jute.Code) {
	s := c.s
	sl.reject = reject
	s.applyMu.RLock()
	c.mu.Lock()
	req.Auth = c.mu.auth
	if c.mu.queue.len() == 0 && !c.mu.dead {
		c.answerLocked(sl, req)
	} else {
		q := &queuedRead{sl: *sl, req: *req}
		// NB: req.Body is the reader's buffer, only valid during Handle.
		if reject == jute.CodeOK {
			q.req.Body = bytes.Clone(req.Body)
		} else {
			q.req.Body = nil
		}
		q.req.decoded = nil
		q.sl.read = &q.req
		c.enqueueLocked(&q.sl)
	}
	c.mu.Unlock()
	s.applyMu.RUnlock()
}

// enqueueLocked appends sl to the reply queue, or releases its in-flight
// token and reports false when the connection answers nothing more.
func (c *Client) enqueueLocked(sl *slot) bool {
	if c.mu.dead {
		<-c.s.inFlight
		return false
	}
	c.mu.queue.push(sl)
	return true
}

// slotQueue is a FIFO of reply slots in a ring that is reused: a
// session's queue stops allocating once it has grown to the session's
// depth of pipelining. NB: a slice popped from its front loses that
// capacity, and allocated again for nearly every request.
type slotQueue struct {
	ring []*slot // len is 0 or a power of two
	head int     // index of the first slot
	n    int     // number of slots queued
}

func (q *slotQueue) len() int { return q.n }

// front returns the first slot; the queue must not be empty.
func (q *slotQueue) front() *slot { return q.ring[q.head] }

func (q *slotQueue) push(sl *slot) {
	if q.n == len(q.ring) {
		ring := make([]*slot, max(8, 2*len(q.ring)))
		for i := range q.n {
			ring[i] = q.ring[(q.head+i)&(len(q.ring)-1)]
		}
		q.ring, q.head = ring, 0
	}
	q.ring[(q.head+q.n)&(len(q.ring)-1)] = sl
	q.n++
}

// pop removes the first slot; the queue must not be empty.
func (q *slotQueue) pop() {
	q.ring[q.head] = nil
	q.head = (q.head + 1) & (len(q.ring) - 1)
	q.n--
}

// touch keeps the session alive; nowMs is on the sessionMs clock. NB: the tracker keeps expiry in
// tickTime buckets; a touch that lands in the bucket of the previous one
// changes nothing, so only touches that move the session take its lock.
// It reports false when it found the session closing or gone.
func (c *Client) touch(nowMs int64) bool {
	if c.closing.Load() {
		return false
	}
	bucket := (nowMs + int64(c.timeout)) / int64(c.s.cfg.TickTime)
	if c.lastBucket.Swap(bucket) == bucket {
		return true
	}
	t := c.s.smu.tracker
	if c.local {
		t = c.s.smu.local
	}
	c.s.smu.Lock()
	live := t.touch(c.session, c.timeout, nowMs)
	c.s.smu.Unlock()
	if !live {
		// NB: a closing or gone session never comes back to this
		// connection (Connect refuses it): the answer holds for every
		// request after, in this bucket or not.
		c.closing.Store(true)
	}
	return live
}

// clientOps are the request types a client may send (ZooKeeper's
// Request.isValid, plus auth, which is handled before it).
var clientOps = func() map[jute.OpCode]bool {
	m := map[jute.OpCode]bool{}
	for _, op := range []jute.OpCode{
		jute.OpCloseSession, jute.OpCreate, jute.OpCreate2, jute.OpCreateTTL,
		jute.OpCreateContainer, jute.OpDelete, jute.OpDeleteContainer, jute.OpExists,
		jute.OpGetACL, jute.OpGetChildren, jute.OpGetAllChildrenNumber, jute.OpGetChildren2,
		jute.OpGetData, jute.OpGetEphemerals, jute.OpMulti, jute.OpMultiRead, jute.OpPing,
		jute.OpReconfig, jute.OpSetACL, jute.OpSetData, jute.OpSetWatches, jute.OpSetWatches2,
		jute.OpSync, jute.OpCheckWatches, jute.OpRemoveWatches, jute.OpAddWatch, jute.OpWhoAmI,
		jute.OpAuth,
	} {
		m[op] = true
	}
	return m
}()

// answerLocked runs a read (or ping, or sync) and queues its reply. The
// caller holds s.applyMu (shared or exclusive) and c.mu.
func (c *Client) answerLocked(sl *slot, req *Request) {
	s := c.s
	zxid := s.tree.LastZxid()
	switch {
	case sl.reject != jute.CodeOK:
		c.sendLocked(sl, zxid, sl.reject, nil)
	case req.Op == jute.OpPing:
		c.sendLocked(sl, zxid, jute.CodeOK, nil)
	case req.Op == jute.OpSync:
		var r jute.SyncRequest
		if err := jute.Unmarshal(req.Body, &r, s.cfg.JuteMaxBuffer); err != nil {
			c.sendLocked(sl, zxid, jute.CodeMarshallingError, nil)
			return
		}
		resp := jute.SyncResponse(r)
		c.sendReplyLocked(sl, zxid, jute.CodeOK, resp.Encode(c.mu.reply[:0]))
	default:
		w := c.watcher
		if c.mu.detached {
			w = 0
		}
		body, code, events := Read(s.tree, req, w, &s.prepO, c.mu.reply[:0])
		for _, ev := range events {
			c.sink.Event(ev)
		}
		c.sendReplyLocked(sl, zxid, code, body)
	}
}

// complete answers a write with the result of applying its txn (or of
// refusing it), then every reply that is now at the head of the queue.
// The caller holds s.applyMu exclusively.
func (c *Client) complete(sl *slot, zxid int64, op jute.OpCode, res *datatree.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.dead {
		return
	}
	if c.mu.queue.len() == 0 || c.mu.queue.front() != sl {
		// NB: a request ahead of this one is still unanswered: the reply
		// waits in the slot, with a body of its own.
		body, code := WriteResponse(nil, op, res)
		sl.done, sl.zxid, sl.code, sl.body = true, zxid, code, body
		return
	}
	body, code := WriteResponse(c.mu.reply[:0], op, res)
	c.sendReplyLocked(sl, zxid, code, body)
	c.popLocked()
	c.drainLocked()
}

// popLocked removes the slot at the head of the reply queue.
func (c *Client) popLocked() {
	if o := c.mu.queue.front().owner; o != nil {
		o.release(c.s)
	}
	c.mu.queue.pop()
}

// drop gives up on a request whose answer is unknowable, and on every
// request after it: the connection is closing, and a client must not see
// replies past one it never got. The caller holds s.applyMu exclusively.
func (c *Client) drop(sl *slot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sl.dropped = true
	c.drainLocked() // NB: answers what comes before sl, then drops the rest
}

// drainLocked answers the requests at the head of the queue that can be
// answered: ready writes and the reads behind them.
func (c *Client) drainLocked() {
	for c.mu.queue.len() > 0 {
		h := c.mu.queue.front()
		switch {
		case h.read != nil:
			c.answerLocked(h, h.read)
		case h.dropped:
			c.mu.dead = true
			for c.mu.queue.len() > 0 {
				<-c.s.inFlight
				c.popLocked()
			}
			return
		case h.done:
			c.sendLocked(h, h.zxid, h.code, h.body)
		default:
			return
		}
		c.popLocked()
	}
}

// sendLocked hands one reply to the sink and releases its in-flight token.
func (c *Client) sendLocked(sl *slot, zxid int64, code jute.Code, body []byte) {
	c.sink.Reply(sl.xid, zxid, code, body)
	c.s.Stats.record(c.s.sinceStart() - sl.received)
	<-c.s.inFlight
}

// replyBufMax bounds the reply buffer a connection keeps between replies;
// a larger body (a big znode's data) is let go once sent. NB: a
// getChildren of 10,000 children is ~130 KiB; allocating that for each
// call was 550 MB/s of garbage, and with a large tree the collections it
// caused set the p99.
const replyBufMax = 256 << 10

// sendReplyLocked is sendLocked for a body encoded into c.mu.reply; it
// keeps the buffer for the next reply.
func (c *Client) sendReplyLocked(sl *slot, zxid int64, code jute.Code, body []byte) {
	c.sendLocked(sl, zxid, code, body)
	if cap(body) <= replyBufMax {
		c.mu.reply = body[:0]
	} else {
		c.mu.reply = nil
	}
}

// handleAuth adds the authenticated ids to the connection, or fails it as
// ZooKeeper does: an AuthFailed reply, then the connection is closed.
// Auth is answered at once, under the request's own xid, ahead of any
// request still in flight (as ZooKeeper's processPacket does).
func (c *Client) handleAuth(xid int32, body []byte) {
	s := c.s
	var p jute.AuthPacket
	if err := jute.Unmarshal(body, &p, s.cfg.JuteMaxBuffer); err != nil {
		c.sink.Close("malformed auth packet")
		return
	}
	ids, code := AuthenticateIDs(p.Scheme, p.Auth, c.remoteIP, &s.prepO)
	if code != jute.CodeOK {
		s.log.Warn().Str("session", sessionHex(c.session)).Str("scheme", p.Scheme).Str("client", c.remoteIP).Msg("authentication failed")
		c.sink.Reply(xid, 0, jute.CodeAuthFailed, nil)
		c.sink.Close("authentication failed")
		return
	}
	c.mu.Lock()
	auth := slices.Clone(c.mu.auth)
	for _, id := range ids {
		if !slices.Contains(auth, id) {
			auth = append(auth, id)
		}
	}
	c.mu.auth = auth
	c.mu.Unlock()
	c.sink.Reply(xid, 0, jute.CodeOK, nil)
}
