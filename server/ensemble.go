package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokeeper/gokeeper/datatree"
	"github.com/gokeeper/gokeeper/jute"
	"github.com/gokeeper/gokeeper/persistence"
	"github.com/gokeeper/gokeeper/quorum"
	"github.com/gokeeper/gokeeper/quorum/peer"
	"github.com/gokeeper/gokeeper/quorum/transport"
)

// ErrNotServing refuses a client while this member is not part of a
// serving quorum (electing, or syncing with its leader): the client tries
// another server, as it does when ZooKeeper's member has no ZooKeeper
// server running.
var ErrNotServing = errors.New("server: this member is not serving: no quorum")

// ErrNotReadOnlyClient refuses a client that cannot be read-only while
// this member serves read-only clients only (ZooKeeper's "Refusing
// session request for not-read-only client").
var ErrNotReadOnlyClient = errors.New("server: this member serves read-only clients only: no quorum")

// ErrGlobalSessionReadOnly refuses a session made through the quorum
// while this member serves read-only clients only, as ZooKeeper does.
var ErrGlobalSessionReadOnly = errors.New("server: refusing global session reconnection in read-only mode")

// ensemble is a member's part in a replicated ensemble: the quorum peer
// and what the server's write path needs of it. Writes are prepared on
// the leader only; a follower forwards its clients' writes to the leader
// (REQUEST) and answers them when their txn is committed and applied, as
// ZooKeeper's FollowerRequestProcessor and CommitProcessor do. Every
// member applies the committed txns through the one applier.
//
// It implements peer.Storage over the server's store and tree; those
// methods run on the peer's loop.
type ensemble struct {
	s    *Server
	peer *peer.Peer
	el   *transport.Manager

	// Peer loop only.
	start int64 // the log's start: the state's zxid at open or install
	hs    quorum.HardState
	// handed is the last zxid handed to the applier (written by the peer
	// loop).
	handed atomic.Int64
	// readOnly is set while this member, without a quorum, serves reads
	// to read-only clients (readonlymode.enabled), as ZooKeeper's
	// ReadOnlyZooKeeperServer: from max(2 s, tickTime) after it stopped
	// serving until it serves again. Its sessions are local: no txn
	// makes or closes them, and they end with read-only mode.
	readOnly atomic.Bool
	// active is the membership a reconfig activated, nil until one did.
	active atomic.Pointer[activeMembership]

	mu struct {
		sync.Mutex
		status quorum.Status
		// proposed holds the leader's own writes by zxid until applied.
		proposed map[int64]*write
		// forwarded holds a follower's forwarded writes until applied.
		forwarded map[fwdKey]*write
		// syncs holds a learner's forwarded syncs, oldest first, until
		// the leader's SYNC packets answer them.
		syncs []*write
		// roTimer starts read-only mode.
		roTimer *time.Timer
	}
}

type fwdKey struct {
	session int64
	cxid    int32
}

