package peer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/internal/metrics"
	"github.com/gokeeper/gokeeper/jute"
	"github.com/gokeeper/gokeeper/persistence"
	"github.com/gokeeper/gokeeper/quorum"
	"github.com/gokeeper/gokeeper/quorum/transport"
)

// Errors a proposal's done callback may get.
var (
	// ErrNotLeader: this member is not the established leader.
	ErrNotLeader = errors.New("peer: not the established leader")
	// ErrLeadershipLost: the leader stepped down with the proposal
	// logged but not known committed; a later leader may still commit it.
	ErrLeadershipLost = errors.New("peer: leadership lost, outcome unknown")
	// ErrStopped: the peer stopped.
	ErrStopped = errors.New("peer: stopped")
)

// Storage is a member's durable state and state machine, as the peer
// drives them. The server implements it over persistence and datatree.
// Every method is called from the peer's loop only.
type Storage interface {
	quorum.Log
	// Append makes txns durable after the last logged one.
	Append(entries []quorum.Entry) error
	// TruncateAfter durably drops the logged txns after zxid.
	TruncateAfter(zxid int64) error
	// InstallSnapshot replaces state and log with a leader's snapshot at
	// zxid: snap is the SNAP stream that followed the SNAP packet.
	InstallSnapshot(zxid int64, snap []byte) error
	// WriteEpochs durably records acceptedEpoch and currentEpoch.
	WriteEpochs(hs quorum.HardState) error
	// Apply applies the logged txns after the state's zxid through zxid.
	Apply(zxid int64) error
	// WriteSnapshot writes the state, which is at zxid, as a SNAP stream.
	WriteSnapshot(w io.Writer, zxid int64) error
}

// Elector carries election messages: transport.Manager.
type Elector interface {
	Send(sid int64, msg []byte) error
	Recv() <-chan transport.Message
	Close() error
}

// Server is one member as the peer reaches it.
type Server struct {
	ID         int64
	QuorumAddr string
	// ElectionAddr is its election port's address; empty: unknown.
	ElectionAddr string
	Observer     bool
}

// Config is what a peer needs besides its storage and elector.
type Config struct {
	// ID is this member's sid.
	ID int64
	// Servers lists every member, this one included.
	Servers []Server
	// Listener is the quorum port, already listening; the peer closes it.
	Listener net.Listener
	// Security secures the quorum connections as the election's
	// (sslQuorum, portUnification, quorum SASL); nil is plaintext.
	Security *transport.Security
	// Tick is the core's tick; Core's limits count in it.
	Tick time.Duration
	// Core holds the core's limits; its ID, Voters and Observers are
	// filled from Servers.
	Core quorum.Config
	// ConfigVersion is the version of Servers, the last activated
	// membership (the core's Config.Version).
	ConfigVersion int64
	// Membership, if set, turns on reconfig (reconfigEnabled): it decodes
	// a membership from a txn's data (txn true: false when the txn is not
	// a reconfig) or from config text (NEWLEADER, notifications), with
	// the members' addresses. Nil: the membership never changes, and the
	// config in packets is ignored, as ZooKeeper's with reconfig off.
	Membership func(data []byte, txn bool) (quorum.Membership, []Server, bool)
	// OnMembership, if set, is called from the loop when a membership
	// becomes active, before any txn after it is applied: the server
	// persists it (the dynamic config file).
	OnMembership func(quorum.Membership) error
	// MaxBuffer bounds a packet's fields and the SNAP stream's lengths
	// (jute.maxbuffer).
	MaxBuffer int
	// OnStatus, if set, is called from the peer's loop when the member's
	// status changes.
	OnStatus func(quorum.Status)
	// OnRequest, if set, gets the REQUEST packets learners forward to
	// this leader (a session's request, as ZooKeeper's Request is
	// serialized: session id, cxid, op, body). It is called from the
	// connection's reader and must not block long.
	OnRequest func(from int64, data []byte, auth []jute.Id)
	// OnPing, if set, gets what a learner's PING carries to this leader:
	// the sessions it saw activity on (session id, timeout), which keep
	// them alive. Called from the connection's reader.
	OnPing func(from int64, data []byte)
	// Touches, if set, gives what this learner's PING replies carry:
	// the sessions touched since the last call. Called from the loop.
	Touches func() []byte
	// OnRevalidate, if set, answers a learner's REVALIDATE on this
	// leader: whether the session is live, which touches it with the
	// timeout. Called from the connection's reader.
	OnRevalidate func(session int64, timeout int32) bool
	// OnSync, if set, gets each SYNC packet this learner's leader sends:
	// the answer to the oldest sync it forwarded, which arrives after the
	// COMMITs of every txn proposed before that sync. Called from the
	// loop, after those txns were handed to Storage.Apply.
	OnSync func()
	Logger zerolog.Logger
	// Metrics is the registry the peer records ZooKeeper's quorum
	// metrics in (election_time, proposal_count, ...); nil records
	// nowhere.
	Metrics *metrics.Registry
}

