package quorum

import "github.com/gokeeper/gokeeper/jute"

// learner is the FOLLOWING and OBSERVING roles: connect to the elected
// leader, accept its epoch, sync, then log and apply what it broadcasts.
type learner struct {
	leader   int64
	conn     uint64
	observer bool
	// epoch is the leader's epoch, from LEADERINFO.
	epoch int64
	phase learnerPhase
	// deadline is the tick by which the leader must be heard from.
	deadline int64
	// unacked are the proposals of this epoch logged during sync: they
	// are acknowledged after UPTODATE.
	unacked []int64
}

type learnerPhase int

const (
	phaseConnecting learnerPhase = iota // FOLLOWERINFO sent
	phaseEpoch                          // ACKEPOCH sent
	phaseSync                           // DIFF, TRUNC or SNAP received
	phaseNewLeader                      // NEWLEADER acknowledged
	phaseBroadcast                      // UPTODATE received: serving
)

// becomeLearner connects to the leader: a new connection whose first
// packet is FOLLOWERINFO (OBSERVERINFO) with the accepted epoch.
func (n *Node) becomeLearner(leader int64, role PeerState) {
	n.state = role
	n.nextDial++
	l := &learner{
		leader:   leader,
		conn:     dialBit | n.nextDial,
		observer: role == Observing,
		deadline: n.tick + int64(n.cfg.InitLimit),
	}
	n.ln = l
	n.setStatus(Status{State: role, Leader: leader})
	t := jute.PacketFollowerInfo
	if l.observer {
		t = jute.PacketObserverInfo
	}
	l.send(n, t, Zxid(n.hs.AcceptedEpoch, 0), nil)
}

func (l *learner) send(n *Node, t jute.PacketType, zxid int64, data []byte) {
	n.send(Message{To: l.leader, Conn: l.conn, Type: t, Zxid: zxid, Data: data})
}

func (l *learner) step(n *Node, m Message) {
	if m.From != l.leader || m.Conn != l.conn {
		return
	}
	if l.phase == phaseBroadcast {
		l.deadline = n.tick + int64(n.cfg.SyncLimit)
	} else {
		l.deadline = n.tick + int64(n.cfg.InitLimit)
	}
	switch m.Type {
	case jute.PacketLeaderInfo:
		l.onLeaderInfo(n, m)
	case jute.PacketDiff, jute.PacketTrunc, jute.PacketSnap:
		l.onSyncMode(n, m)
	case jute.PacketProposal:
		l.onProposal(n, m)
	case jute.PacketCommit, jute.PacketCommitAndActivate:
		l.onCommit(n, m)
	case jute.PacketInform, jute.PacketInformAndActivate:
		l.onInform(n, m)
	case jute.PacketNewLeader:
		l.onNewLeader(n, m)
	case jute.PacketUpToDate:
		l.onUpToDate(n)
	case jute.PacketPing:
		if l.phase == phaseBroadcast {
			l.send(n, jute.PacketPing, m.Zxid, []byte{}) // the caller adds its sessions
		}
	default:
		n.becomeLooking("unexpected " + m.Type.String() + " from the leader")
	}
}

// onLeaderInfo accepts the leader's epoch: a newer one is persisted as
// acceptedEpoch before ACKEPOCH carries the current epoch; the one
// already accepted is acknowledged with -1; an older one is refused.
func (l *learner) onLeaderInfo(n *Node, m Message) {
	e := Epoch(m.Zxid)
	if l.phase != phaseConnecting {
		n.becomeLooking("LEADERINFO out of order")
		return
	}
	ack := n.hs.CurrentEpoch
	switch {
	case e > n.hs.AcceptedEpoch:
		n.hs.AcceptedEpoch = e
		n.persistHardState()
	case e == n.hs.AcceptedEpoch:
		ack = -1
	default:
		n.becomeLooking("leader's epoch is older than the accepted one")
		return
	}
	l.epoch = e
	l.phase = phaseEpoch
	n.send(Message{To: l.leader, Conn: l.conn, Type: jute.PacketAckEpoch, Zxid: n.lastZxid, Epoch: ack})
}

// onSyncMode starts the sync the leader chose.
func (l *learner) onSyncMode(n *Node, m Message) {
	if l.phase != phaseEpoch {
		n.becomeLooking(m.Type.String() + " out of order")
		return
	}
	l.phase = phaseSync
	switch m.Type {
	case jute.PacketDiff:
		// NB: the txns this learner already held are committed up to
		// the DIFF's zxid; without this a restarted member would serve
		// its snapshot only until the next write's COMMIT.
		if z := min(m.Zxid, n.lastZxid); z > n.committed {
			n.committed = z
		}
	case jute.PacketTrunc:
		n.truncate(m.Zxid)
	case jute.PacketSnap:
		n.installSnapshot(Snapshot{Zxid: m.Zxid, Data: m.Data})
	}
}