// newEnsemble starts the member's election port and quorum peer. The
// tree holds the snapshot only (recoverSnapshot): the log after it is
// applied as the leader commits it.
func newEnsemble(s *Server) (*ensemble, error) {
	cfg := s.cfg
	self, _ := cfg.Self()
	e := &ensemble{s: s, start: s.tree.LastZxid()}
	e.handed.Store(e.start)
	e.mu.proposed = map[int64]*write{}
	e.mu.forwarded = map[fwdKey]*write{}
	ep, err := s.store.ReadEpochs(e.start)
	if err != nil {
		return nil, err
	}
	e.hs = quorum.HardState{AcceptedEpoch: ep.Accepted, CurrentEpoch: ep.Current}

	tc := transport.DefaultConfig()
	tc.MyID = cfg.ServerID
	tc.ListenAddr = net.JoinHostPort(listenHost(cfg, self.Addrs[0].Host), strconv.Itoa(self.Addrs[0].ElectionPort))
	tc.Peers = map[int64][]string{}
	tc.HandshakeTimeout = time.Duration(cfg.TickTime*cfg.SyncLimit) * time.Millisecond
	tc.Logger = s.log
	tc.Security = cfg.QuorumSecurity
	var servers []peer.Server
	for _, m := range cfg.Servers {
		a := m.Addrs[0]
		tc.Peers[m.ID] = []string{net.JoinHostPort(a.Host, strconv.Itoa(a.ElectionPort))}
		servers = append(servers, peerServer(m))
	}
	el, err := transport.New(tc)
	if err != nil {
		return nil, fmt.Errorf("election port: %w", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(listenHost(cfg, self.Addrs[0].Host), strconv.Itoa(self.Addrs[0].QuorumPort)))
	if err != nil {
		el.Close()
		return nil, fmt.Errorf("quorum port: %w", err)
	}
	tick, core := coreConfig(cfg)
	pc := peer.Config{
		ID: cfg.ServerID, Servers: servers, Listener: ln, Tick: tick, Core: core,
		Security:      cfg.QuorumSecurity,
		ConfigVersion: cfg.ConfigVersion,
		OnMembership:  e.activated,
		MaxBuffer:     cfg.JuteMaxBuffer,
		OnStatus:      e.setStatus,
		OnRequest:     e.request,
		OnPing:        e.pinged,
		OnSync:        e.synced,
		OnRevalidate:  e.revalidated,
		Touches:       e.touches,
		Logger:        s.log,
		Metrics:       s.metrics,
	}
	if cfg.ReconfigEnabled {
		pc.Membership = e.membership
	}
	e.el = el
	if e.peer, err = peer.New(pc, e, el, e.hs, e.start); err != nil {
		el.Close()
		ln.Close()
		return nil, err
	}
	el.ConnectAll()
	return e, nil
}

// peerServer is a member as the peer reaches it.
func peerServer(m QuorumServer) peer.Server {
	a := m.Addrs[0]
	return peer.Server{
		ID: m.ID, QuorumAddr: net.JoinHostPort(a.Host, strconv.Itoa(a.QuorumPort)),
		ElectionAddr: net.JoinHostPort(a.Host, strconv.Itoa(a.ElectionPort)), Observer: m.Type == LearnerObserver,
	}
}

// membership decodes a membership for the peer: from config text, or
// from a txn that is a reconfig (a SetDataTxn of /zookeeper/config with
// the new config text).
func (e *ensemble) membership(data []byte, txn bool) (quorum.Membership, []peer.Server, bool) {
	text := data
	if txn {
		// NB: the TxnHeader's type is at byte 28; only a reconfig is
		// decoded.
		if len(data) < 32 || jute.OpCode(int32(binary.BigEndian.Uint32(data[28:]))) != jute.OpReconfig {
			return quorum.Membership{}, nil, false
		}
		t, err := DecodeTxn(data)
		sd, ok := t.Body.(*jute.SetDataTxn)
		if err != nil || !ok {
			return quorum.Membership{}, nil, false
		}
		text = sd.Data
	}
	servers, version, err := parseMembership(string(text), true)
	if err != nil {
		e.s.log.Warn().Err(err).Msg("a membership that does not parse, ignored")
		return quorum.Membership{}, nil, false
	}
	m := quorum.Membership{Version: version, Text: bytes.Clone(text)}
	var ps []peer.Server
	for _, qs := range servers {
		if qs.Type == LearnerObserver {
			m.Observers = append(m.Observers, qs.ID)
		} else {
			m.Voters = append(m.Voters, qs.ID)
		}
		ps = append(ps, peerServer(qs))
	}
	return m, ps, true
}

// activated persists a membership that became active: the dynamic config
// file, and zoo.cfg pointing at it, so that a restarted member comes back
// in it. It runs on the peer's loop, before any later txn is applied.
func (e *ensemble) activated(m quorum.Membership) error {
	servers, _, err := parseMembership(string(m.Text), true)
	if err != nil {
		return err
	}
	dyn, err := writeDynamicConfig(e.s.cfg.ConfigFile, e.s.cfg.ServerID, servers, m.Version)
	if err != nil {
		return fmt.Errorf("server: dynamic config file: %w", err)
	}
	if quorum.Counter(m.Version) == 0 {
		// NB: a membership with no reconfig txn of its own (an initial
		// config versioned by a leader's epoch, ZOOKEEPER-1783) reaches
		// /zookeeper/config here, as ZooKeeper's initConfigInZKDatabase.
		s := e.s
		s.applyMu.Lock()
		s.deliverLocked(s.tree.SetConfig([]byte(membershipString(servers, m.Version)), m.Version, s.now().UnixMilli()))
		s.applyMu.Unlock()
	}
	e.active.Store(&activeMembership{servers: servers, version: m.Version})
	e.s.log.Info().Str("version", fmt.Sprintf("0x%x", m.Version)).Str("file", dyn).Msg("reconfig: membership active")
	return nil
}

// activeMembership is an activated membership's servers and version.
type activeMembership struct {
	servers []QuorumServer
	version int64
}

// reconfigPending and quorumSynced are the prep's reconfigQuorum.
func (e *ensemble) reconfigPending() bool { return e.peer.ReconfigPending() }

func (e *ensemble) quorumSynced(voters []int64) bool {
	return quorum.QuorumSynced(e.peer.Synced(), voters)
}

func listenHost(cfg Config, host string) string {
	if cfg.QuorumListenOnAllIPs {
		return "0.0.0.0"
	}
	return host
}

// coreConfig returns the quorum core's tick and limits for cfg. NB: the
// core ticks every 20 ms (or tickTime/2 if shorter), so that the
// election's 200 ms finalize wait is 200 ms, not rounded up to the next
// tickTime/2 (a second at ZooKeeper's usual tickTime=2000); the leader
// pings learners every tickTime/2, as ZooKeeper's does.
func coreConfig(cfg Config) (time.Duration, quorum.Config) {
	tickTime := time.Duration(cfg.TickTime) * time.Millisecond
	tick := min(tickTime/2, 20*time.Millisecond)
	return tick, quorum.Config{
		InitLimit:    ticksAtLeast(time.Duration(cfg.InitLimit)*tickTime, tick),
		SyncLimit:    ticksAtLeast(time.Duration(cfg.SyncLimit)*tickTime, tick),
		PingInterval: ticksAtLeast(tickTime/2, tick),
		// ZooKeeper: finalizeWait 200 ms, notifications 200 ms to 60 s.
		FinalizeWait:      ticksAtLeast(200*time.Millisecond, tick),
		MinNotifyInterval: ticksAtLeast(200*time.Millisecond, tick),
		MaxNotifyInterval: ticksAtLeast(60*time.Second, tick),
		// NB: a learner a snapshot interval behind costs less to send the
		// state than the txns.
		MaxDiff:    int64(cfg.SnapCount),
		ConfigText: []byte(cfg.MembershipString()),
	}
}

// ticksAtLeast returns how many ticks cover d, at least 1.
func ticksAtLeast(d, tick time.Duration) int {
	return max(int((d+tick-1)/tick), 1)
}

func (e *ensemble) close() {
	e.peer.Close()
	e.el.Close()
	e.mu.Lock()
	if e.mu.roTimer != nil {
		e.mu.roTimer.Stop()
	}
	e.mu.Unlock()
}

// readOnlyEnabled reports readonlymode.enabled (a JVM system property in
// ZooKeeper, read like Java's Boolean.getBoolean).
func (e *ensemble) readOnlyEnabled() bool {
	return strings.EqualFold(e.s.cfg.SystemProperties["readonlymode.enabled"], "true")
}

// answer answers a client's write here, without a txn.
func (e *ensemble) answer(w *write, code jute.Code) {
	s := e.s
	s.applyMu.Lock()
	w.client.complete(w.slot, s.tree.LastZxid(), w.op, &datatree.Result{Err: code})
	s.applyMu.Unlock()
	s.writeDone(w)
	w.client.sink.Flush()
}

// localWrite handles what a local session's write needs here, and
// reports whether it did: its closeSession ends it without a txn; an
// ephemeral create first upgrades it to a global session (a
// createSession txn) with localSessionsUpgradingEnabled, or fails with
// EphemeralOnLocalSession, as ZooKeeper's checkUpgradeSession decides.
// It runs on the client's Handle goroutine.
func (e *ensemble) localWrite(req *Request, w *write) bool {
	s, c := e.s, w.client
	if req.Op == jute.OpCloseSession {
		s.smu.Lock()
		s.smu.local.remove(c.session)
		s.smu.Unlock()
		e.answer(w, jute.CodeOK)
		s.closedSession(c.session, true)
		return true
	}
	if e.readOnly.Load() || !createsEphemeral(req, s.cfg.JuteMaxBuffer) {
		return false
	}
	if !s.cfg.LocalSessionsUpgradingEnabled {
		e.answer(w, jute.CodeEphemeralOnLocalSession)
		return true
	}
	if code := s.createSession(c.session, c.timeout); code != jute.CodeOK {
		s.abandonWrite(w)
		return true
	}
	s.smu.Lock()
	s.smu.local.remove(c.session)
	s.smu.Unlock()
	c.local = false
	s.log.Info().Str("session", sessionHex(c.session)).Msg("local session upgraded to a global one")
	return false
}

// createsEphemeral reports whether a create, create2 or multi creates an
// ephemeral znode (the ops ZooKeeper upgrades a local session for).
func createsEphemeral(req *Request, maxBuffer int) bool {
	ephemeral := func(flags int32) bool {
		m := jute.CreateMode(flags)
		return m == jute.ModeEphemeral || m == jute.ModeEphemeralSequential
	}
	switch req.Op {
	case jute.OpCreate, jute.OpCreate2:
		var r jute.CreateRequest
		return jute.Unmarshal(req.Body, &r, maxBuffer) == nil && ephemeral(r.Flags)
	case jute.OpMulti:
		ops, _, _ := opsDecodeMulti(req.Body, maxBuffer)
		for _, o := range ops {
			if r, ok := o.req.(*jute.CreateRequest); ok && (o.op == jute.OpCreate || o.op == jute.OpCreate2) && ephemeral(r.Flags) {
				return true
			}
		}
	}
	return false
}

// Status returns what the member is doing.
func (e *ensemble) status() quorum.Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.mu.status
}

