package peer

import (
	"testing"
	"time"

	"github.com/gokeeper/gokeeper/internal/metrics"
	"github.com/gokeeper/gokeeper/jute"
	"github.com/gokeeper/gokeeper/quorum"
)

// txnAt is a txn as the server logs it, created at wall-clock ms.
func txnAt(zxid, ms int64) []byte {
	hdr := jute.TxnHeader{ClientId: 1, Cxid: 1, Zxid: zxid, Time: ms, Type: int32(jute.OpCreate)}
	return (&jute.CreateTxn{Path: "/m", Acl: jute.OpenACLUnsafe()}).Encode(hdr.Encode(nil))
}

// TestPeerMetrics: three peers elect and the leader commits five txns;
// each records ZooKeeper's quorum metrics for its role, and reports its
// detailed state and (the leader) its learners.
func TestPeerMetrics(t *testing.T) {
	c := newCluster(t, 3)
	lead, st := c.leader()
	const n = 5
	var entries []quorum.Entry
	var zxids []int64
	created := time.Now().Add(-time.Second).UnixMilli() // NB: a second ago, so each latency is >= 1000
	for i := range n {
		z := quorum.Zxid(st.Epoch, int64(i+1))
		entries = append(entries, quorum.Entry{Zxid: z, Data: txnAt(z, created)})
		zxids = append(zxids, z)
	}
	done := make(chan error, 1)
	c.peers[lead].Propose(entries, func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.converged(zxids)

	type check struct {
		name string
		want func(int64) bool
		what string
	}
	atLeast := func(x int64) func(int64) bool { return func(v int64) bool { return v >= x } }
	is := func(x int64) func(int64) bool { return func(v int64) bool { return v == x } }
	value := func(r *metrics.Registry, name string) int64 {
		for _, ct := range r.Counters() {
			if ct.Name() == name {
				return ct.Get()
			}
		}
		for _, s := range r.Summaries() {
			if s.Name() == name {
				return s.Values().Count
			}
		}
		t.Fatalf("%s is not registered", name)
		return 0
	}
	leaderChecks := []check{
		{"proposal_count", is(n), "the 5 proposed"}, {"commit_count", is(n), "the 5 committed"},
		{"quorum_ack_latency", is(n), "one per txn"}, {"proposal_ack_creation_latency", is(n), "one per txn logged"},
		{"diff_count", is(2), "two followers synced by DIFF"}, {"snap_count", is(0), "none"},
		{"looking_count", is(1), "one election"}, {"election_time", is(1), "one election"},
		{"unavailable_time", is(1), "serving once"}, {"leader_unavailable_time", is(1), "leading once"},
		{"learner_proposal_received_count", is(0), "none on the leader"},
	}
	followerChecks := []check{
		{"learner_proposal_received_count", is(n), "5 PROPOSALs"}, {"learner_commit_received_count", is(n), "5 COMMITs"},
		{"proposal_latency", is(n), "one per PROPOSAL"}, {"proposal_ack_creation_latency", is(n), "one per txn logged"},
		{"follower_sync_time", is(1), "one sync"}, {"election_time", atLeast(1), "its election"},
		{"proposal_count", is(0), "none on a follower"}, {"leader_unavailable_time", is(0), "none on a follower"},
	}
	for id, p := range c.peers {
		reg := c.metrics[id]
		checks, state := followerChecks, "following - broadcast"
		if id == lead {
			checks, state = leaderChecks, "leading - broadcast"
		}
		for _, ch := range checks {
			if v := value(reg, ch.name); !ch.want(v) {
				t.Errorf("member %d: %s = %d, want %s", id, ch.name, v, ch.what)
			}
		}
		if got := p.DetailedState(); got != state {
			t.Errorf("member %d: detailed state %q, want %q", id, got, state)
		}
		ls, ok := p.LeaderStats()
		if ok != (id == lead) {
			t.Errorf("member %d: LeaderStats ok %v", id, ok)
		}
		if id == lead && (ls.Learners != 2 || ls.SyncedFollowers != 2 || ls.SyncedObservers != 0 ||
			ls.LastProposalSize != int64(len(entries[n-1].Data)) || ls.MinProposalSize <= 0 || ls.Uptime <= 0) {
			t.Errorf("leader stats %+v", ls)
		}
	}
	// The latencies run from the txn's creation, a second ago.
	if v := c.metrics[lead].Summary("quorum_ack_latency", metrics.Advanced).Values(); v.Min < 1000 {
		t.Errorf("quorum_ack_latency min %d ms, want >= 1000 for txns created a second ago", v.Min)
	}
}

// TestLeaderStatsPendingSyncs: a leader's pending_syncs is the learners'
// syncs among the proposals waiting to commit, as the loop last saw them.
func TestLeaderStatsPendingSyncs(t *testing.T) {
	st := &memStorage{}
	node, err := quorum.New(quorum.Config{ID: 1, Voters: []int64{1}, InitLimit: 10, SyncLimit: 5, PingInterval: 1,
		FinalizeWait: 1, MinNotifyInterval: 1, MaxNotifyInterval: 10}, st, quorum.HardState{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := &Peer{m: newPeerMetrics(nil, time.Now())}
	if _, ok := p.LeaderStats(); ok {
		t.Fatal("LeaderStats on a member that never led")
	}
	p.m.status(quorum.Status{}, quorum.Status{State: quorum.Leading, Leader: 1, Epoch: 1, Serving: true}, time.Now())
	p.m.leaderNow(node, []proposal{{last: 5}, {last: 5, learner: 2}, {last: 9}, {last: 9, learner: 3}, {last: 9, learner: 2}})
	ls, ok := p.LeaderStats()
	if !ok || ls.PendingSyncs != 3 {
		t.Fatalf("pending syncs %d (ok %v), want the 3 learners' syncs waiting", ls.PendingSyncs, ok)
	}
	p.m.leaderNow(node, nil)
	if ls, _ := p.LeaderStats(); ls.PendingSyncs != 0 {
		t.Fatalf("pending syncs %d once every proposal committed", ls.PendingSyncs)
	}
}
