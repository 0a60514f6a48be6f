package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
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

	mu struct {
		sync.Mutex
		status quorum.Status
		// proposed holds the leader's own writes by zxid until applied.
		proposed map[int64]*write
		// forwarded holds a follower's forwarded writes until applied.
		forwarded map[fwdKey]*write
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
	var servers []peer.Server
	for _, m := range cfg.Servers {
		a := m.Addrs[0]
		tc.Peers[m.ID] = []string{net.JoinHostPort(a.Host, strconv.Itoa(a.ElectionPort))}
		servers = append(servers, peer.Server{ID: m.ID, QuorumAddr: net.JoinHostPort(a.Host, strconv.Itoa(a.QuorumPort)), Observer: m.Type == LearnerObserver})
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
	// NB: the core ticks at half the tickTime so that the leader pings
	// learners every tickTime/2, as ZooKeeper's does; limits counted in
	// tickTime count twice.
	tick := time.Duration(cfg.TickTime) * time.Millisecond / 2
	pc := peer.Config{
		ID: cfg.ServerID, Servers: servers, Listener: ln, Tick: tick,
		Core: quorum.Config{
			InitLimit: 2 * cfg.InitLimit, SyncLimit: 2 * cfg.SyncLimit, PingInterval: 1,
			// ZooKeeper: finalizeWait 200 ms, notifications 200 ms to 60 s.
			FinalizeWait:      ticksAtLeast(200*time.Millisecond, tick),
			MinNotifyInterval: ticksAtLeast(200*time.Millisecond, tick),
			MaxNotifyInterval: ticksAtLeast(60*time.Second, tick),
			ConfigText:        []byte(cfg.MembershipString()),
		},
		ConfigVersion: cfg.ConfigVersion,
		MaxBuffer:     cfg.JuteMaxBuffer,
		OnStatus:      e.setStatus,
		OnRequest:     e.request,
		OnPing:        e.pinged,
		Touches:       e.touches,
		Logger:        s.log,
		Metrics:       s.metrics,
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

func listenHost(cfg Config, host string) string {
	if cfg.QuorumListenOnAllIPs {
		return "0.0.0.0"
	}
	return host
}

// ticksAtLeast returns how many ticks cover d, at least 1.
func ticksAtLeast(d, tick time.Duration) int {
	return max(int((d+tick-1)/tick), 1)
}

func (e *ensemble) close() {
	e.peer.Close()
	e.el.Close()
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
	}
	e.mu.Unlock()
	for _, w := range lost {
		e.s.abandonWrite(w)
	}
	if was.Serving && !st.Serving {
		e.s.smu.Lock()
		clients := make([]*Client, 0, len(e.s.smu.clients))
		for _, c := range e.s.smu.clients {
			clients = append(clients, c)
		}
		e.s.smu.Unlock()
		for _, c := range clients {
			c.sink.Close("member lost its quorum")
		}
	}
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

// submit routes a write in an ensemble: false when the caller should
// prepare it here (this member leads). A follower forwards it; a member
// that is not serving refuses it with a closed connection.
func (e *ensemble) submit(req *Request, w *write) bool {
	st := e.status()
	if st.Serving && st.State == quorum.Leading {
		return false
	}
	if req.Session == 0 {
		// NB: server-initiated writes (containers) are the leader's.
		e.s.writeDone(w)
		return true
	}
	if !st.Serving {
		e.s.abandonWrite(w)
		return true
	}
	key := fwdKey{req.Session, req.Cxid}
	e.mu.Lock()
	e.mu.forwarded[key] = w
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
		e.mu.Unlock()
		e.s.abandonWrite(w)
	}
	return true
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
		seen := map[string]bool{}
		var lists [][]jute.ACL
		for _, n := range nodes {
			k := fmt.Sprint(n.ACL)
			if !seen[k] {
				seen[k] = true
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