// onProposal logs a proposal; in broadcast it is acknowledged once
// durable (the ACK leaves after Ready's entries are persisted).
func (l *learner) onProposal(n *Node, m Message) {
	if l.phase < phaseSync || !follows(n.lastZxid, m.Zxid) {
		n.becomeLooking("proposal out of order")
		return
	}
	if l.observer && l.phase == phaseBroadcast {
		return // observers learn txns from INFORM
	}
	n.appendEntry(Entry{Zxid: m.Zxid, Data: m.Data})
	n.noteReconfig(Entry{Zxid: m.Zxid, Data: m.Data})
	switch {
	case l.observer:
	case l.phase == phaseBroadcast:
		l.send(n, jute.PacketAck, m.Zxid, nil)
	case Epoch(m.Zxid) == l.epoch:
		l.unacked = append(l.unacked, m.Zxid)
	}
}

// follows reports whether a txn with zxid may follow prev in the log, as
// the store requires: the next counter of prev's epoch, or any zxid of a
// later epoch. NB: a stream with a hole (which TCP never gives, but a
// broken link or leader might) makes the learner look for a leader again
// instead of failing its log for good.
func follows(prev, zxid int64) bool {
	return zxid > prev && (prev == 0 || Epoch(prev) != Epoch(zxid) || zxid == prev+1)
}

// onCommit learns that a logged txn committed; it is applied once the
// learner is up to date.
func (l *learner) onCommit(n *Node, m Message) {
	if l.observer && l.phase == phaseBroadcast {
		return
	}
	if l.phase < phaseSync || m.Zxid > n.lastZxid {
		n.becomeLooking("commit of a txn not logged")
		return
	}
	if m.Zxid > n.committed {
		n.committed = m.Zxid
	}
	if l.phase == phaseBroadcast {
		n.commitTo(n.committed)
		l.afterReconfig(n, m)
	}
}

// afterReconfig rejoins when a membership that just became active (with
// m, or at UPTODATE) changed the leader or this member's role (ZooKeeper's
// processReconfig): to the leader a COMMITANDACTIVATE designated, without
// an election, or through an election when the change came without one.
// It reports whether the member left its leader.
func (l *learner) afterReconfig(n *Node, m Message) bool {
	if !n.activated {
		return false
	}
	n.activated = false
	const why = "a reconfig changed the leader or this member's role"
	roleKept := (n.learnerRole() == Observing) == l.observer
	activate := m.Type == jute.PacketCommitAndActivate || m.Type == jute.PacketInformAndActivate
	switch {
	case activate && m.Designated != 0 && (m.Designated != l.leader || !roleKept):
		n.handOver(m.Designated, why)
	case !activate && (!n.conf.isVoter(l.leader) || !roleKept):
		n.becomeLooking(why)
	default:
		return false
	}
	return true
}

// onInform logs and applies a committed txn (observers).
func (l *learner) onInform(n *Node, m Message) {
	if !l.observer || l.phase != phaseBroadcast || !follows(n.lastZxid, m.Zxid) {
		n.becomeLooking("INFORM out of order")
		return
	}
	n.appendEntry(Entry{Zxid: m.Zxid, Data: m.Data})
	n.noteReconfig(Entry{Zxid: m.Zxid, Data: m.Data})
	n.commitTo(m.Zxid)
	l.afterReconfig(n, m)
}

// onNewLeader persists the new epoch as currentEpoch, after every txn of
// the sync (Ready persists entries first), and acknowledges.
func (l *learner) onNewLeader(n *Node, m Message) {
	if l.phase != phaseSync || Epoch(m.Zxid) != l.epoch {
		n.becomeLooking("NEWLEADER out of order")
		return
	}
	l.phase = phaseNewLeader
	if c := m.Config; c != nil && c.Version > n.conf.Version {
		// The leader's active membership, which this member missed (a
		// SNAP carries no log to learn it from).
		n.activate(*c)
	}
	if n.hs.CurrentEpoch != l.epoch {
		n.hs.CurrentEpoch = l.epoch
		n.persistHardState()
	}
	n.final.PeerEpoch = l.epoch
	l.send(n, jute.PacketAck, m.Zxid, nil)
}

// onUpToDate starts serving: the txns of earlier epochs the sync left in
// the log are committed (the leader established this epoch on them), as
// is every txn it said COMMIT for.
func (l *learner) onUpToDate(n *Node) {
	if l.phase != phaseNewLeader {
		n.becomeLooking("UPTODATE out of order")
		return
	}
	l.phase = phaseBroadcast
	if last := n.lastBefore(Zxid(l.epoch, 0)); last > n.committed {
		n.committed = last
	}
	n.commitTo(n.committed)
	if l.afterReconfig(n, Message{}) {
		return
	}
	n.setStatus(Status{State: n.state, Leader: l.leader, Epoch: l.epoch, Serving: true})
	l.send(n, jute.PacketAck, Zxid(l.epoch, 0), nil)
	if !l.observer {
		for _, z := range l.unacked {
			if z > n.committed {
				l.send(n, jute.PacketAck, z, nil)
			}
		}
	}
	l.unacked = nil
}

// lastBefore returns the last logged zxid below bound.
func (n *Node) lastBefore(bound int64) int64 {
	if n.lastZxid < bound {
		return n.lastZxid
	}
	z, _ := n.entryBefore(bound)
	return z
}

// tick gives up on a silent leader.
func (l *learner) tick(n *Node) {
	if n.tick > l.deadline {
		n.becomeLooking("leader silent")
	}
}