// Peer runs a quorum.Node: the election messages through its Elector,
// one TCP connection per learner on the quorum port, the ticks of a
// timer, and its Storage for what must be durable or applied.
type Peer struct {
	cfg     Config
	log     zerolog.Logger
	node    *quorum.Node
	storage Storage
	elector Elector
	ln      net.Listener
	// addrs and eaddrs are every member's quorum and election address
	// that this member learned (loop only).
	addrs, eaddrs map[int64]string
	// synced is, on an established leader, itself and its synced
	// followers (quorum.Node.Synced); reconfigPending mirrors the node's.
	synced          atomic.Pointer[[]int64]
	reconfigPending atomic.Bool

	events chan event
	stop   chan struct{}
	wg     sync.WaitGroup
	nextID atomic.Uint64

	// Loop state.
	conns map[uint64]*conn
	// parked holds the learner handshakes that arrived before this
	// member led: a ZooKeeper leader accepts learners only once it
	// leads, and a learner that decided first must not lose its turn.
	parked   []quorum.Message
	leader   atomic.Pointer[conn] // a learner's connection to its leader, once serving
	applied  int64
	pending  []proposal
	failed   error
	statusMu sync.Mutex
	status   quorum.Status
	m        *peerMetrics
	// lookingSince is when the member last started looking (loop only).
	lookingSince time.Time

	// revalidating holds a learner's REVALIDATEs waiting for the
	// leader's answer, by session.
	revalidating struct {
		sync.Mutex
		m map[int64][]chan bool
	}
}

// proposal is what waits for the txns proposed through last to be
// committed and applied: a Propose's callback, or a Sync.
type proposal struct {
	last    int64
	learner int64 // a Sync's learner, sent SYNC then; 0 for none
	done    func(error)
	entries []quorum.Entry // for the metrics once committed
}

// finish completes a proposal whose txns are applied.
func (p *Peer) finish(pr proposal) {
	if pr.learner != 0 {
		p.sendSync(pr.learner)
	}
	if pr.done != nil {
		pr.done(nil)
	}
}

// event is what the loop is woken by, besides ticks and votes.
type event struct {
	msg      *quorum.Message
	accepted *conn
	gone     *conn
	entries  []quorum.Entry
	done     func(error)
	sync     bool // Sync; learner is its learner
	learner  int64
	synced   bool // the leader's SYNC packet
}

// New starts a peer from the durable state storage holds: hs its epochs
// and applied the zxid of its state.
func New(cfg Config, storage Storage, elector Elector, hs quorum.HardState, applied int64) (*Peer, error) {
	core := cfg.Core
	core.ID = cfg.ID
	core.Voters, core.Observers = nil, nil
	core.Version = cfg.ConfigVersion
	p := &Peer{
		cfg: cfg, storage: storage, elector: elector, ln: cfg.Listener,
		addrs: map[int64]string{}, eaddrs: map[int64]string{},
		events: make(chan event, 1024), stop: make(chan struct{}),
		conns: map[uint64]*conn{}, applied: applied, lookingSince: time.Now(),
		m: newPeerMetrics(cfg.Metrics, time.Now()),
	}
	self := false
	for _, s := range cfg.Servers {
		if s.Observer {
			core.Observers = append(core.Observers, s.ID)
		} else {
			core.Voters = append(core.Voters, s.ID)
		}
		self = self || s.ID == cfg.ID
	}
	if !self {
		return nil, fmt.Errorf("peer: server %d is not in the server list", cfg.ID)
	}
	p.learn(cfg.Servers)
	if cfg.Membership != nil {
		core.Reconfig = func(data []byte) *quorum.Membership {
			m, servers, ok := cfg.Membership(data, true)
			if !ok {
				return nil
			}
			p.learn(servers)
			return &m
		}
	}
	p.log = cfg.Logger.With().Int64("sid", cfg.ID).Logger()
	core.Logf = func(format string, args ...any) { p.log.Info().Msgf(format, args...) }
	node, err := quorum.New(core, storage, hs, applied)
	if err != nil {
		return nil, err
	}
	if cfg.Listener == nil {
		return nil, errors.New("peer: no quorum port listener")
	}
	p.node = node
	p.revalidating.m = map[int64][]chan bool{}
	p.wg.Add(2)
	go p.acceptLoop()
	go p.loop()
	return p, nil
}

