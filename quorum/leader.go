package quorum

import (
	"sort"

	"github.com/gokeeper/gokeeper/jute"
)

// leader is the LEADING role: discovery (a new epoch from a quorum's
// FOLLOWERINFO, acknowledged by a quorum's ACKEPOCH), sync (each learner
// sent DIFF, TRUNC or SNAP, then NEWLEADER) and, once a quorum acknowledged
// NEWLEADER, broadcast.
type leader struct {
	// epoch is the new epoch, 0 until a quorum's FOLLOWERINFO chose it.
	epoch int64
	// deadline is the tick by which the current discovery or sync phase
	// must reach its quorum.
	deadline int64
	// infos, epochAcks and newLeaderAcks are the voters (self included)
	// counted toward each phase's quorum.
	infos, epochAcks, newLeaderAcks map[int64]bool
	// maxAccepted is the highest acceptedEpoch seen in FOLLOWERINFO.
	maxAccepted int64
	// epochAcked is true once a quorum acknowledged the epoch.
	epochAcked bool
	// established is true once a quorum acknowledged NEWLEADER.
	established bool
	// history is the last zxid of the leader's log when the epoch was
	// acknowledged: everything up to it commits with NEWLEADER.
	history int64
	// proposed is the last zxid proposed in this epoch.
	proposed int64
	// outstanding are the proposals not committed yet, in zxid order: a
	// commit reads them here, not from the log.
	outstanding []Entry
	// initial is the static membership (version 0) versioned with this
	// epoch, which NEWLEADER carries and establishment activates when
	// reconfig is on (ZOOKEEPER-1783): an established config then wins
	// over a joining member's partial one.
	initial *Membership
	// selfAcked is how far the leader's own log is durable.
	selfAcked int64
	learners  map[int64]*learnerHandler
	nextPing  int64
}

// learnerHandler is the leader's record of one learner's connection.
type learnerHandler struct {
	sid      int64
	conn     uint64
	observer bool
	// stage is how far the learner got through discovery and sync.
	stage handlerStage
	// lastZxid and currentEpoch are from its ACKEPOCH.
	lastZxid int64
	// forwarding is true once it was synced: proposals go to it.
	forwarding bool
	// acked is the highest zxid it acknowledged.
	acked int64
	// deadline is the tick after which its silence drops it.
	deadline int64
}

type handlerStage int

const (
	stageInfo         handlerStage = iota // FOLLOWERINFO received
	stageEpochAcked                       // ACKEPOCH received, waiting for the epoch quorum
	stageSynced                           // sync sent up to NEWLEADER
	stageNewLeaderAck                     // NEWLEADER acknowledged
	stageUpToDate                         // UPTODATE sent
)

// becomeLeader starts discovery as the elected leader.
func (n *Node) becomeLeader() {
	n.state = Leading
	n.ld = &leader{
		deadline:      n.tick + int64(n.cfg.InitLimit),
		infos:         map[int64]bool{n.cfg.ID: true},
		epochAcks:     map[int64]bool{n.cfg.ID: true},
		newLeaderAcks: map[int64]bool{n.cfg.ID: true},
		maxAccepted:   n.hs.AcceptedEpoch,
		learners:      map[int64]*learnerHandler{},
		selfAcked:     n.lastZxid,
	}
	n.setStatus(Status{State: Leading, Leader: n.cfg.ID})
	n.ld.tryChooseEpoch(n)
}

func (l *leader) step(n *Node, m Message) {
	h := l.learners[m.From]
	if m.Type == jute.PacketFollowerInfo || m.Type == jute.PacketObserverInfo {
		if h != nil && h.conn != m.Conn {
			l.drop(n, h, "replaced by a new connection")
		}
		if h == nil || h.conn != m.Conn {
			l.onInfo(n, m)
		}
		return
	}
	if h == nil || h.conn != m.Conn {
		return // a packet from a connection that is gone
	}
	h.deadline = n.tick + int64(n.cfg.SyncLimit)
	if h.stage < stageNewLeaderAck {
		h.deadline = n.tick + int64(n.cfg.InitLimit)
	}
	switch m.Type {
	case jute.PacketAckEpoch:
		l.onAckEpoch(n, h, m)
	case jute.PacketAck:
		l.onAck(n, h, m)
	case jute.PacketPing:
		// Liveness only; the caller reads the sessions it carries.
	default:
		l.drop(n, h, "unexpected "+m.Type.String())
	}
}