// leadingEpoch returns the epoch this member leads and serves, or 0.
func (e *ensemble) leadingEpoch() int64 {
	st := e.status()
	if st.State == quorum.Leading && st.Serving {
		return st.Epoch
	}
	return 0
}

func (e *ensemble) serving() bool { return e.status().Serving }

// setStatus runs on the peer loop when the member's role changes. A
// member that stops serving closes its clients' connections, as a
// ZooKeeper member shuts its ZooKeeperServer down: their sessions live on
// and they reconnect to a serving member; writes whose outcome is not
// known get no answer but the closed connection.
func (e *ensemble) setStatus(st quorum.Status) {
	e.mu.Lock()
	was := e.mu.status
	e.mu.status = st
	var lost []*write
	if !st.Serving || st.State != quorum.Leading {
		for z, w := range e.mu.proposed {
			lost = append(lost, w)
			delete(e.mu.proposed, z)
		}
	}
	if !st.Serving {
		for k, w := range e.mu.forwarded {
			lost = append(lost, w)
			delete(e.mu.forwarded, k)
		}
		lost = append(lost, e.mu.syncs...)
		e.mu.syncs = nil
	}
	e.mu.Unlock()
	for _, w := range lost {
		e.s.abandonWrite(w)
	}
	if was.Serving != st.Serving {
		// NB: local sessions live as long as the member's turn of
		// serving, as with ZooKeeper's server instance for that turn.
		e.s.smu.Lock()
		e.s.smu.local = newSessionTracker(int64(e.s.cfg.TickTime), e.s.sessionMs())
		e.s.smu.Unlock()
	}
	if was.Serving && !st.Serving {
		// NB: the txns committed before the change are answered first: a
		// leader that a reconfig removed hands over right after its
		// commit, and the reconfig's client must get its reply.
		e.applied()
		e.closeClients("member lost its quorum")
	}
	e.readOnlyMode(st.Serving)
	if st.Serving && st.State == quorum.Leading {
		// NB: as ZooKeeper's leader, every session starts a new timeout
		// when leadership begins: the learners' touches were not seen.
		now := e.s.sessionMs()
		e.s.smu.Lock()
		for id, ts := range e.s.smu.tracker.sessions {
			e.s.smu.tracker.touch(id, ts.timeout, now)
		}
		e.s.smu.Unlock()
	}
}

