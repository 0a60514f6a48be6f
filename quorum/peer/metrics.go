package peer

import (
	"encoding/binary"
	"strings"
	"sync"
	"time"

	"github.com/gokeeper/gokeeper/internal/metrics"
	"github.com/gokeeper/gokeeper/jute"
	"github.com/gokeeper/gokeeper/quorum"
)

// peerMetrics are the ZooKeeper metrics the peer measures, recorded from
// its loop (the hooks below are called there only; revalidate_count
// from the connections' readers). Times are in
// milliseconds; latencies run from a txn's creation (its TxnHeader time,
// the leader's wall clock) to now, as ZooKeeper's Request.logLatency.
type peerMetrics struct {
	electionTime       *metrics.Summary // election_time: looking until a role (followers and leaders)
	lookingCount       *metrics.Counter // looking_count: times the member started looking
	unavailableTime    *metrics.Summary // unavailable_time: not serving until serving again
	leaderUnavailable  *metrics.Summary // leader_unavailable_time: the same, ending as leader
	followerSyncTime   *metrics.Summary // follower_sync_time: DIFF/TRUNC/SNAP received until UPTODATE
	observerSyncTime   *metrics.Summary // observer_sync_time: the same for an observer
	diffCount          *metrics.Counter // diff_count: learners a leader synced by DIFF or TRUNC
	snapCount          *metrics.Counter // snap_count: learners a leader synced by SNAP
	proposalCount      *metrics.Counter // proposal_count: txns a leader proposed
	commitCount        *metrics.Counter // commit_count: txns a leader committed in broadcast
	quorumAckLatency   *metrics.Summary // quorum_ack_latency: a leader's txn until a quorum acked it
	proposalReceived   *metrics.Counter // learner_proposal_received_count: PROPOSALs a follower got in broadcast
	commitReceived     *metrics.Counter // learner_commit_received_count: COMMITs (INFORMs) a learner got in broadcast
	proposalLatency    *metrics.Summary // proposal_latency: a txn until its PROPOSAL reached a follower
	ackCreationLatency *metrics.Summary // proposal_ack_creation_latency: a txn until logged here in broadcast
	unrecoverable      *metrics.Counter // unrecoverable_error_count: the peer stopped on a storage error
	revalidates        *metrics.Counter // revalidate_count: learners' REVALIDATEs a leader got (connection readers)

	// proposals are the leader's proposal sizes (last_proposal_size,
	// min_proposal_size, max_proposal_size).
	proposals metrics.BufferStats

	// Loop only.
	lookingSince     time.Time // when the member started looking; zero once it has a role
	unavailableSince time.Time // when the member stopped serving; zero while it serves
	syncSince        time.Time // when a learner got its sync mode; zero otherwise

	mu struct {
		sync.Mutex
		detail      string    // ZooKeeper's detailed peer state
		leaderSince time.Time // when this member became a serving leader; zero otherwise
		learners    learnerCounts
	}
}

func newPeerMetrics(r *metrics.Registry, start time.Time) *peerMetrics {
	m := &peerMetrics{
		electionTime:       r.Summary("election_time", metrics.Basic),
		lookingCount:       r.Counter("looking_count"),
		unavailableTime:    r.Summary("unavailable_time", metrics.Basic),
		leaderUnavailable:  r.Summary("leader_unavailable_time", metrics.Basic),
		followerSyncTime:   r.Summary("follower_sync_time", metrics.Basic),
		observerSyncTime:   r.Summary("observer_sync_time", metrics.Basic),
		diffCount:          r.Counter("diff_count"),
		snapCount:          r.Counter("snap_count"),
		proposalCount:      r.Counter("proposal_count"),
		commitCount:        r.Counter("commit_count"),
		quorumAckLatency:   r.Summary("quorum_ack_latency", metrics.Advanced),
		proposalReceived:   r.Counter("learner_proposal_received_count"),
		commitReceived:     r.Counter("learner_commit_received_count"),
		proposalLatency:    r.Summary("proposal_latency", metrics.Advanced),
		ackCreationLatency: r.Summary("proposal_ack_creation_latency", metrics.Advanced),
		unrecoverable:      r.Counter("unrecoverable_error_count"),
		revalidates:        r.Counter("revalidate_count"),
		unavailableSince:   start,
	}
	m.mu.detail = "looking"
	return m
}