// onInfo starts handling a learner that connected.
func (l *leader) onInfo(n *Node, m Message) {
	// NB: as ZooKeeper's leader, any learner is taken: one that is not
	// a voter follows without a vote (its acknowledgements count only
	// where it votes: in a pending membership that adds it).
	observer := m.Type == jute.PacketObserverInfo
	h := &learnerHandler{sid: m.From, conn: m.Conn, observer: observer, deadline: n.tick + int64(n.cfg.InitLimit)}
	l.learners[m.From] = h
	if l.epoch == 0 {
		l.maxAccepted = max(l.maxAccepted, Epoch(m.Zxid))
		if !observer {
			l.infos[m.From] = true
		}
		l.tryChooseEpoch(n)
		return
	}
	if !observer && Epoch(m.Zxid) > l.epoch {
		// The voter accepted a newer epoch in a discovery that failed: it
		// can never follow this one. ZooKeeper leaves it out until the next
		// election; a new election, with an epoch above it, brings it back.
		n.becomeLooking("a voter accepted a newer epoch than ours")
		return
	}
	n.sendTo(h, jute.PacketLeaderInfo, Zxid(l.epoch, 0), nil)
}

// tryChooseEpoch picks the new epoch once a quorum sent FOLLOWERINFO,
// persists it as acceptedEpoch and tells every learner (LEADERINFO).
func (l *leader) tryChooseEpoch(n *Node) {
	if l.epoch != 0 || !n.quorum(l.infos) {
		return
	}
	l.epoch = l.maxAccepted + 1
	n.hs.AcceptedEpoch = l.epoch
	n.persistHardState()
	l.deadline = n.tick + int64(n.cfg.InitLimit)
	for _, h := range l.sortedLearners() {
		n.sendTo(h, jute.PacketLeaderInfo, Zxid(l.epoch, 0), nil)
	}
	l.tryEpochQuorum(n)
}

// onAckEpoch counts a learner's ACKEPOCH, refusing one that is ahead of
// the leader, and syncs it once the epoch is acknowledged.
func (l *leader) onAckEpoch(n *Node, h *learnerHandler, m Message) {
	if h.stage != stageInfo || l.epoch == 0 {
		l.drop(n, h, "ACKEPOCH out of order")
		return
	}
	h.stage = stageEpochAcked
	h.lastZxid = m.Zxid
	if m.Epoch != -1 {
		if m.Epoch > n.hs.CurrentEpoch || (m.Epoch == n.hs.CurrentEpoch && m.Zxid > n.lastZxid) {
			l.drop(n, h, "learner is ahead of the leader")
			return
		}
		if !h.observer {
			l.epochAcks[h.sid] = true
		}
	}
	if l.epochAcked {
		l.sync(n, h)
		return
	}
	l.tryEpochQuorum(n)
}

// tryEpochQuorum persists currentEpoch once a quorum acknowledged the
// epoch and syncs every learner waiting for it.
func (l *leader) tryEpochQuorum(n *Node) {
	if l.epoch == 0 || l.epochAcked || !n.quorum(l.epochAcks) {
		return
	}
	l.epochAcked = true
	n.hs.CurrentEpoch = l.epoch
	n.persistHardState()
	l.history = n.lastZxid
	l.proposed = Zxid(l.epoch, 0)
	if n.cfg.Reconfig != nil && n.conf.Version == 0 && len(n.pending) == 0 {
		c := n.conf
		c.Version = Zxid(l.epoch, 0)
		l.initial = &c
	}
	l.deadline = n.tick + int64(n.cfg.InitLimit)
	for _, h := range l.sortedLearners() {
		if h.stage == stageEpochAcked {
			l.sync(n, h)
		}
	}
	l.tryEstablish(n)
}