// learn records members' addresses; the elector learns their election
// ports (members are never forgotten: a removed one may come back).
func (p *Peer) learn(servers []Server) {
	changed := false
	for _, s := range servers {
		p.addrs[s.ID] = s.QuorumAddr
		if s.ElectionAddr != "" && p.eaddrs[s.ID] != s.ElectionAddr {
			p.eaddrs[s.ID] = s.ElectionAddr
			changed = true
		}
	}
	sp, ok := p.elector.(interface{ SetPeers(map[int64][]string) })
	if !changed || !ok {
		return
	}
	peers := map[int64][]string{}
	for id, a := range p.eaddrs {
		peers[id] = []string{a}
	}
	sp.SetPeers(peers)
}

// parseConfig decodes config text, learning its members' addresses; nil
// when reconfig is off or the text does not parse.
func (p *Peer) parseConfig(text []byte) *quorum.Membership {
	if p.cfg.Membership == nil || len(text) == 0 {
		return nil
	}
	m, servers, ok := p.cfg.Membership(text, false)
	if !ok {
		return nil
	}
	p.learn(servers)
	return &m
}

// ReconfigPending reports whether a reconfig is logged and not yet known
// committed.
func (p *Peer) ReconfigPending() bool { return p.reconfigPending.Load() }

// Synced returns, on an established leader, itself and the followers it
// forwards to; nil on any other member.
func (p *Peer) Synced() []int64 {
	if s := p.synced.Load(); s != nil {
		return *s
	}
	return nil
}

// QuorumAddr is the address the quorum port listens on.
func (p *Peer) QuorumAddr() net.Addr { return p.ln.Addr() }

// Status returns the member's last status.
func (p *Peer) Status() quorum.Status {
	p.statusMu.Lock()
	defer p.statusMu.Unlock()
	return p.status
}

// Propose has the established leader propose txns, whose zxids must
// follow the last proposed one in its epoch. done runs on the peer's loop
// once all of them are committed and applied, or with the error that
// stopped them.
func (p *Peer) Propose(entries []quorum.Entry, done func(error)) {
	select {
	case <-p.stop:
		done(ErrStopped)
		return
	default:
	}
	select {
	case p.events <- event{entries: entries, done: done}:
	case <-p.stop:
		done(ErrStopped)
	}
}

// Sync has the established leader wait until every txn proposed before
// the call is committed and applied, then send learner (if not 0) a SYNC
// packet, after those txns' COMMITs, and run done (if not nil) on the
// peer's loop; done gets the error that stopped it instead. This is how a
// sync completes after every earlier commit (ZooKeeper's processSync).
func (p *Peer) Sync(learner int64, done func(error)) {
	select {
	case p.events <- event{sync: true, learner: learner, done: done}:
	case <-p.stop:
		if done != nil {
			done(ErrStopped)
		}
	}
}

// Forward sends a request to the leader this learner follows: ZooKeeper's
// REQUEST packet, data as Config.OnRequest gets it. It fails while the
// member is not a serving learner.
func (p *Peer) Forward(data []byte, auth []jute.Id) error {
	c := p.leader.Load()
	if c == nil {
		return ErrNotLeader
	}
	c.enqueue(jute.QuorumPacket{Type: int32(jute.PacketRequest), Data: data, Authinfo: auth}, nil)
	return nil
}

// ErrNoAnswer: the leader did not answer in time.
var ErrNoAnswer = errors.New("peer: no answer from the leader")

