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
	observer := m.Type == jute.PacketObserverInfo || !n.cfg.isVoter(m.From)
	if !n.cfg.isVoter(m.From) && !n.cfg.isObserver(m.From) {
		n.logf("refused learner %d: not a member", m.From)
		n.rd.Closes = append(n.rd.Closes, ConnRef{Peer: m.From, Conn: m.Conn})
		return
	}
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
	if l.epoch != 0 || !n.cfg.quorum(l.infos) {
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
	if l.epoch == 0 || l.epochAcked || !n.cfg.quorum(l.epochAcks) {
		return
	}
	l.epochAcked = true
	n.hs.CurrentEpoch = l.epoch
	n.persistHardState()
	l.history = n.lastZxid
	l.proposed = Zxid(l.epoch, 0)
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
	n.sendTo(h, jute.PacketNewLeader, Zxid(l.epoch, 0), n.cfg.ConfigText)
	h.stage = stageSynced
	h.forwarding = true
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
	if !l.epochAcked || l.established || !n.cfg.quorum(l.newLeaderAcks) {
		return
	}
	l.established = true
	n.final.PeerEpoch = l.epoch
	n.commitTo(l.history)
	l.nextPing = n.tick + int64(n.cfg.PingInterval)
	for _, h := range l.sortedLearners() {
		if h.stage == stageNewLeaderAck {
			l.upToDate(n, h)
		}
		h.deadline = n.tick + int64(n.cfg.InitLimit+n.cfg.SyncLimit)
	}
	n.setStatus(Status{State: Leading, Leader: n.cfg.ID, Epoch: l.epoch, Serving: true})
	l.tryCommit(n)
}

func (l *leader) upToDate(n *Node, h *learnerHandler) {
	n.sendTo(h, jute.PacketUpToDate, -1, nil)
	h.stage = stageUpToDate
}

// tryCommit commits, in order, every proposal that a quorum of voters
// (the leader once its log is durable) acknowledged: COMMIT to the
// followers, INFORM with the txn to the observers.
func (l *leader) tryCommit(n *Node) {
	acks := []int64{}
	if n.cfg.isVoter(n.cfg.ID) {
		acks = append(acks, l.selfAcked)
	}
	for _, h := range l.learners {
		if !h.observer && h.stage >= stageSynced {
			acks = append(acks, h.acked)
		}
	}
	need := len(n.cfg.Voters)/2 + 1
	if commitAlone {
		need = 1
	}
	if len(acks) < need {
		return
	}
	sort.Slice(acks, func(i, j int) bool { return acks[i] > acks[j] })
	to := min(acks[need-1], l.proposed)
	if to <= n.committed {
		return
	}
	from := n.committed
	for _, e := range n.entries(from, to) {
		for _, h := range l.sortedLearners() {
			if !h.forwarding {
				continue
			}
			if h.observer {
				n.sendTo(h, jute.PacketInform, e.Zxid, e.Data)
			} else {
				n.sendTo(h, jute.PacketCommit, e.Zxid, nil)
			}
		}
	}
	n.commitTo(to)
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
		n.sendTo(h, jute.PacketPing, l.proposed, nil)
	}
	if !n.cfg.quorum(live) {
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