// sync brings a learner's log to the leader's: DIFF when its log is a
// prefix of the leader's, TRUNC when it holds txns of its last epoch
// that the leader does not, SNAP otherwise; then every txn it lacks as
// PROPOSAL (with COMMIT once committed; txns of earlier epochs commit
// with this epoch), then NEWLEADER. From then on it gets every proposal.
func (l *leader) sync(n *Node, h *learnerHandler) {
	peer, last, start := h.lastZxid, n.lastZxid, n.startZxid()
	mode, from := jute.PacketDiff, peer
	switch {
	case peer == last:
	case peer >= start && (peer == start || n.hasEntry(peer)):
		// NB: only a SNAP of a state at or past the learner's: one behind
		// it would make the learner drop logged txns it may have
		// acknowledged, and a crash before it logs them again would
		// lose them (the leader's state holds committed txns only).
		if n.applied >= peer && n.tooFarBehind(peer, n.applied) {
			mode, from = jute.PacketSnap, n.applied
		}
	default:
		// TRUNC only within the learner's last epoch: the learner holds t
		// then, and (as ZooKeeper requires, since its learners may have
		// snapshotted txns they never saw committed) the leader's next txn
		// is of that epoch too.
		t, ok := n.entryBefore(peer)
		next := n.entries(peer, last)
		if ok && peer > start && Epoch(t) == Epoch(peer) && (len(next) == 0 || Epoch(next[0].Zxid) == Epoch(peer)) {
			mode, from = jute.PacketTrunc, t
		} else {
			mode, from = jute.PacketSnap, n.applied
		}
	}
	n.logf("syncing learner %d at %#x by %v from %#x to %#x", h.sid, peer, mode, from, last)
	switch mode {
	case jute.PacketDiff:
		// NB: as ZooKeeper's, a DIFF names a committed zxid: what the
		// learner holds up to it is committed.
		n.sendTo(h, mode, min(last, n.committed), nil)
	default:
		n.sendTo(h, mode, from, nil)
	}
	for _, e := range n.entries(from, last) {
		n.sendTo(h, jute.PacketProposal, e.Zxid, e.Data)
		if Epoch(e.Zxid) < l.epoch || e.Zxid <= n.committed {
			n.sendTo(h, jute.PacketCommit, e.Zxid, nil)
		}
	}
	c := n.conf
	if l.initial != nil {
		c = *l.initial
	}
	n.send(Message{To: h.sid, Conn: h.conn, Type: jute.PacketNewLeader, Zxid: Zxid(l.epoch, 0), Data: c.Text, Config: &c})
	h.stage = stageSynced
	h.forwarding = true
}

// tooFarBehind reports whether a DIFF from peer to last would pass
// MaxDiff txns; across epochs it counts the last epoch's txns only.
func (n *Node) tooFarBehind(peer, last int64) bool {
	if n.cfg.MaxDiff <= 0 {
		return false
	}
	behind := Counter(last)
	if Epoch(peer) == Epoch(last) {
		behind -= Counter(peer)
	}
	return behind > n.cfg.MaxDiff
}

// hasEntry reports whether zxid is in the log.
func (n *Node) hasEntry(zxid int64) bool {
	es := n.entries(zxid-1, zxid)
	return len(es) == 1 && es[0].Zxid == zxid
}

// entryBefore returns the last logged zxid below zxid, if the log holds
// one after its start, or the start itself.
func (n *Node) entryBefore(zxid int64) (int64, bool) {
	start := n.startZxid()
	if zxid <= start {
		return 0, false
	}
	es := n.entries(start, zxid-1)
	if len(es) == 0 {
		return start, start != 0
	}
	return es[len(es)-1].Zxid, true
}

// onAck handles NEWLEADER and proposal acknowledgements.
func (l *leader) onAck(n *Node, h *learnerHandler, m Message) {
	if Counter(m.Zxid) == 0 {
		if h.stage != stageSynced || m.Zxid != Zxid(l.epoch, 0) {
			return // the ACK of UPTODATE, or a stale one
		}
		h.stage = stageNewLeaderAck
		if !h.observer {
			l.newLeaderAcks[h.sid] = true
		}
		if l.established {
			l.upToDate(n, h)
		} else {
			l.tryEstablish(n)
		}
		return
	}
	if h.stage < stageSynced {
		l.drop(n, h, "ACK before sync")
		return
	}
	if !h.observer && m.Zxid > h.acked {
		h.acked = m.Zxid
		if l.established {
			l.tryCommit(n)
		}
	}
}