// closeClients closes every client connection of this member.
func (e *ensemble) closeClients(why string) {
	e.s.smu.Lock()
	clients := make([]*Client, 0, len(e.s.smu.clients))
	for _, c := range e.s.smu.clients {
		clients = append(clients, c)
	}
	e.s.smu.Unlock()
	for _, c := range clients {
		c.sink.Close(why)
	}
}

// readOnlyMode starts read-only mode a while after the member stopped
// serving, if enabled, and ends it when it serves again: its clients are
// closed and its local sessions forgotten, as ZooKeeper shuts its
// read-only server down.
func (e *ensemble) readOnlyMode(serving bool) {
	e.mu.Lock()
	if serving {
		if e.mu.roTimer != nil {
			e.mu.roTimer.Stop()
			e.mu.roTimer = nil
		}
		if !e.readOnly.Swap(false) {
			e.mu.Unlock()
			return
		}
		e.mu.Unlock()
		e.s.log.Info().Msg("read-only mode ends: the member serves the quorum again")
		e.closeClients("read-only mode ended")
		return
	}
	defer e.mu.Unlock()
	if !e.readOnlyEnabled() || e.mu.roTimer != nil || e.readOnly.Load() {
		return
	}
	wait := max(2*time.Second, time.Duration(e.s.cfg.TickTime)*time.Millisecond)
	e.mu.roTimer = time.AfterFunc(wait, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.mu.roTimer = nil
		if !e.mu.status.Serving {
			e.readOnly.Store(true)
			e.s.log.Info().Msg("read-only mode: no quorum, serving reads to read-only clients")
		}
	})
}

