package quorum

import "math"

// election is Fast Leader Election's state while a member looks for a
// leader (ZooKeeper's FastLeaderElection.lookForLeader), driven by
// notifications and ticks instead of a blocking queue.
type election struct {
	// round is the logical clock: the election round this member is in.
	round int64
	// vote is the member's current proposal.
	vote Vote
	// recv holds the votes of this round (recvset); out those of members
	// that already follow or lead (outofelection).
	recv, out map[int64]Vote
	// resendIn counts ticks to the next resend; interval is the current
	// resend interval, doubling up to MaxNotifyInterval.
	resendIn, interval int
	// finalizeIn, when positive, counts the ticks left before a quorum on
	// vote decides, unless a better vote arrives first.
	finalizeIn int
}

// initialVote is the vote a member starts an election with: itself with
// its last zxid and current epoch, or, for an observer, the lowest vote.
func (n *Node) initialVote() Vote {
	if !n.conf.isVoter(n.cfg.ID) {
		return Vote{State: Looking, Leader: math.MinInt64, Zxid: math.MinInt64, PeerEpoch: math.MinInt64}
	}
	return Vote{State: Looking, Leader: n.cfg.ID, Zxid: n.lastZxid, PeerEpoch: n.hs.CurrentEpoch}
}

// startElection begins a new round with the member's own vote.
func (n *Node) startElection() {
	e := &n.elect
	e.round++
	e.vote = n.initialVote()
	e.vote.ElectionEpoch = e.round
	e.recv = map[int64]Vote{}
	e.out = map[int64]Vote{}
	e.finalizeIn = 0
	e.interval = n.cfg.MinNotifyInterval
	n.sendVotes()
	n.recordOwnVote()
}

// sendVotes sends the current vote to every other voter (of the active
// and the pending memberships) and restarts the resend timer.
func (n *Node) sendVotes() {
	e := &n.elect
	for _, v := range n.voters() {
		if v != n.cfg.ID {
			n.send(Message{To: v, Vote: n.withConfig(e.vote)})
		}
	}
	e.resendIn = e.interval
}

// withConfig returns a copy of v carrying the active membership.
func (n *Node) withConfig(v Vote) *Vote {
	c := n.conf
	v.Config = &c
	return &v
}

// recordOwnVote counts a voter's own vote, as the notification it sends
// itself would, and checks for a quorum.
func (n *Node) recordOwnVote() {
	if n.isVoter(n.cfg.ID) {
		n.elect.recv[n.cfg.ID] = n.elect.vote
		n.checkElectionQuorum()
	}
}

// better is FastLeaderElection.totalOrderPredicate: a candidate with a
// higher epoch wins, then a higher zxid, then a higher id.
func better(newID, newZxid, newEpoch, curID, curZxid, curEpoch int64) bool {
	if newEpoch != curEpoch {
		return newEpoch > curEpoch
	}
	if newZxid != curZxid {
		return newZxid > curZxid
	}
	return newID > curID
}

func (v Vote) betterThan(o Vote) bool {
	return better(v.Leader, v.Zxid, v.PeerEpoch, o.Leader, o.Zxid, o.PeerEpoch)
}

// sameVote is ZooKeeper's Vote.equals: votes of members that follow or
// lead agree on leader and epoch; a looking member's vote must match in
// every field.
func sameVote(a, b Vote) bool {
	if a.State == Looking || b.State == Looking {
		return a.Leader == b.Leader && a.Zxid == b.Zxid && a.ElectionEpoch == b.ElectionEpoch && a.PeerEpoch == b.PeerEpoch
	}
	return a.Leader == b.Leader && a.PeerEpoch == b.PeerEpoch
}

// hasQuorum reports whether the voters whose votes in votes equal v are a
// quorum: of every membership that counts when they elect a new leader
// (v is a looking vote), of the active one when they name a leader that
// runs (it decides alone whom it takes, and a pending reconfig it
// dropped must not keep this member out).
func (n *Node) hasQuorum(votes map[int64]Vote, v Vote) bool {
	set := map[int64]bool{}
	for id, w := range votes {
		if sameVote(w, v) {
			set[id] = true
		}
	}
	if v.State != Looking {
		return n.conf.quorum(set)
	}
	return n.quorum(set)
}

// checkLeader is FastLeaderElection.checkLeader: a member other than us
// may be followed only if its own vote says it leads; we may lead only in
// the round we are in.
func (n *Node) checkLeader(votes map[int64]Vote, leader, round int64) bool {
	if leader == n.cfg.ID {
		return round == n.elect.round
	}
	v, ok := votes[leader]
	return ok && v.State == Leading
}