// roleName is ZooKeeper's ServerState in lower case, as
// getDetailedPeerState prints it.
func roleName(s quorum.PeerState) string { return strings.ToLower(s.String()) }

func (m *peerMetrics) setDetail(d string) {
	m.mu.Lock()
	m.mu.detail = d
	m.mu.Unlock()
}

// status records a status change: elections, unavailability, a learner's
// sync and the detailed peer state.
func (m *peerMetrics) status(prev, st quorum.Status, now time.Time) {
	switch {
	case st.State == quorum.Looking:
		if prev.State != quorum.Looking || m.lookingSince.IsZero() {
			m.lookingCount.Add(1)
		}
		if m.lookingSince.IsZero() {
			m.lookingSince = now
		}
		m.setDetail("looking")
	case !m.lookingSince.IsZero():
		// NB: ZooKeeper times elections that end in leading or following;
		// an observer's is not counted.
		if st.State != quorum.Observing {
			m.electionTime.Add(now.Sub(m.lookingSince).Milliseconds())
		}
		m.lookingSince = time.Time{}
	}
	if !st.Serving {
		if m.unavailableSince.IsZero() {
			m.unavailableSince = now
		}
		if st.State != quorum.Looking {
			m.setDetail(roleName(st.State) + " - discovery")
		}
		m.syncSince = time.Time{}
		m.mu.Lock()
		m.mu.leaderSince = time.Time{}
		m.mu.Unlock()
		return
	}
	if !m.unavailableSince.IsZero() {
		ms := now.Sub(m.unavailableSince).Milliseconds()
		m.unavailableTime.Add(ms)
		if st.State == quorum.Leading {
			m.leaderUnavailable.Add(ms)
		}
		m.unavailableSince = time.Time{}
	}
	if !m.syncSince.IsZero() {
		ms := now.Sub(m.syncSince).Milliseconds()
		switch st.State {
		case quorum.Following:
			m.followerSyncTime.Add(ms)
		case quorum.Observing:
			m.observerSyncTime.Add(ms)
		}
		m.syncSince = time.Time{}
	}
	m.mu.Lock()
	m.mu.detail = roleName(st.State) + " - broadcast"
	if st.State == quorum.Leading {
		m.mu.leaderSince = now
	}
	m.mu.Unlock()
}

// received records a quorum packet the loop is about to step.
func (m *peerMetrics) received(st quorum.Status, msg quorum.Message, now time.Time) {
	learner := st.State == quorum.Following || st.State == quorum.Observing
	if !learner {
		return
	}
	switch msg.Type {
	case jute.PacketDiff, jute.PacketTrunc, jute.PacketSnap:
		if !st.Serving {
			m.syncSince = now
			m.setDetail(roleName(st.State) + " - synchronization - " + strings.ToLower(msg.Type.String()))
		}
	case jute.PacketProposal:
		if st.Serving && st.State == quorum.Following {
			m.proposalReceived.Add(1)
			addLatency(m.proposalLatency, msg.Data, now)
		}
	case jute.PacketCommit, jute.PacketInform:
		if st.Serving {
			m.commitReceived.Add(1)
		}
	}
}

// sent records a quorum packet the loop sends.
func (m *peerMetrics) sent(st quorum.Status, msg quorum.Message) {
	if st.State != quorum.Leading {
		return
	}
	switch msg.Type {
	case jute.PacketDiff, jute.PacketTrunc:
		// NB: ZooKeeper's LearnerHandler counts a TRUNC as a DIFF.
		m.diffCount.Add(1)
	case jute.PacketSnap:
		m.snapCount.Add(1)
	default:
		return
	}
	if !st.Serving {
		m.setDetail("leading - synchronization")
	}
}