// tryEstablish starts broadcast once a quorum acknowledged NEWLEADER: the
// leader's history is committed and learners are told UPTODATE.
func (l *leader) tryEstablish(n *Node) {
	if !l.epochAcked || l.established || !n.quorum(l.newLeaderAcks) {
		return
	}
	l.established = true
	n.final.PeerEpoch = l.epoch
	n.commitTo(l.history)
	if l.initial != nil {
		n.activate(*l.initial)
	}
	l.nextPing = n.tick + int64(n.cfg.PingInterval)
	for _, h := range l.sortedLearners() {
		if h.stage == stageNewLeaderAck {
			l.upToDate(n, h)
		}
		h.deadline = n.tick + int64(n.cfg.InitLimit+n.cfg.SyncLimit)
	}
	if n.activated && !n.conf.isVoter(n.cfg.ID) {
		// NB: the history held a reconfig that leaves this member out: its
		// learners see that at UPTODATE and elect a leader of the new
		// membership.
		n.becomeLooking("a reconfig in the history removed the leader")
		return
	}
	n.activated = false
	n.setStatus(Status{State: Leading, Leader: n.cfg.ID, Epoch: l.epoch, Serving: true})
	l.tryCommit(n)
}

func (l *leader) upToDate(n *Node, h *learnerHandler) {
	n.sendTo(h, jute.PacketUpToDate, -1, nil)
	h.stage = stageUpToDate
}

// acked returns the highest zxid each member acknowledged: the leader's
// own durable log and its synced followers', voting or not.
func (l *leader) acked(n *Node) map[int64]int64 {
	acks := map[int64]int64{n.cfg.ID: l.selfAcked}
	for _, h := range l.learners {
		if !h.observer && h.stage >= stageSynced {
			acks[h.sid] = h.acked
		}
	}
	return acks
}

// tryCommit commits, in order, every proposal that a quorum of voters
// (the leader once its log is durable) acknowledged: COMMIT to the
// followers, INFORM with the txn to the observers. A proposal at or after
// a pending reconfig also needs a quorum of the membership it makes, as
// ZooKeeper's proposals carry both verifiers. A committed reconfig goes
// out as COMMITANDACTIVATE and INFORMANDACTIVATE naming the leader of the
// new membership: this one if it still votes, else one of its voters
// that acknowledged it; a leader that is not that one hands over.
func (l *leader) tryCommit(n *Node) {
	acks := l.acked(n)
	to := min(n.conf.ackedByQuorum(acks), l.proposed)
	for i := range n.pending {
		p := &n.pending[i]
		if to < p.Version {
			break
		}
		if q := p.ackedByQuorum(acks); q >= p.Version {
			to = min(to, q)
		} else {
			to = n.lastBefore(p.Version)
		}
	}
	if commitAlone {
		// The chaos suite's broken build: any one voter's log suffices.
		for _, a := range acks {
			to = max(to, min(a, l.proposed))
		}
	}
	if to <= n.committed {
		return
	}
	// NB: once established, everything after n.committed was proposed
	// in this epoch, so the commit's txns are a prefix of outstanding.
	k := 0
	for k < len(l.outstanding) && l.outstanding[k].Zxid <= to {
		k++
	}
	commits := l.outstanding[:k]
	l.outstanding = l.outstanding[k:]
	designated := n.cfg.ID
	learners := l.sortedLearners()
	for _, e := range commits {
		t, it := jute.PacketCommit, jute.PacketInform
		if len(n.pending) > 0 && n.pending[0].Version == e.Zxid {
			t, it = jute.PacketCommitAndActivate, jute.PacketInformAndActivate
			designated = l.designate(n, &n.pending[0], acks)
		}
		for _, h := range learners {
			if !h.forwarding {
				continue
			}
			m := Message{To: h.sid, Conn: h.conn, Type: t, Zxid: e.Zxid, Designated: designated}
			if h.observer {
				m.Type, m.Data = it, e.Data
			}
			n.send(m)
		}
		if t == jute.PacketCommitAndActivate {
			n.commitTo(e.Zxid)
			n.activated = false
			if designated != n.cfg.ID {
				n.handOver(designated, "the reconfig left this leader out")
				return
			}
			learners = l.sortedLearners()
		}
	}
	n.commitTo(to)
}