// submit routes a write in an ensemble: false when the caller should
// prepare it here (this member leads). A follower forwards it; a member
// that is not serving refuses it with a closed connection.
func (e *ensemble) submit(req *Request, w *write) bool {
	if w.client != nil && w.client.local && e.localWrite(req, w) {
		return true
	}
	st := e.status()
	if st.Serving && st.State == quorum.Leading {
		return false
	}
	if req.Session == 0 {
		// NB: server-initiated writes (containers) are the leader's.
		e.s.writeDone(w)
		return true
	}
	switch {
	case !st.Serving && e.readOnly.Load():
		e.s.refuseWrite(w, nil)
		return true
	case !st.Serving:
		e.s.abandonWrite(w)
		return true
	}
	key := fwdKey{req.Session, req.Cxid}
	e.mu.Lock()
	if req.Op == jute.OpSync {
		e.mu.syncs = append(e.mu.syncs, w)
	} else {
		e.mu.forwarded[key] = w
	}
	e.mu.Unlock()
	data := binary.BigEndian.AppendUint64(nil, uint64(req.Session))
	data = binary.BigEndian.AppendUint32(data, uint32(req.Cxid))
	data = binary.BigEndian.AppendUint32(data, uint32(req.Op))
	body := req.Body
	if body == nil && req.decoded != nil {
		body = req.decoded.Encode(nil)
	}
	data = append(data, body...)
	if err := e.peer.Forward(data, req.Auth); err != nil {
		e.mu.Lock()
		delete(e.mu.forwarded, key)
		e.mu.syncs = slices.DeleteFunc(e.mu.syncs, func(s *write) bool { return s == w })
		e.mu.Unlock()
		e.s.abandonWrite(w)
	}
	return true
}