// Revalidate asks the leader this learner follows whether a session is
// still live, as a ZooKeeper learner does before it takes a reconnecting
// client (REVALIDATE): the leader touches it with timeout if so.
func (p *Peer) Revalidate(session int64, timeout int32, wait time.Duration) (bool, error) {
	c := p.leader.Load()
	if c == nil {
		return false, ErrNotLeader
	}
	ch := make(chan bool, 1)
	p.revalidating.Lock()
	p.revalidating.m[session] = append(p.revalidating.m[session], ch)
	p.revalidating.Unlock()
	data := binary.BigEndian.AppendUint64(nil, uint64(session))
	data = binary.BigEndian.AppendUint32(data, uint32(timeout))
	c.enqueue(jute.QuorumPacket{Type: int32(jute.PacketRevalidate), Zxid: -1, Data: data}, nil)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case valid := <-ch:
		return valid, nil
	case <-t.C:
	case <-p.stop:
	}
	p.revalidating.Lock()
	p.revalidating.m[session] = slices.DeleteFunc(p.revalidating.m[session], func(w chan bool) bool { return w == ch })
	if len(p.revalidating.m[session]) == 0 {
		delete(p.revalidating.m, session)
	}
	p.revalidating.Unlock()
	return false, ErrNoAnswer
}

// revalidated delivers the leader's answer to the oldest REVALIDATE of
// its session.
func (p *Peer) revalidated(data []byte) {
	if len(data) < 9 {
		return
	}
	session, valid := int64(binary.BigEndian.Uint64(data)), data[8] != 0
	p.revalidating.Lock()
	defer p.revalidating.Unlock()
	if ws := p.revalidating.m[session]; len(ws) > 0 {
		ws[0] <- valid
		if p.revalidating.m[session] = ws[1:]; len(ws) == 1 {
			delete(p.revalidating.m, session)
		}
	}
}

// revalidate answers a learner's REVALIDATE on connection c.
func (p *Peer) revalidate(c *conn, data []byte) {
	p.m.revalidates.Add(1)
	if len(data) < 12 || p.cfg.OnRevalidate == nil {
		return
	}
	session, timeout := int64(binary.BigEndian.Uint64(data)), int32(binary.BigEndian.Uint32(data[8:]))
	valid := byte(0)
	if p.cfg.OnRevalidate(session, timeout) {
		valid = 1
	}
	reply := append(binary.BigEndian.AppendUint64(nil, uint64(session)), valid)
	c.enqueue(jute.QuorumPacket{Type: int32(jute.PacketRevalidate), Zxid: -1, Data: reply}, nil)
}

// Close stops the peer: connections closed, pending proposals failed.
func (p *Peer) Close() error {
	select {
	case <-p.stop:
		return nil
	default:
	}
	close(p.stop)
	p.ln.Close()
	p.wg.Wait()
	// NB: what reached the loop's queue as it stopped.
	for {
		select {
		case ev := <-p.events:
			if ev.accepted != nil {
				ev.accepted.nc.Close()
			}
			if ev.done != nil {
				ev.done(ErrStopped)
			}
		default:
			return p.failed
		}
	}
}

func (p *Peer) acceptLoop() {
	defer p.wg.Done()
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			select {
			case <-p.stop:
				return
			default:
			}
			p.log.Warn().Err(err).Msg("quorum port accept failed")
			time.Sleep(50 * time.Millisecond)
			continue
		}
		p.post(event{accepted: p.newConn(p.nextID.Add(1), 0, nc)})
	}
}

// loop is the only goroutine that touches the node and the storage.
func (p *Peer) loop() {
	defer p.wg.Done()
	t := time.NewTicker(p.cfg.Tick)
	defer t.Stop()
	p.handleReady()
	for p.failed == nil {
		select {
		case <-p.stop:
			p.shutdown(ErrStopped)
			return
		case <-t.C:
			p.node.Tick()
		case m := <-p.elector.Recv():
			n, err := transport.DecodeNotification(m.Data)
			if err != nil {
				p.log.Debug().Err(err).Int64("peer", m.From).Msg("dropped an election message")
				continue
			}
			if v, ok := DecodeVote(n); ok {
				v.Config = p.parseConfig([]byte(n.Config))
				p.node.Step(quorum.Message{From: m.From, To: p.cfg.ID, Vote: &v})
			}
		case ev := <-p.events:
			p.handleEvent(ev)
			p.drainEvents()
		}
		p.handleReady()
		if len(p.parked) > 0 && p.status.State == quorum.Leading {
			parked := p.parked
			p.parked = nil
			for _, m := range parked {
				if p.conns[m.Conn] != nil {
					p.node.Step(m)
				}
			}
			p.handleReady()
		}
	}
	// NB: a member that cannot make its state durable or apply it stops
	// now, not at Close: it drops its quorum connections, so that its
	// leader or its learners move on at once rather than after
	// syncLimit, and it no longer says it leads or follows (srvr, mntr).
	p.shutdown(p.failed)
	p.setStatus(quorum.Status{State: quorum.Looking, Why: "stopped: " + p.failed.Error()})
	<-p.stop
}

