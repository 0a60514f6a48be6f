package quorum

import (
	"strings"
	"testing"

	"github.com/gokeeper/gokeeper/jute"
)

// settle drives the members without faults until cond holds, for at most
// ticks ticks, and reports whether it held.
func (s *sim) settle(ticks int, cond func() bool) bool {
	for end := s.now + int64(ticks); s.now < end && s.failed == ""; s.now++ {
		if cond() {
			return true
		}
		s.deliver()
		s.tickAll()
	}
	return cond()
}

// servingLeader returns the member that leads and serves, or nil.
func (s *sim) servingLeader() *simNode {
	for _, id := range s.ids {
		if sn := s.nodes[id]; sn.n != nil && sn.status.State == Leading && sn.status.Serving {
			return sn
		}
	}
	return nil
}

// newReconfigSim starts three voters and a spare (n4, configured with
// itself as a fourth voter) and waits until all four serve.
func newReconfigSim(t *testing.T) *sim {
	t.Helper()
	s := newSimNodes(t, 1, 3, 0)
	s.addSpare()
	for _, id := range s.ids {
		s.start(s.nodes[id])
	}
	if !s.settle(2000, func() bool { l := s.servingLeader(); return l != nil && s.allServing(l.id) }) {
		t.Fatalf("no serving ensemble: %s\n%s", s.failed, strings.Join(s.trace, "\n"))
	}
	// The first leader versioned the static membership with its epoch
	// (ZOOKEEPER-1783); the spare took it from NEWLEADER.
	v := Zxid(s.servingLeader().status.Epoch, 0)
	for _, id := range s.ids {
		if c := s.nodes[id].conf; c.Version != v || joinIDs(c.Voters) != "1,2,3" {
			t.Fatalf("n%d runs membership %#x %v, want %#x [1 2 3]", id, c.Version, c.Voters, v)
		}
	}
	return s
}

// proposeOn has the serving leader propose data and returns its zxid.
func (s *sim) proposeOn(t *testing.T, data string) (*simNode, int64) {
	t.Helper()
	l := s.servingLeader()
	z, ok := l.n.NextZxid()
	if !ok {
		t.Fatal("the leader takes no proposal")
	}
	if err := l.n.Propose(z, []byte(data)); err != nil {
		t.Fatal(err)
	}
	s.handleReady(l)
	return l, z
}

// TestReconfigRemovesLeader adds the spare as a voter and removes the
// leader in one reconfig: the leader commits it with quorums of both
// memberships, names a voter of the new one in COMMITANDACTIVATE, and
// hands over; the new leader's epoch is newer, every member runs the new
// membership, the old leader follows without a vote, and a txn proposed
// under the new leader reaches every member.
func TestReconfigRemovesLeader(t *testing.T) {
	s := newReconfigSim(t)
	old := s.servingLeader()
	oldEpoch := old.status.Epoch
	var voters []int64
	for _, id := range []int64{1, 2, 3, 4} {
		if id != old.id {
			voters = append(voters, id)
		}
	}
	if !QuorumSynced(old.n.Synced(), voters) {
		t.Fatalf("the spare is not synced with leader n%d", old.id)
	}
	_, rz := s.proposeOn(t, "reconfig voters="+joinIDs(voters)+" observers=")
	ok := s.settle(2000, func() bool {
		l := s.servingLeader()
		return l != nil && l.id != old.id && s.allServing(l.id) && s.allApplied(rz)
	})
	trace := strings.Join(s.trace, "\n")
	if !ok || s.failed != "" {
		t.Fatalf("no new leader serving everyone after the reconfig %#x: %s\n%s", rz, s.failed, trace)
	}
	l := s.servingLeader()
	if !contains(voters, l.id) || l.status.Epoch <= oldEpoch {
		t.Errorf("leader n%d of epoch %d after the reconfig, want one of %v in an epoch after %d", l.id, l.status.Epoch, voters, oldEpoch)
	}
	if !strings.Contains(trace, "reconfig hands over to") {
		t.Errorf("no member was handed over to the designated leader:\n%s", trace)
	}
	for _, id := range s.ids {
		if c := s.nodes[id].conf; c.Version != rz || joinIDs(c.Voters) != joinIDs(voters) {
			t.Errorf("n%d runs membership %#x %v, want %#x %v", id, c.Version, c.Voters, rz, voters)
		}
	}
	if st := old.status; st.State != Following || st.Leader != l.id {
		t.Errorf("the removed leader n%d is %v of n%d, want a follower of n%d", old.id, st.State, st.Leader, l.id)
	}
	_, z := s.proposeOn(t, "after")
	if !s.settle(500, func() bool { return s.allApplied(z) }) {
		t.Fatalf("a txn of the new membership did not reach every member:\n%s", strings.Join(s.trace, "\n"))
	}
}