// sync answers a sync on the leader once every txn proposed before it is
// applied: a client's here, through the applier; a learner's with a SYNC
// packet to it.
func (e *ensemble) sync(w *write) {
	if w.client == nil {
		e.peer.Sync(w.req.Learner, nil)
		return
	}
	e.peer.Sync(0, func(err error) {
		if err != nil {
			e.s.abandonWrite(w)
			return
		}
		e.s.applyCh <- w
	})
}

// synced is the leader's SYNC packet on a learner: the oldest forwarded
// sync is answered after the txns applied before it.
func (e *ensemble) synced() {
	e.mu.Lock()
	if len(e.mu.syncs) == 0 {
		e.mu.Unlock()
		return
	}
	w := e.mu.syncs[0]
	e.mu.syncs = e.mu.syncs[1:]
	e.mu.Unlock()
	e.s.applyCh <- w
}

// request is a learner's forwarded REQUEST, on the leader.
func (e *ensemble) request(from int64, data []byte, auth []jute.Id) {
	if len(data) < 16 {
		e.s.log.Warn().Int64("peer", from).Int("bytes", len(data)).Msg("short REQUEST from a learner, dropped")
		return
	}
	req := &Request{
		Session: int64(binary.BigEndian.Uint64(data)),
		Cxid:    int32(binary.BigEndian.Uint32(data[8:])),
		Op:      jute.OpCode(int32(binary.BigEndian.Uint32(data[12:]))),
		Body:    bytes.Clone(data[16:]),
		Auth:    auth,
		Time:    e.s.now().UnixMilli(),
		Learner: from,
	}
	if req.Op == jute.OpCreateSession {
		// NB: the session is tracked from now, as ZooKeeper's leader does
		// when it sees a learner's createSession.
		var cs jute.CreateSessionTxn
		if jute.Unmarshal(req.Body, &cs, len(req.Body)) == nil {
			e.s.smu.Lock()
			e.s.smu.tracker.add(req.Session, cs.TimeOut, e.s.sessionMs())
			e.s.smu.Unlock()
		}
	}
	e.s.submit(req, &write{op: req.Op})
}

// pinged is a learner's PING on the leader: the sessions it touched.
func (e *ensemble) pinged(from int64, data []byte) {
	now := e.s.sessionMs()
	e.s.smu.Lock()
	for ; len(data) >= 12; data = data[12:] {
		id := int64(binary.BigEndian.Uint64(data))
		to := int32(binary.BigEndian.Uint32(data[8:]))
		e.s.smu.tracker.touch(id, to, now)
	}
	e.s.smu.Unlock()
}

// revalidated answers a learner's REVALIDATE on the leader: the session
// is live, and touched with the timeout its client asked for there.
func (e *ensemble) revalidated(session int64, timeout int32) bool {
	e.s.smu.Lock()
	defer e.s.smu.Unlock()
	return e.s.smu.tracker.touch(session, timeout, e.s.sessionMs())
}

// live reports whether a reconnecting client's session is live: the
// leader's word on a learner (REVALIDATE), which alone expires sessions;
// the leader's own tracker on the leader. false with an error: no
// answer, the client should try another member.
func (e *ensemble) live(session int64, timeout int32) (bool, error) {
	if e.leadingEpoch() != 0 {
		return e.revalidated(session, timeout), nil
	}
	wait := time.Duration(e.s.cfg.TickTime*e.s.cfg.SyncLimit) * time.Millisecond
	return e.peer.Revalidate(session, timeout, wait)
}

// touches is what this learner's PING carries: every session with a
// connection here, with its timeout (ZooKeeper sends the ones touched
// since the last ping; a connected session is kept alive either way).
func (e *ensemble) touches() []byte {
	e.s.smu.Lock()
	defer e.s.smu.Unlock()
	out := make([]byte, 0, 12*len(e.s.smu.clients))
	for id, c := range e.s.smu.clients {
		out = binary.BigEndian.AppendUint64(out, uint64(id))
		out = binary.BigEndian.AppendUint32(out, uint32(c.timeout))
	}
	return out
}