// maxDrain bounds the events taken into one Ready.
const maxDrain = 1024

// drainEvents takes the events already queued, so that one Ready (one
// fsync) serves every proposal and ACK that arrived during the last one:
// group commit on the leader and on its learners alike.
func (p *Peer) drainEvents() {
	for range maxDrain {
		select {
		case ev := <-p.events:
			p.handleEvent(ev)
		default:
			return
		}
	}
}

func (p *Peer) handleEvent(ev event) {
	switch {
	case ev.msg != nil:
		m := *ev.msg
		if m.Type == jute.PacketNewLeader {
			m.Config = p.parseConfig(m.Data)
		}
		p.m.received(p.status, m, time.Now())
		if (m.Type == jute.PacketFollowerInfo || m.Type == jute.PacketObserverInfo) && p.status.State != quorum.Leading {
			p.parked = append(p.parked, m)
			return
		}
		p.node.Step(m)
	case ev.accepted != nil:
		p.conns[ev.accepted.id] = ev.accepted
		ev.accepted.start(p)
	case ev.gone != nil:
		c := ev.gone
		if p.conns[c.id] == c {
			delete(p.conns, c.id)
			p.node.Disconnected(c.peerID(), c.id)
		}
		p.leader.CompareAndSwap(c, nil)
		p.parked = slices.DeleteFunc(p.parked, func(m quorum.Message) bool { return m.Conn == c.id })
	case ev.synced:
		// NB: the COMMITs that came before the SYNC are applied first,
		// though their events were drained into the same Ready.
		p.handleReady()
		if p.cfg.OnSync != nil {
			p.cfg.OnSync()
		}
	case ev.sync:
		pr := proposal{learner: ev.learner, done: ev.done}
		switch {
		case p.status.State != quorum.Leading || !p.status.Serving:
			if ev.done != nil {
				ev.done(ErrNotLeader)
			}
		case len(p.pending) > 0:
			pr.last = p.pending[len(p.pending)-1].last
			p.pending = append(p.pending, pr)
		default:
			p.finish(pr)
		}
	case ev.done != nil:
		for i, e := range ev.entries {
			if err := p.node.Propose(e.Zxid, e.Data); err != nil {
				p.m.proposed(ev.entries[:i])
				if errors.Is(err, quorum.ErrNotLeader) {
					err = ErrNotLeader
				}
				ev.done(err)
				return
			}
		}
		p.m.proposed(ev.entries)
		if len(ev.entries) > 0 {
			p.pending = append(p.pending, proposal{last: ev.entries[len(ev.entries)-1].Zxid, done: ev.done, entries: ev.entries})
		} else {
			ev.done(nil)
		}
	}
}

// handleReady does what the node asks, in the order quorum.Ready states.
func (p *Peer) handleReady() {
	for p.failed == nil && p.node.HasReady() {
		rd := p.node.Ready()
		if rd.SendFirst {
			for _, m := range rd.Messages {
				p.send(m)
			}
		}
		// NB: before the commits are applied and answered: a reconfig's
		// client may send the next one at once.
		p.reconfigPending.Store(p.node.ReconfigPending())
		if err := p.persist(&rd); err != nil {
			p.failed = err
			p.m.unrecoverable.Add(1)
			p.log.Error().Err(err).Msg("cannot make the quorum state durable: stopping this member")
			return
		}
		if !rd.SendFirst {
			for _, m := range rd.Messages {
				p.send(m)
			}
		}
		for _, c := range rd.Closes {
			if cn := p.conns[c.Conn]; cn != nil {
				delete(p.conns, c.Conn)
				p.leader.CompareAndSwap(cn, nil)
				cn.close()
			}
		}
		if rd.CommitTo > p.applied {
			if err := p.apply(rd.CommitTo); err != nil {
				p.failed = err
				return
			}
		}
		if rd.Status != nil {
			p.setStatus(*rd.Status)
		}
		p.node.Advance()
	}
	synced := p.node.Synced()
	p.synced.Store(&synced)
	p.reconfigPending.Store(p.node.ReconfigPending())
	p.m.leaderNow(p.node, p.pending)
}