// proposed records the txns a leader proposed.
func (m *peerMetrics) proposed(entries []quorum.Entry) {
	m.proposalCount.Add(int64(len(entries)))
	for _, e := range entries {
		m.proposals.Set(int64(len(e.Data)))
	}
}

// committed records a leader's proposals that a quorum acknowledged.
func (m *peerMetrics) committed(entries []quorum.Entry, now time.Time) {
	m.commitCount.Add(int64(len(entries)))
	for _, e := range entries {
		addLatency(m.quorumAckLatency, e.Data, now)
	}
}

// logged records txns made durable here while serving: the moment a
// follower's ACK, or a leader's own, can be sent.
func (m *peerMetrics) logged(st quorum.Status, entries []quorum.Entry, now time.Time) {
	if !st.Serving || st.State == quorum.Observing {
		return
	}
	for _, e := range entries {
		addLatency(m.ackCreationLatency, e.Data, now)
	}
}

// txnTimeOffset is where a TxnHeader's time lies: after clientId (8),
// cxid (4) and zxid (8).
const txnTimeOffset = 20

// addLatency records the time from a txn's creation to now, unless the
// txn is too short to have a header or the clocks disagree (ZooKeeper
// drops negative latencies too).
func addLatency(s *metrics.Summary, txn []byte, now time.Time) {
	if len(txn) < txnTimeOffset+8 {
		return
	}
	created := int64(binary.BigEndian.Uint64(txn[txnTimeOffset:]))
	if ms := now.UnixMilli() - created; ms >= 0 {
		s.Add(ms)
	}
}

// LeaderStats are the gauges ZooKeeper's leader registers (learners,
// synced_followers, synced_observers, pending_syncs, leader_uptime and
// the proposal sizes); Peer.LeaderStats returns them.
type LeaderStats struct {
	Learners, SyncedFollowers, SyncedObservers int
	// PendingSyncs is the learners' syncs waiting for the proposals
	// before them to commit (pending_syncs).
	PendingSyncs int
	// Uptime is how long this member has been the serving leader.
	Uptime time.Duration
	// LastProposalSize, MinProposalSize and MaxProposalSize are in bytes,
	// -1 before any proposal.
	LastProposalSize, MinProposalSize, MaxProposalSize int64
}

// learnerCounts are the core's LearnerCounts and the learners' syncs
// waiting, as the loop last saw them.
type learnerCounts struct {
	learners, followers, observers, syncs int
}

// leaderNow records the leader's learners and the learners' syncs
// waiting for the proposals before them (pending), after the loop handled
// what woke it (all 0 on a member that does not lead).
func (m *peerMetrics) leaderNow(n *quorum.Node, pending []proposal) {
	var lc learnerCounts
	lc.learners, lc.followers, lc.observers, _ = n.LearnerCounts()
	for _, pr := range pending {
		if pr.learner != 0 {
			lc.syncs++
		}
	}
	m.mu.Lock()
	m.mu.learners = lc
	m.mu.Unlock()
}

// LeaderStats returns the leader's gauges; ok is false unless this
// member is a serving leader. NB: it reads what the loop last recorded,
// so mntr never waits for a loop that is busy (serializing a SNAP).
func (p *Peer) LeaderStats() (LeaderStats, bool) {
	p.m.mu.Lock()
	since, lc := p.m.mu.leaderSince, p.m.mu.learners
	p.m.mu.Unlock()
	if since.IsZero() {
		return LeaderStats{}, false
	}
	st := LeaderStats{Learners: lc.learners, SyncedFollowers: lc.followers, SyncedObservers: lc.observers,
		PendingSyncs: lc.syncs, Uptime: time.Since(since)}
	st.LastProposalSize, st.MinProposalSize, st.MaxProposalSize = p.m.proposals.Get()
	return st, true
}

// DetailedState is ZooKeeper's getDetailedPeerState, which mntr prints as
// zk_peer_state: the role and, once it has one, the ZAB phase
// ("looking", "following - synchronization - diff", "leading -
// broadcast").
func (p *Peer) DetailedState() string {
	p.m.mu.Lock()
	defer p.m.mu.Unlock()
	return p.m.mu.detail
}
