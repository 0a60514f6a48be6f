package quorum

import (
	"fmt"
	"sort"

	"github.com/gokeeper/gokeeper/jute"
)

// Node is one member's election and ZAB state machine. It does no IO,
// reads no clock and starts no goroutine: the caller feeds it messages
// (Step), connection losses (Disconnected) and ticks (Tick), then takes
// what to persist, send and apply (Ready) and confirms it (Advance).
// Between Ready and Advance it must not be stepped.
type Node struct {
	cfg Config
	log Log

	// conf is the active membership; pending are the memberships of the
	// logged reconfig txns not yet known committed, oldest first. A quorum
	// is a quorum of conf and of every pending membership.
	conf    Membership
	pending []Membership
	// activated is set when commitTo activated a membership.
	activated bool

	// hs is the persisted epochs, as the core knows them (what it handed
	// to Ready counts as persisted).
	hs HardState
	// lastZxid is the last logged zxid, counting entries in rd.
	lastZxid int64
	// applied is the zxid of the state: what was applied or handed to
	// apply. committed is the highest zxid known committed.
	applied, committed int64

	state  PeerState
	status Status
	tick   int64

	elect election
	// final is the vote that ended the last election.
	final Vote

	ld *leader
	ln *learner

	nextDial uint64

	rd       Ready
	inFlight bool
}

// New returns a member that starts looking for a leader. hs is its
// persisted epochs, log its txn log and applied the zxid of the state the
// caller restored (a snapshot): the log's txns after applied are applied
// only once a leader says they are committed.
func New(cfg Config, log Log, hs HardState, applied int64) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	last := log.LastZxid()
	if hs.AcceptedEpoch < hs.CurrentEpoch || hs.AcceptedEpoch < Epoch(last) {
		return nil, fmt.Errorf("quorum: acceptedEpoch %d is below currentEpoch %d or the epoch of the last zxid %#x", hs.AcceptedEpoch, hs.CurrentEpoch, last)
	}
	if applied < log.StartZxid() || applied > last {
		return nil, fmt.Errorf("quorum: state at %#x is outside the log (%#x, %#x]", applied, log.StartZxid(), last)
	}
	n := &Node{cfg: cfg, log: log, hs: hs, lastZxid: last, applied: applied, committed: applied}
	n.conf = Membership{Version: cfg.Version, Voters: cfg.Voters, Observers: cfg.Observers, Text: cfg.ConfigText}
	if cfg.Reconfig != nil {
		for _, e := range log.Entries(applied, last) {
			n.noteReconfig(e)
		}
	}
	n.becomeLooking("started")
	return n, nil
}

// Step handles one message addressed to this member.
func (n *Node) Step(m Message) {
	n.checkNotInFlight()
	if m.To != n.cfg.ID {
		return
	}
	if m.Vote != nil {
		n.stepVote(m)
		return
	}
	switch {
	case n.ld != nil:
		n.ld.step(n, m)
	case n.ln != nil:
		n.ln.step(n, m)
	}
}

// Disconnected tells the member that connection conn to peer is gone.
func (n *Node) Disconnected(peer int64, conn uint64) {
	n.checkNotInFlight()
	switch {
	case n.ld != nil:
		if h := n.ld.learners[peer]; h != nil && h.conn == conn {
			n.ld.drop(n, h, "connection lost")
		}
	case n.ln != nil:
		if n.ln.leader == peer && n.ln.conn == conn {
			n.becomeLooking("connection to the leader lost")
		}
	}
}

// Tick advances the member's clock by one tick.
func (n *Node) Tick() {
	n.checkNotInFlight()
	n.tick++
	switch {
	case n.state == Looking:
		n.tickElection()
	case n.ld != nil:
		n.ld.tick(n)
	case n.ln != nil:
		n.ln.tick(n)
	}
}

// NextZxid returns the zxid the next proposal must carry, on an
// established leader.
func (n *Node) NextZxid() (int64, bool) {
	if n.ld == nil || !n.ld.established {
		return 0, false
	}
	return n.ld.proposed + 1, true
}

// Propose appends a txn to an established leader's log and proposes it.
// zxid must be the next of the leader's epoch. At the epoch's last counter
// the leader gives up leadership instead, so that a new epoch starts.
func (n *Node) Propose(zxid int64, data []byte) error {
	n.checkNotInFlight()
	l := n.ld
	if l == nil || !l.established {
		return ErrNotLeader
	}
	if zxid != l.proposed+1 || Epoch(zxid) != l.epoch {
		return fmt.Errorf("%w: got %#x after %#x", ErrZxidOrder, zxid, l.proposed)
	}
	if Counter(zxid) >= maxCounter {
		n.becomeLooking("zxid counter rolled over")
		return ErrNotLeader
	}
	l.proposed = zxid
	l.outstanding = append(l.outstanding, Entry{Zxid: zxid, Data: data})
	n.appendEntry(Entry{Zxid: zxid, Data: data})
	n.noteReconfig(Entry{Zxid: zxid, Data: data})
	for _, h := range l.sortedLearners() {
		if h.forwarding && !h.observer {
			n.sendTo(h, jute.PacketProposal, zxid, data)
		}
	}
	return nil
}