// propose hands the leader's prepared writes to the quorum; they are
// applied when committed (Apply).
func (e *ensemble) propose(ws []*write, entries []quorum.Entry) {
	e.mu.Lock()
	for _, w := range ws {
		e.mu.proposed[w.txn.Hdr.Zxid] = w
	}
	e.mu.Unlock()
	e.peer.Propose(entries, func(err error) {
		if err == nil {
			return
		}
		e.mu.Lock()
		var lost []*write
		for _, en := range entries {
			if w, ok := e.mu.proposed[en.Zxid]; ok {
				lost = append(lost, w)
				delete(e.mu.proposed, en.Zxid)
			}
		}
		e.mu.Unlock()
		for _, w := range lost {
			e.s.abandonWrite(w)
		}
	})
}

// The peer.Storage methods, on the peer's loop.

func (e *ensemble) StartZxid() int64 { return e.start }

func (e *ensemble) LastZxid() int64 { return max(e.s.store.LastZxid(), e.start) }

var errStopReplay = errors.New("stop")

func (e *ensemble) Entries(after, upTo int64) []quorum.Entry {
	var out []quorum.Entry
	err := e.s.store.Replay(after, func(en persistence.Entry) error {
		if en.Zxid > upTo {
			return errStopReplay
		}
		out = append(out, quorum.Entry{Zxid: en.Zxid, Data: bytes.Clone(en.Data)})
		return nil
	})
	if err != nil && !errors.Is(err, errStopReplay) {
		e.s.log.Error().Err(err).Msg("cannot read the txn log")
	}
	return out
}

func (e *ensemble) Append(entries []quorum.Entry) error {
	pe := make([]persistence.Entry, len(entries))
	for i, en := range entries {
		pe[i] = persistence.Entry{Zxid: en.Zxid, Data: en.Data}
	}
	done := make(chan error, 1)
	e.s.store.Append(pe, func(err error) { done <- err })
	return <-done
}

func (e *ensemble) TruncateAfter(zxid int64) error { return e.s.store.TruncateAfter(zxid) }

func (e *ensemble) WriteEpochs(hs quorum.HardState) error {
	if hs.AcceptedEpoch != e.hs.AcceptedEpoch {
		if err := e.s.store.WriteAcceptedEpoch(hs.AcceptedEpoch); err != nil {
			return err
		}
	}
	if hs.CurrentEpoch != e.hs.CurrentEpoch {
		if err := e.s.store.WriteCurrentEpoch(hs.CurrentEpoch); err != nil {
			return err
		}
	}
	e.hs = hs
	return nil
}

// Apply hands the committed txns after the last handed one through zxid
// to the applier: the leader's own writes as they are, the others decoded
// from the log, each matched with the local client that forwarded it.
func (e *ensemble) Apply(zxid int64) error {
	var ws []*write
	learner := e.status().State != quorum.Leading
	nowMs := e.s.now().UnixMilli()
	err := e.s.store.Replay(e.handed.Load(), func(en persistence.Entry) error {
		if en.Zxid > zxid {
			return errStopReplay
		}
		e.mu.Lock()
		w, ok := e.mu.proposed[en.Zxid]
		delete(e.mu.proposed, en.Zxid)
		e.mu.Unlock()
		if !ok {
			txn, err := DecodeTxn(en.Data)
			if err != nil {
				return fmt.Errorf("server: committed txn 0x%x: %w", en.Zxid, err)
			}
			w = &write{op: jute.OpCode(txn.Hdr.Type), txn: txn}
			if learner {
				// NB: a learner learns here that the leader's txn committed.
				addLatency(e.s.m.commitPropagationLatency, latencyMs(nowMs, txn.Hdr.Time))
			}
			key := fwdKey{txn.Hdr.ClientId, txn.Hdr.Cxid}
			e.mu.Lock()
			if f, ok := e.mu.forwarded[key]; ok {
				delete(e.mu.forwarded, key)
				w.op, w.client, w.slot, w.done = f.op, f.client, f.slot, f.done
			}
			e.mu.Unlock()
		}
		ws = append(ws, w)
		return nil
	})
	if err != nil && !errors.Is(err, errStopReplay) {
		return err
	}
	if n := len(ws); n > 0 && ws[n-1].txn.Hdr.Zxid != zxid {
		return fmt.Errorf("server: committed through 0x%x but the log ends at 0x%x", zxid, ws[n-1].txn.Hdr.Zxid)
	}
	for _, w := range ws {
		e.s.applyCh <- w
	}
	e.handed.Store(zxid)
	return nil
}