func (p *Peer) persist(rd *quorum.Ready) error {
	if s := rd.Snapshot; s != nil {
		if err := p.storage.InstallSnapshot(s.Zxid, s.Data); err != nil {
			return err
		}
		p.applied = s.Zxid
		p.log.Info().Str("zxid", zx(s.Zxid)).Int("bytes", len(s.Data)).Msg("installed the leader's snapshot")
	}
	if rd.Truncate {
		if err := p.storage.TruncateAfter(rd.TruncateAfter); err != nil {
			return err
		}
		p.log.Info().Str("zxid", zx(rd.TruncateAfter)).Msg("truncated the txn log as the leader said")
	}
	if len(rd.Entries) > 0 {
		if err := p.storage.Append(rd.Entries); err != nil {
			return err
		}
		p.m.logged(p.status, rd.Entries, time.Now())
	}
	if rd.HardState != nil {
		if err := p.storage.WriteEpochs(*rd.HardState); err != nil {
			return err
		}
	}
	if m := rd.Membership; m != nil {
		p.parseConfig(m.Text)
		p.log.Info().Str("version", zx(m.Version)).Ints64("voters", m.Voters).Ints64("observers", m.Observers).Msg("membership activated")
		if p.cfg.OnMembership != nil {
			if err := p.cfg.OnMembership(*m); err != nil {
				return err
			}
		}
	}
	return nil
}

// apply applies through zxid and completes the proposals it commits.
func (p *Peer) apply(zxid int64) error {
	if err := p.storage.Apply(zxid); err != nil {
		p.m.unrecoverable.Add(1)
		p.log.Error().Err(err).Str("zxid", zx(zxid)).Msg("cannot apply committed txns: stopping this member")
		return err
	}
	p.applied = zxid
	now := time.Now()
	for len(p.pending) > 0 && p.pending[0].last <= zxid {
		p.m.committed(p.pending[0].entries, now)
		p.finish(p.pending[0])
		p.pending = p.pending[1:]
	}
	return nil
}

func (p *Peer) setStatus(st quorum.Status) {
	p.m.status(p.status, st, time.Now())
	p.statusMu.Lock()
	was := p.status
	p.status = st
	p.statusMu.Unlock()
	ev := p.log.Info().Str("state", st.State.String()).Int64("leader", st.Leader).Int64("epoch", st.Epoch).Bool("serving", st.Serving)
	if st.Why != "" {
		ev = ev.Str("why", st.Why)
	}
	ev.Msg("quorum status")
	switch {
	case st.State == quorum.Looking && (was.State != quorum.Looking || p.lookingSince.IsZero()):
		p.lookingSince = time.Now()
	case st.State != quorum.Looking && was.State == quorum.Looking && !p.lookingSince.IsZero():
		// NB: as ZooKeeper's "LEADER ELECTION TOOK" line: from LOOKING to
		// the vote's outcome, before discovery and sync.
		p.log.Info().Str("state", st.State.String()).Int64("leader", st.Leader).
			Dur("took", time.Since(p.lookingSince)).Msg("leader election finished")
	}
	if !(st.State == quorum.Leading && st.Serving) {
		p.failPending(ErrLeadershipLost)
	}
	p.leader.Store(nil)
	if st.Serving && st.State != quorum.Leading {
		for _, c := range p.conns {
			if c.id&dialBit != 0 && c.peerID() == st.Leader {
				p.leader.Store(c)
			}
		}
	}
	if p.cfg.OnStatus != nil {
		p.cfg.OnStatus(st)
	}
}

func (p *Peer) failPending(err error) {
	for _, pr := range p.pending {
		if pr.done != nil {
			pr.done(err)
		}
	}
	p.pending = nil
}

// sendSync sends a learner the SYNC packet that answers its oldest
// forwarded sync, on its newest connection.
func (p *Peer) sendSync(learner int64) {
	var to *conn
	for _, c := range p.conns {
		if c.id&dialBit == 0 && c.peerID() == learner && (to == nil || c.id > to.id) {
			to = c
		}
	}
	if to != nil {
		to.enqueue(jute.QuorumPacket{Type: int32(jute.PacketSync)}, nil)
	}
}