// currentVote is what a member that is not looking answers a looking one.
func (n *Node) currentVote() Vote {
	v := n.final
	v.State = n.state
	return v
}

// stepVote handles an election notification.
func (n *Node) stepVote(m Message) {
	v := *m.Vote
	if n.state == Looking && v.Config != nil && v.Config.Version > n.conf.Version {
		// NB: a member's notification carries its active membership, which
		// a committed reconfig made: a looking member that missed it adopts
		// it and starts over, as ZooKeeper's does.
		n.activate(*v.Config)
		n.activated = false
		n.startElection()
	}
	if !n.isVoter(m.From) {
		// A non-voter learns the leader from our answer and is not counted.
		n.replyVote(m.From)
		return
	}
	if n.state != Looking {
		if v.State == Looking {
			n.replyVote(m.From)
		}
		return
	}
	e := &n.elect
	switch v.State {
	case Looking:
		if v.ElectionEpoch < e.round {
			n.replyVote(m.From)
			return
		}
		if !n.isVoter(v.Leader) {
			return
		}
		switch {
		case v.ElectionEpoch > e.round:
			e.round = v.ElectionEpoch
			e.recv = map[int64]Vote{}
			own := n.initialVote()
			if v.betterThan(own) {
				e.vote = Vote{State: Looking, Leader: v.Leader, Zxid: v.Zxid, PeerEpoch: v.PeerEpoch}
			} else {
				e.vote = own
			}
			e.vote.ElectionEpoch = e.round
			e.finalizeIn = 0
			n.sendVotes()
			if n.isVoter(n.cfg.ID) {
				e.recv[n.cfg.ID] = e.vote
			}
		case v.betterThan(e.vote):
			e.vote = Vote{State: Looking, Leader: v.Leader, Zxid: v.Zxid, ElectionEpoch: e.round, PeerEpoch: v.PeerEpoch}
			e.finalizeIn = 0
			n.sendVotes()
			if n.isVoter(n.cfg.ID) {
				e.recv[n.cfg.ID] = e.vote
			}
		}
		e.recv[m.From] = Vote{State: Looking, Leader: v.Leader, Zxid: v.Zxid, ElectionEpoch: v.ElectionEpoch, PeerEpoch: v.PeerEpoch}
		n.checkElectionQuorum()
	case Following, Leading:
		if v.ElectionEpoch == e.round {
			e.recv[m.From] = v
			if n.hasQuorum(e.recv, v) && n.checkLeader(e.recv, v.Leader, v.ElectionEpoch) {
				n.decide(v)
				return
			}
		}
		// A member joining a running ensemble follows once a quorum says
		// who leads (ZOOKEEPER-1732).
		e.out[m.From] = v
		if n.hasQuorum(e.out, v) && n.checkLeader(e.out, v.Leader, v.ElectionEpoch) {
			e.round = v.ElectionEpoch
			n.decide(v)
		}
	}
}

// checkElectionQuorum starts the finalize wait once a quorum of this
// round's votes agrees with ours.
func (n *Node) checkElectionQuorum() {
	e := &n.elect
	if e.finalizeIn == 0 && n.hasQuorum(e.recv, e.vote) {
		e.finalizeIn = n.cfg.FinalizeWait
	}
}

// replyVote answers a notification with our vote.
func (n *Node) replyVote(to int64) {
	var v Vote
	if n.state == Looking {
		v = n.elect.vote
	} else {
		v = n.currentVote()
	}
	n.send(Message{To: to, Vote: n.withConfig(v)})
}

// tickElection advances the resend and finalize timers.
func (n *Node) tickElection() {
	e := &n.elect
	if e.finalizeIn > 0 {
		e.finalizeIn--
		if e.finalizeIn == 0 {
			n.decide(e.vote)
			return
		}
	}
	e.resendIn--
	if e.resendIn <= 0 {
		e.interval = min(2*e.interval, n.cfg.MaxNotifyInterval)
		n.sendVotes()
	}
}

// decide ends the election: lead if the vote names us, else learn from
// the leader it names.
func (n *Node) decide(v Vote) {
	n.final = Vote{Leader: v.Leader, Zxid: v.Zxid, ElectionEpoch: n.elect.round, PeerEpoch: v.PeerEpoch}
	if v.Leader == n.cfg.ID {
		n.becomeLeader()
		return
	}
	n.becomeLearner(v.Leader, n.learnerRole())
}