// HasReady reports whether Ready has anything to do.
func (n *Node) HasReady() bool { return !n.rd.Empty() }

// Ready returns what to persist, send and apply; see the Ready type for
// the order. The caller must call Advance once it is done.
func (n *Node) Ready() Ready {
	n.checkNotInFlight()
	n.inFlight = true
	rd := n.rd
	rd.SendFirst = n.ld != nil && n.ld.established && len(rd.Entries) > 0 &&
		rd.Snapshot == nil && !rd.Truncate && rd.HardState == nil && len(rd.Closes) == 0 && broadcastOnly(rd.Messages)
	return rd
}

// broadcastOnly reports whether ms are proposals and commits only.
func broadcastOnly(ms []Message) bool {
	for _, m := range ms {
		if m.Vote != nil || (m.Type != jute.PacketProposal && m.Type != jute.PacketCommit && m.Type != jute.PacketInform) {
			return false
		}
	}
	return true
}

// Advance tells the member that the last Ready was handled: its entries
// are durable, so a leader counts its own acknowledgement.
func (n *Node) Advance() {
	if !n.inFlight {
		panic("quorum: Advance without Ready")
	}
	n.inFlight = false
	n.rd = Ready{}
	if l := n.ld; l != nil {
		l.selfAcked = n.lastZxid
		if l.established {
			l.tryCommit(n)
		}
	}
}

func (n *Node) checkNotInFlight() {
	if n.inFlight {
		panic("quorum: stepped between Ready and Advance")
	}
}

func (n *Node) logf(format string, args ...any) {
	if n.cfg.Logf != nil {
		n.cfg.Logf(format, args...)
	}
}

// send queues a message from this member.
func (n *Node) send(m Message) {
	m.From = n.cfg.ID
	n.rd.Messages = append(n.rd.Messages, m)
}

func (n *Node) persistHardState() {
	hs := n.hs
	n.rd.HardState = &hs
}

// appendEntry logs a txn after the last one.
func (n *Node) appendEntry(e Entry) {
	n.rd.Entries = append(n.rd.Entries, e)
	n.lastZxid = e.Zxid
}

// truncate drops the logged txns after zxid.
func (n *Node) truncate(zxid int64) {
	if zxid < n.applied {
		panic(fmt.Sprintf("quorum: member %d told to truncate to %#x below its state at %#x", n.cfg.ID, zxid, n.applied))
	}
	kept := n.rd.Entries[:0]
	for _, e := range n.rd.Entries {
		if e.Zxid <= zxid {
			kept = append(kept, e)
		}
	}
	n.rd.Entries = kept
	n.pending = dropFrom(n.pending, zxid)
	if n.rd.Snapshot == nil && (!n.rd.Truncate || zxid < n.rd.TruncateAfter) {
		n.rd.Truncate, n.rd.TruncateAfter = true, zxid
	}
	n.lastZxid = zxid
}

// installSnapshot replaces state and log with a leader's snapshot.
func (n *Node) installSnapshot(s Snapshot) {
	n.rd.Snapshot = &s
	n.rd.Entries = nil
	n.rd.Truncate = false
	n.rd.CommitTo = 0
	n.pending = nil
	n.lastZxid, n.applied, n.committed = s.Zxid, s.Zxid, s.Zxid
}

// startZxid is the log's start once the pending Ready is handled.
func (n *Node) startZxid() int64 {
	if n.rd.Snapshot != nil {
		return n.rd.Snapshot.Zxid
	}
	return n.log.StartZxid()
}

// entries returns the logged txns in (after, upTo], counting the ones not
// yet persisted.
func (n *Node) entries(after, upTo int64) []Entry {
	var out []Entry
	if n.rd.Snapshot == nil {
		hi := min(upTo, n.log.LastZxid())
		if n.rd.Truncate {
			hi = min(hi, n.rd.TruncateAfter)
		}
		if hi > after {
			out = n.log.Entries(after, hi)
		}
	}
	for _, e := range n.rd.Entries {
		if e.Zxid > after && e.Zxid <= upTo {
			out = append(out, e)
		}
	}
	return out
}

// commitTo applies the log through zxid, activating the memberships
// whose reconfig txns it commits.
func (n *Node) commitTo(zxid int64) {
	if zxid > n.committed {
		n.committed = zxid
	}
	if zxid > n.applied {
		n.applied = zxid
		n.rd.CommitTo = zxid
	}
	for len(n.pending) > 0 && n.pending[0].Version <= n.applied {
		n.activate(n.pending[0])
	}
}

// noteReconfig counts a logged reconfig txn's membership as pending.
func (n *Node) noteReconfig(e Entry) {
	if n.cfg.Reconfig == nil {
		return
	}
	if m := n.cfg.Reconfig(e.Data); m != nil && e.Zxid > n.conf.Version {
		m.Version = e.Zxid
		n.pending = append(n.pending, *m)
	}
}