// send hands a message to the elector or to its connection; a leader's
// SNAP gets the state at its zxid, serialized now.
func (p *Peer) send(m quorum.Message) {
	if m.Vote != nil {
		config := p.cfg.Core.ConfigText
		if c := m.Vote.Config; c != nil {
			config = ConfigText(c)
		}
		n := EncodeVote(*m.Vote, string(config))
		if err := p.elector.Send(m.To, n.Encode(nil)); err != nil {
			p.log.Debug().Err(err).Int64("peer", m.To).Msg("vote not sent")
		}
		return
	}
	p.m.sent(p.status, m)
	c := p.conns[m.Conn]
	if c == nil {
		if m.Conn&dialBit == 0 || (m.Type != jute.PacketFollowerInfo && m.Type != jute.PacketObserverInfo) {
			return // the connection is gone
		}
		c = p.newConn(m.Conn, m.To, nil)
		p.conns[c.id] = c
		c.start(p)
	}
	var snap []byte
	if m.Type == jute.PacketSnap {
		if m.Zxid > p.applied {
			if err := p.apply(m.Zxid); err != nil {
				p.failed = err
				return
			}
		}
		var buf bytes.Buffer
		if err := p.storage.WriteSnapshot(&buf, m.Zxid); err != nil {
			p.log.Error().Err(err).Msg("cannot serialize a snapshot for a learner")
			delete(p.conns, c.id)
			c.close()
			return
		}
		snap = buf.Bytes()
	}
	if m.Type == jute.PacketNewLeader && m.Config != nil {
		m.Data = ConfigText(m.Config)
	}
	if m.Type == jute.PacketPing && m.Conn&dialBit != 0 && p.cfg.Touches != nil {
		m.Data = p.cfg.Touches()
	}
	c.enqueue(EncodePacket(m, p.node.Membership().Version), snap)
}

// dialBit marks the connections a learner dials (quorum.Message.Conn).
const dialBit = uint64(1) << 63

func (p *Peer) shutdown(err error) {
	for id, c := range p.conns {
		delete(p.conns, id)
		c.close()
	}
	p.failPending(err)
}

// post hands an event to the loop unless the peer stopped.
func (p *Peer) post(ev event) {
	select {
	case p.events <- ev:
	case <-p.stop:
	}
}

// conn is one quorum-port connection: a learner's to its leader (dialled,
// id with the top bit set) or one a leader accepted.
type conn struct {
	id       uint64
	peer     atomic.Int64 // the other member's sid, once known
	dialTo   string
	nc       net.Conn
	mu       sync.Mutex
	queue    []outPacket
	wake     chan struct{}
	done     chan struct{}
	closeOne sync.Once
}

type outPacket struct {
	qp   jute.QuorumPacket
	snap []byte
}

func (p *Peer) newConn(id uint64, peerID int64, nc net.Conn) *conn {
	c := &conn{id: id, nc: nc, wake: make(chan struct{}, 1), done: make(chan struct{})}
	c.peer.Store(peerID)
	if nc == nil {
		c.dialTo = p.addrs[peerID]
	}
	return c
}

func (c *conn) peerID() int64 { return c.peer.Load() }

func (c *conn) enqueue(qp jute.QuorumPacket, snap []byte) {
	c.mu.Lock()
	c.queue = append(c.queue, outPacket{qp, snap})
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *conn) close() {
	c.closeOne.Do(func() {
		close(c.done)
		c.mu.Lock()
		if c.nc != nil {
			c.nc.Close()
		}
		c.mu.Unlock()
	})
}

// start runs the connection's writer, which dials first if needed and
// then starts its reader.
func (c *conn) start(p *Peer) {
	go c.writeLoop(p)
}

func (c *conn) writeLoop(p *Peer) {
	if err := c.open(p); err != nil {
		if !errors.Is(err, ErrStopped) {
			c.close()
			p.post(event{gone: c})
		}
		return
	}
	go c.readLoop(p)
	w := transport.NewPacketWriter(c.nc)
	for {
		select {
		case <-c.done:
			return
		case <-c.wake:
		}
		c.mu.Lock()
		q := c.queue
		c.queue = nil
		c.mu.Unlock()
		for i := range q {
			err := w.Write(&q[i].qp)
			if err == nil && q[i].snap != nil {
				if err = w.Flush(); err == nil {
					_, err = c.nc.Write(q[i].snap)
				}
			}
			if err != nil {
				c.close()
				return
			}
		}
		if err := w.Flush(); err != nil {
			c.close()
			return
		}
	}
}

