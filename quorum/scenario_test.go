package quorum

import (
	"fmt"
	"strings"
	"testing"
)

// txns makes the log entries of epoch e with counters from..to.
func txns(e, from, to int64) []Entry {
	var out []Entry
	for c := from; c <= to; c++ {
		out = append(out, Entry{Zxid: Zxid(e, c), Data: []byte(fmt.Sprintf("txn-%d-%d", e, c))})
	}
	return out
}

func concat(parts ...[]Entry) []Entry {
	var out []Entry
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// TestScenarios starts three voters from prepared durable state, with no
// faults, and checks who leads, how each learner is synced, and that a
// new txn then reaches every member (the simulation's invariants hold
// throughout).
func TestScenarios(t *testing.T) {
	type member struct {
		hs       HardState
		log      []Entry
		start    int64   // log compacted up to here (a snapshot holds it)
		snapshot []Entry // state of that snapshot
	}
	cases := []struct {
		name    string
		members [3]member
		leader  int64
		want    []string // trace lines that must appear
	}{
		{
			name:   "fresh ensemble: the highest id wins the tie",
			leader: 3,
			want:   []string{"n3: syncing learner 1 at 0x0 by DIFF from 0x0 to 0x0", "n3 is LEADING leader=3 epoch=1 serving=true"},
		},
		{
			name: "the longest log wins over a higher id",
			members: [3]member{
				{hs: HardState{1, 1}, log: txns(1, 1, 5)},
				{hs: HardState{1, 1}, log: txns(1, 1, 3)},
				{hs: HardState{1, 1}, log: txns(1, 1, 3)},
			},
			leader: 1,
			want:   []string{"n1: syncing learner 2 at 0x100000003 by DIFF from 0x100000003 to 0x100000005", "n1 is LEADING leader=1 epoch=2 serving=true"},
		},
		{
			name: "a newer epoch wins over a longer log, whose extra txns of the leader's last epoch are truncated",
			members: [3]member{
				{hs: HardState{2, 2}, log: txns(1, 1, 4)},
				{hs: HardState{1, 1}, log: txns(1, 1, 6)},
				{hs: HardState{2, 2}, log: txns(1, 1, 4)},
			},
			leader: 3,
			want: []string{
				"n3: syncing learner 2 at 0x100000006 by TRUNC from 0x100000004 to 0x100000004",
				"n2 truncates its log after 0x100000004 (was 0x100000006)",
			},
		},
		{
			name: "a learner's extra txns of an epoch the leader moved past get a snapshot, as ZooKeeper sends",
			members: [3]member{
				{hs: HardState{2, 2}, log: concat(txns(1, 1, 3), txns(2, 1, 2))},
				{hs: HardState{1, 1}, log: txns(1, 1, 4)},
				{hs: HardState{2, 2}, log: concat(txns(1, 1, 3), txns(2, 1, 2))},
			},
			leader: 3,
			want:   []string{"n3: syncing learner 2 at 0x100000004 by SNAP"},
		},
		{
			name: "a learner behind the leader's compacted log gets a snapshot",
			members: [3]member{
				{hs: HardState{1, 1}, log: txns(1, 1, 2)},
				{hs: HardState{1, 1}, log: txns(1, 1, 6)},
				{hs: HardState{1, 1}, log: txns(1, 5, 8), start: Zxid(1, 4), snapshot: txns(1, 1, 4)},
			},
			leader: 3,
			want:   []string{"n3: syncing learner 1 at 0x100000002 by SNAP from 0x10000000", "n1 installs a snapshot at 0x10000000"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSimNodes(t, 1, 3, 0)
			for i, m := range tc.members {
				sn := s.nodes[int64(i+1)]
				sn.hs = m.hs
				sn.log = &memLog{start: m.start, entries: m.log}
				sn.snapState = m.snapshot
			}
			for _, id := range s.ids {
				s.start(s.nodes[id])
			}
			s.runSafely(0)
			trace := strings.Join(s.trace, "\n")
			if s.failed != "" {
				t.Fatalf("%s\n%s", s.failed, trace)
			}
			if l := s.leaders[Epoch(s.history[len(s.history)-1].Zxid)]; l != tc.leader {
				t.Errorf("leader is n%d, want n%d\n%s", l, tc.leader, trace)
			}
			for _, w := range tc.want {
				if !strings.Contains(trace, w) {
					t.Errorf("the trace lacks %q:\n%s", w, trace)
				}
			}
			// The leader has both followers connected and synced (its
			// mntr's learners and synced_followers); the others lead none.
			for _, id := range s.ids {
				learners, followers, observers, ok := s.nodes[id].n.LearnerCounts()
				if id == tc.leader && (!ok || learners != 2 || followers != 2 || observers != 0) {
					t.Errorf("leader n%d: %d learners, %d synced followers, %d observers (ok %v), want 2, 2, 0", id, learners, followers, observers, ok)
				}
				if id != tc.leader && ok {
					t.Errorf("follower n%d reports learners", id)
				}
			}
		})
	}
}