// activate makes m the active membership, to be persisted with Ready.
func (n *Node) activate(m Membership) {
	if m.Version <= n.conf.Version {
		return
	}
	n.logf("membership %#x active: voters %v, observers %v", m.Version, m.Voters, m.Observers)
	n.conf = m
	n.pending = dropThrough(n.pending, m.Version)
	c := m
	n.rd.Membership = &c
	n.activated = true
}

// dropFrom returns ms without the memberships newer than zxid.
func dropFrom(ms []Membership, zxid int64) []Membership {
	for i, m := range ms {
		if m.Version > zxid {
			return ms[:i]
		}
	}
	return ms
}

// dropThrough returns ms without the memberships up to zxid.
func dropThrough(ms []Membership, zxid int64) []Membership {
	for len(ms) > 0 && ms[0].Version <= zxid {
		ms = ms[1:]
	}
	return ms
}

// configs returns the active membership and the pending ones.
func (n *Node) configs() []*Membership {
	cs := []*Membership{&n.conf}
	for i := range n.pending {
		cs = append(cs, &n.pending[i])
	}
	return cs
}

// quorum reports whether set holds a quorum of every membership that
// counts: the active one and the pending ones.
func (n *Node) quorum(set map[int64]bool) bool {
	for _, c := range n.configs() {
		if !c.quorum(set) {
			return false
		}
	}
	return true
}

// isVoter reports whether id votes in any membership that counts.
func (n *Node) isVoter(id int64) bool {
	for _, c := range n.configs() {
		if c.isVoter(id) {
			return true
		}
	}
	return false
}

// voters returns the voters of every membership that counts, sorted.
func (n *Node) voters() []int64 {
	var out []int64
	for _, c := range n.configs() {
		for _, v := range c.Voters {
			if !contains(out, v) {
				out = append(out, v)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// learnerRole is the role this member learns in: an observer of the
// active membership observes; anyone else follows (a member outside it as
// a non-voting follower).
func (n *Node) learnerRole() PeerState {
	if n.conf.isObserver(n.cfg.ID) {
		return Observing
	}
	return Following
}

// Membership returns the active membership.
func (n *Node) Membership() Membership { return n.conf }

// ReconfigPending reports whether a logged reconfig txn is not yet known
// committed (ZooKeeper: the last seen config is not the active one).
func (n *Node) ReconfigPending() bool { return len(n.pending) > 0 }

// setStatus records a status change for Ready.
func (n *Node) setStatus(s Status) {
	if s != n.status {
		n.status = s
		st := s
		n.rd.Status = &st
	}
}

// becomeLooking drops the current role and starts an election.
func (n *Node) becomeLooking(why string) {
	n.leaveRole()
	n.state = Looking
	n.setStatus(Status{State: Looking, Why: why})
	n.startElection()
}

// handOver drops the current role and takes the one a committed reconfig
// designated, without an election (ZooKeeper's reconfigFlag): lead if
// this member is the designated leader, else learn from it. The new
// leader's discovery still needs a quorum of the new membership.
func (n *Node) handOver(designated int64, why string) {
	n.logf("reconfig hands over to %d: %s", designated, why)
	// NB: a leader that hands over leaves its learners' connections to
	// them, as ZooKeeper's does: closed now, they could lose the
	// COMMITANDACTIVATE just sent on them.
	n.ld = nil
	n.leaveRole()
	n.final = Vote{Leader: designated, Zxid: n.lastZxid, ElectionEpoch: n.elect.round, PeerEpoch: n.hs.CurrentEpoch}
	if designated == n.cfg.ID {
		n.becomeLeader()
		return
	}
	n.becomeLearner(designated, n.learnerRole())
}

// leaveRole closes the connections of the current role.
func (n *Node) leaveRole() {
	if n.ld != nil {
		for _, h := range n.ld.sortedLearners() {
			n.rd.Closes = append(n.rd.Closes, ConnRef{Peer: h.sid, Conn: h.conn})
		}
	}
	if n.ln != nil {
		n.rd.Closes = append(n.rd.Closes, ConnRef{Peer: n.ln.leader, Conn: n.ln.conn})
	}
	n.ld, n.ln = nil, nil
	n.activated = false
	n.committed = n.applied
	n.repairEpoch()
}

// repairEpoch takes the epoch of the last logged txn as the current one
// when a sync logged txns of a newer epoch and ended (or the member
// crashed) before NEWLEADER persisted currentEpoch, as ZooKeeper does with
// its currentEpoch.tmp file. Such a log holds the whole history the new
// epoch started from: the leader sends txns in zxid order, so every txn
// of older epochs came before the first of the new one.
func (n *Node) repairEpoch() {
	if e := Epoch(n.lastZxid); e > n.hs.CurrentEpoch {
		n.hs.CurrentEpoch = e
		n.persistHardState()
	}
}

// sendTo sends a quorum packet to a learner on its connection.
func (n *Node) sendTo(h *learnerHandler, t jute.PacketType, zxid int64, data []byte) {
	n.send(Message{To: h.sid, Conn: h.conn, Type: t, Zxid: zxid, Data: data})
}