// designate picks the leader of a membership whose reconfig commits
// (ZooKeeper's getDesignatedLeader): this leader if it votes there, else
// the voter there that acknowledged the most (the highest id on a tie).
func (l *leader) designate(n *Node, m *Membership, acks map[int64]int64) int64 {
	if m.isVoter(n.cfg.ID) {
		return n.cfg.ID
	}
	best, bestAck := int64(0), int64(-1)
	for _, v := range m.Voters {
		if a, ok := acks[v]; ok && a >= m.Version && (a > bestAck || a == bestAck && v > best) {
			best, bestAck = v, a
		}
	}
	return best
}

// tick fails a phase that ran out of time, drops silent learners, pings
// and gives up leadership without a quorum of live followers.
func (l *leader) tick(n *Node) {
	if !l.established {
		if n.tick >= l.deadline {
			n.becomeLooking("no quorum for the new epoch within initLimit")
		}
		return
	}
	for _, h := range l.sortedLearners() {
		if n.tick > h.deadline {
			l.drop(n, h, "learner silent")
		}
	}
	if n.tick < l.nextPing {
		return
	}
	l.nextPing = n.tick + int64(n.cfg.PingInterval)
	live := map[int64]bool{n.cfg.ID: true}
	for _, h := range l.sortedLearners() {
		if h.stage >= stageNewLeaderAck && !h.observer {
			live[h.sid] = true
		}
		// NB: not before UPTODATE: a ZooKeeper learner that reads a PING
		// while it syncs exits ("Got unexpected packet from leader").
		if h.stage >= stageUpToDate {
			n.sendTo(h, jute.PacketPing, l.proposed, nil)
		}
	}
	if !n.quorum(live) {
		n.becomeLooking("lost the quorum of followers")
	}
}

// drop forgets a learner and closes its connection.
func (l *leader) drop(n *Node, h *learnerHandler, why string) {
	n.logf("dropped learner %d: %s", h.sid, why)
	delete(l.learners, h.sid)
	n.rd.Closes = append(n.rd.Closes, ConnRef{Peer: h.sid, Conn: h.conn})
}

// sortedLearners returns the learners by id, for a deterministic order.
func (l *leader) sortedLearners() []*learnerHandler {
	hs := make([]*learnerHandler, 0, len(l.learners))
	for _, h := range l.learners {
		hs = append(hs, h)
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].sid < hs[j].sid })
	return hs
}

// LearnerCounts returns, on a leader, how many learners are connected
// (past FOLLOWERINFO) and how many of its followers and observers it
// forwards to (synced: each gets every proposal, or every commit as
// INFORM): ZooKeeper's learners, forwardingFollowers and
// observingLearners. ok is false on a member that does not lead.
func (n *Node) LearnerCounts() (learners, followers, observers int, ok bool) {
	if n.ld == nil {
		return 0, 0, 0, false
	}
	for _, h := range n.ld.learners {
		switch {
		case !h.forwarding:
		case h.observer:
			observers++
		default:
			followers++
		}
	}
	return len(n.ld.learners), followers, observers, true
}

// Synced returns, on an established leader, itself and the followers it
// forwards to, voting or not (a reconfig needs a quorum of its voters
// among them: ZooKeeper's isQuorumSynced); nil on any other member.
func (n *Node) Synced() []int64 {
	l := n.ld
	if l == nil || !l.established {
		return nil
	}
	ids := []int64{n.cfg.ID}
	for _, h := range l.sortedLearners() {
		if !h.observer && h.stage >= stageNewLeaderAck {
			ids = append(ids, h.sid)
		}
	}
	return ids
}

// QuorumSynced reports whether Synced holds a quorum of voters.
func QuorumSynced(synced, voters []int64) bool {
	set := map[int64]bool{}
	for _, id := range synced {
		set[id] = true
	}
	m := Membership{Voters: voters}
	return m.quorum(set)
}