// applied waits until the applier has applied everything handed to it.
func (e *ensemble) applied() {
	for e.s.tree.LastZxid() < e.handed.Load() {
		time.Sleep(time.Millisecond)
	}
}

func (e *ensemble) InstallSnapshot(zxid int64, snap []byte) error {
	e.applied()
	var sessions []persistence.Session
	var nodes []*persistence.Node
	err := persistence.ReadSnapStream(bytes.NewReader(snap), e.s.cfg.JuteMaxBuffer,
		func(ss persistence.Session) { sessions = append(sessions, ss) },
		func(n *persistence.Node) error { nodes = append(nodes, n); return nil })
	if err != nil {
		return err
	}
	if err := e.s.store.InstallSnapshot(zxid, sessions, nodeSource(nodes)); err != nil {
		return err
	}
	s := e.s
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	for _, n := range nodes {
		if err := s.tree.Restore(&datatree.SnapshotNode{Path: n.Path, Data: n.Data, ACL: n.ACL, Stat: n.Stat}); err != nil {
			return err
		}
	}
	s.tree.SetLastZxid(zxid)
	s.prep.Abort()
	s.snapDigest = persistence.ZxidDigest{} // NB: a leader's snapshot is exact
	s.digests.Lock()
	s.digests.log = nil
	s.digests.Unlock()
	now := s.sessionMs()
	s.smu.Lock()
	s.smu.tracker = newSessionTracker(int64(s.cfg.TickTime), now)
	for _, ss := range sessions {
		s.smu.tracker.add(ss.ID, ss.Timeout, now)
	}
	s.smu.Unlock()
	e.start = zxid
	e.handed.Store(zxid)
	return nil
}

// nodeSource yields nodes, in the order read, as a snapshot's tree.
func nodeSource(nodes []*persistence.Node) persistence.SnapshotSource {
	return func(acls func([][]jute.ACL) error, node func(*persistence.Node) error) error {
		// NB: the nodes of a read snapshot share their ACL lists, so a
		// list is known by its first element (the cache dedupes content).
		seen := map[*jute.ACL]bool{}
		var lists [][]jute.ACL
		for _, n := range nodes {
			var first *jute.ACL // nil for an empty list
			if len(n.ACL) > 0 {
				first = &n.ACL[0]
			}
			if !seen[first] {
				seen[first] = true
				lists = append(lists, n.ACL)
			}
		}
		if err := acls(lists); err != nil {
			return err
		}
		for _, n := range nodes {
			if err := node(n); err != nil {
				return err
			}
		}
		return nil
	}
}

// WriteSnapshot writes the state at zxid, which the peer has just handed
// to the applier, as a SNAP stream.
func (e *ensemble) WriteSnapshot(w io.Writer, zxid int64) error {
	e.applied()
	s := e.s
	s.applyMu.RLock()
	defer s.applyMu.RUnlock()
	if got := s.tree.LastZxid(); got != zxid {
		return fmt.Errorf("server: snapshot for a learner at 0x%x, but the state is at 0x%x", zxid, got)
	}
	return persistence.WriteSnapStream(w, s.sessionList(), s.treeSource())
}