// TestReconfigNeedsBothQuorums: a reconfig to voters {1,2,4} proposed
// while 4 and one other new voter are down does not commit, though the
// old membership has a quorum (the leader, which counts quorums of both
// from then on, steps down); nor does any txn after it. Both commit once
// the new membership has its quorum back.
func TestReconfigNeedsBothQuorums(t *testing.T) {
	s := newReconfigSim(t)
	l := s.servingLeader()
	if l.id == 4 {
		t.Fatal("the spare leads")
	}
	voters := []int64{1, 2, 4}
	// n4 and the new voter that does not lead go down.
	other := s.nodes[1]
	if l.id == 1 {
		other = s.nodes[2]
	}
	s.crash(s.nodes[4])
	s.crash(other)
	_, rz := s.proposeOn(t, "reconfig voters="+joinIDs(voters)+" observers=")
	_, z := s.proposeOn(t, "next")
	s.settle(200, func() bool { return false })
	if s.failed != "" {
		t.Fatal(s.failed)
	}
	for _, id := range s.ids {
		if sn := s.nodes[id]; sn.stateZxid() >= rz {
			t.Fatalf("n%d applied the reconfig %#x without a quorum of %v\n%s", id, rz, voters, strings.Join(s.trace, "\n"))
		}
	}
	s.start(s.nodes[4])
	s.start(other)
	if !s.settle(2000, func() bool { return s.allApplied(z) }) {
		t.Fatalf("the reconfig %#x and the txn after it did not commit once the new voters returned: %s\n%s", rz, s.failed, strings.Join(s.trace, "\n"))
	}
}

// TestReconfigActivatePackets: a committed reconfig reaches followers as
// COMMITANDACTIVATE and observers as INFORMANDACTIVATE with the txn,
// both naming the designated leader.
func TestReconfigActivatePackets(t *testing.T) {
	s := newSimNodes(t, 1, 3, 1)
	s.reconfig = true
	for _, id := range s.ids {
		s.start(s.nodes[id])
	}
	if !s.settle(2000, func() bool { l := s.servingLeader(); return l != nil && s.allServing(l.id) }) {
		t.Fatal("no serving ensemble")
	}
	l := s.servingLeader()
	var got []Message
	_, rz := s.proposeOn(t, "reconfig voters=1,2,3 observers=4")
	for end := s.now + 200; s.now < end && !s.allApplied(rz); s.now++ {
		for _, e := range s.queue {
			if e.m.Zxid == rz && (e.m.Type == jute.PacketCommitAndActivate || e.m.Type == jute.PacketInformAndActivate) && !e.disconnect {
				got = append(got, e.m)
			}
		}
		s.deliver()
		s.tickAll()
	}
	seen := map[int64]jute.PacketType{}
	for _, m := range got {
		seen[m.To] = m.Type
		if m.Designated != l.id {
			t.Errorf("%v names leader %d, want %d", m, m.Designated, l.id)
		}
		if m.Type == jute.PacketInformAndActivate && string(m.Data) != "reconfig voters=1,2,3 observers=4" {
			t.Errorf("INFORMANDACTIVATE carries %q", m.Data)
		}
	}
	for _, id := range s.ids {
		want := jute.PacketCommitAndActivate
		if id == 4 {
			want = jute.PacketInformAndActivate
		}
		if id != l.id && seen[id] != want {
			t.Errorf("n%d got %v for the reconfig, want %v", id, seen[id], want)
		}
	}
}