// open makes the connection ready for packets: a learner dials its
// leader and authenticates; a leader secures what it accepted and checks
// the learner's authentication. Both are bounded by initLimit, as
// ZooKeeper bounds a learner's first exchanges. A failure is logged with
// the other end's address.
func (c *conn) open(p *Peer) error {
	sec := p.cfg.Security
	limit := time.Duration(max(p.cfg.Core.InitLimit, 1)) * p.cfg.Tick
	var nc net.Conn
	var err error
	if c.nc == nil {
		if nc, err = dialLeader(sec, c.dialTo, c.done); err != nil {
			if !errors.Is(err, ErrStopped) {
				p.log.Info().Err(err).Int64("peer", c.peerID()).Str("remote", c.dialTo).Msg("cannot reach the leader's quorum port")
			}
			return err
		}
		_ = nc.SetDeadline(time.Now().Add(limit))
		if err = sec.AuthenticateLearner(nc); err != nil {
			nc.Close()
			if c.stopped() {
				return ErrStopped
			}
			p.log.Warn().Err(err).Int64("peer", c.peerID()).Str("remote", c.dialTo).Msg("leader refused our quorum authentication")
			return err
		}
	} else if sec != nil {
		raw := c.nc
		_ = raw.SetDeadline(time.Now().Add(limit))
		if nc, err = sec.Accept(raw); err == nil {
			nc, err = sec.AuthenticateServer(nc)
		}
		if err != nil {
			if c.stopped() {
				return ErrStopped
			}
			p.log.Warn().Err(err).Str("remote", raw.RemoteAddr().String()).Msg("quorum connection refused")
			return err
		}
	} else {
		return nil
	}
	_ = nc.SetDeadline(time.Time{})
	c.mu.Lock()
	c.nc = nc
	c.mu.Unlock()
	if c.stopped() {
		nc.Close()
		return ErrStopped
	}
	return nil
}

func (c *conn) stopped() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// dialLeader connects to a leader's quorum port: up to 5 tries, 100 ms
// apart, as a ZooKeeper learner does.
func dialLeader(sec *transport.Security, addr string, done <-chan struct{}) (net.Conn, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-done:
			cancel()
		case <-ctx.Done():
		}
	}()
	var err error
	for try := 0; try < 5; try++ {
		var nc net.Conn
		if nc, err = sec.Dial(ctx, addr, 5*time.Second); err == nil {
			return nc, nil
		}
		select {
		case <-done:
			return nil, ErrStopped
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil, err
}

func (c *conn) readLoop(p *Peer) {
	defer func() {
		c.close()
		p.post(event{gone: c})
	}()
	br := bufio.NewReaderSize(c.nc, 64<<10)
	r := transport.NewPacketReader(br, transport.FieldLimit(p.cfg.MaxBuffer))
	for {
		var qp jute.QuorumPacket
		if err := r.Read(&qp); err != nil {
			if !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
				p.log.Info().Err(err).Int64("peer", c.peerID()).Msg("quorum connection lost")
			}
			return
		}
		if c.peerID() == 0 {
			// A leader learns who connected from FOLLOWERINFO.
			var li jute.LearnerInfo
			t := jute.PacketType(qp.Type)
			if (t != jute.PacketFollowerInfo && t != jute.PacketObserverInfo) || jute.Unmarshal(qp.Data, &li, len(qp.Data)) != nil {
				p.log.Info().Str("type", t.String()).Msg("a learner's first packet is not FOLLOWERINFO: closing")
				return
			}
			c.peer.Store(li.Serverid)
		}
		switch t := jute.PacketType(qp.Type); {
		case t == jute.PacketRequest && c.id&dialBit == 0:
			if p.cfg.OnRequest != nil {
				p.cfg.OnRequest(c.peerID(), qp.Data, qp.Authinfo)
			}
			continue
		case t == jute.PacketPing && c.id&dialBit == 0 && p.cfg.OnPing != nil:
			p.cfg.OnPing(c.peerID(), qp.Data)
		case t == jute.PacketSync && c.id&dialBit != 0:
			p.post(event{synced: true})
			continue
		case t == jute.PacketRevalidate:
			if c.id&dialBit != 0 {
				p.revalidated(qp.Data)
			} else {
				p.revalidate(c, qp.Data)
			}
			continue
		}
		m, err := DecodePacket(p.cfg.ID, c.peerID(), c.id, qp)
		if err != nil {
			p.log.Info().Err(err).Int64("peer", c.peerID()).Msg("closing a quorum connection")
			return
		}
		if m.Type == jute.PacketSnap {
			var raw bytes.Buffer
			if err := persistence.ReadSnapStream(io.TeeReader(br, &raw), p.cfg.MaxBuffer, nil, nil); err != nil {
				p.log.Info().Err(err).Msg("bad snapshot from the leader")
				return
			}
			m.Data = raw.Bytes()
		}
		p.post(event{msg: &m})
	}
}

func zx(z int64) string { return fmt.Sprintf("0x%x", z) }
