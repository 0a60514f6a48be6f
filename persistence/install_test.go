package persistence

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/gokeeper/gokeeper/jute"
)

// recovered is what a restarted server rebuilds from a store: the newest
// snapshot and the log after it.
type recovered struct {
	snapZxid int64
	nodes    int
	sessions int
	log      []int64 // zxids replayed after the snapshot
}

func (r recovered) String() string {
	return fmt.Sprintf("snapshot 0x%x (%d nodes, %d sessions) + log %x", r.snapZxid, r.nodes, r.sessions, r.log)
}

func (r recovered) equal(o recovered) bool { return r.String() == o.String() }

// last is the zxid of the last txn the recovered tree holds.
func (r recovered) last() int64 {
	if n := len(r.log); n > 0 {
		return r.log[n-1]
	}
	return r.snapZxid
}

func recoverStore(t testing.TB, s *Store) recovered {
	t.Helper()
	l, _ := loadLatest(t, s)
	r := recovered{snapZxid: l.zxid, nodes: len(l.nodes), sessions: len(l.sessions)}
	for _, e := range replayAll(t, s, l.zxid) {
		r.log = append(r.log, e.Zxid)
	}
	return r
}

func snapshotFiles(t testing.TB, fs vfs.FS) []string {
	t.Helper()
	names, err := fs.List("/data/snapshots")
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// oldState: snapshots at 3 and 7, the log 1..10, and a snapshot at 20,
// ahead of the log (a learner sent a SNAP earlier, or one that is ahead of
// its new leader).
func oldState(t *testing.T, s *Store) {
	t.Helper()
	if err := appendWait(t, s, txnEntries(1, 10)); err != nil {
		t.Fatal(err)
	}
	for _, z := range []int64{3, 7} {
		if err := s.WriteSnapshot(z, nil, testTree(int(z))); err != nil {
			t.Fatal(err)
		}
	}
}

var installZxid = jute.MakeZxid(2, 5)

func installSessions() []Session { return []Session{{ID: 1, Timeout: 4000}, {ID: 2, Timeout: 6000}} }

func TestInstallSnapshot(t *testing.T) {
	for _, ahead := range []bool{false, true} {
		t.Run(fmt.Sprintf("ahead=%v", ahead), func(t *testing.T) {
			fs := vfs.NewMem()
			s := mustOpen(t, testOptions(fs))
			oldState(t, s)
			zxid := installZxid
			if ahead {
				// The store has a snapshot beyond the one installed.
				if err := s.WriteSnapshot(jute.MakeZxid(3, 1), nil, testTree(1)); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.InstallSnapshot(zxid, installSessions(), testTree(40)); err != nil {
				t.Fatalf("InstallSnapshot: %v", err)
			}
			want := recovered{snapZxid: zxid, nodes: 44, sessions: 2}
			check := func(s *Store) {
				t.Helper()
				if got := recoverStore(t, s); !got.equal(want) {
					t.Fatalf("recovered %v, want %v", got, want)
				}
				wantLast := int64(0) // an empty log
				if len(want.log) > 0 {
					wantLast = want.last()
				}
				if got := s.LastZxid(); got != wantLast {
					t.Fatalf("LastZxid = 0x%x, want 0x%x", got, wantLast)
				}
				if names := snapshotFiles(t, fs); len(names) != 1 || names[0] != snapName(zxid) {
					t.Fatalf("snapshot files %v, want only %s", names, snapName(zxid))
				}
			}
			check(s)
			if err := appendWait(t, s, []Entry{txnEntry(zxid)}); !errors.Is(err, ErrZxidOrder) {
				t.Fatalf("append at the snapshot's zxid: %v, want ErrZxidOrder", err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, testOptions(fs))
			defer s.Close()
			check(s)
			// The log goes on after the snapshot.
			if err := appendWait(t, s, txnEntries(zxid+1, zxid+2)); err != nil {
				t.Fatalf("append after the snapshot: %v", err)
			}
			want.log = []int64{zxid + 1, zxid + 2}
			check(s)
		})
	}
}

// TestInstallSnapshotCrash crashes before every change InstallSnapshot
// makes to the files: a reopened store recovers the old state or the new
// one, the new one once InstallSnapshot returned, and goes on from there.
func TestInstallSnapshotCrash(t *testing.T) {
	installed := recovered{snapZxid: installZxid, nodes: 44, sessions: 2}
	for _, powerLoss := range []bool{false, true} {
		t.Run(fmt.Sprintf("powerLoss=%v", powerLoss), func(t *testing.T) {
			seen := map[string]bool{}
			install := func(s *Store) error { return s.InstallSnapshot(installZxid, installSessions(), testTree(40)) }
			forEachCrash(t, powerLoss, oldState, install, func(t *testing.T, c crashCase) {
				if c.opErr != nil {
					t.Fatalf("crash before change %d: InstallSnapshot: %v", c.k, c.opErr)
				}
				got := recoverStore(t, c.s)
				next := int64(11)
				switch {
				case got.equal(installed):
					seen["new"] = true
					next = installZxid + 1
				case got.last() == 10 && !c.done:
					// The old history: snapshot 7 + log 8..10, or log
					// 1..10 after a power loss (WriteSnapshot leaves
					// snapshots the log covers unsynced).
					seen["old"] = true
				default:
					t.Fatalf("crash before change %d (done %v): recovered %v, want the history up to 10 or %v",
						c.k, c.done, got, installed)
				}
				if err := appendWait(t, c.s, txnEntries(next, next)); err != nil {
					t.Fatalf("crash before change %d: append 0x%x after recovery: %v", c.k, next, err)
				}
			})
			if !seen["old"] || !seen["new"] {
				t.Fatalf("crash points saw %v: want both states", seen)
			}
		})
	}
}

func TestOpenRefusesTwoPendingInstalls(t *testing.T) {
	fs := vfs.NewMem()
	s := mustOpen(t, testOptions(fs))
	oldState(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, z := range []int64{20, 30} {
		if _, err := writeSnapshotFile(fs, "/data/snapshots/"+snapName(z)+installSuffix, z, nil, testTree(1), nil, true); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Open(testOptions(fs)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open: %v, want ErrCorrupt", err)
	}
}

// TestTruncateAfterExact truncates at every point of a log that spans two
// epochs (ZOOKEEPER-1154: truncate exactly, not a txn more): a reopened
// store holds exactly the log up to there, and the log goes on after it.
func TestTruncateAfterExact(t *testing.T) {
	log := append(txnEntries(1, 5), txnEntries(jute.MakeZxid(2, 1), jute.MakeZxid(2, 4))...)
	points := []int64{0}
	for _, e := range log {
		points = append(points, e.Zxid)
	}
	for i, after := range points {
		fs := vfs.NewMem()
		s := mustOpen(t, testOptions(fs))
		if err := appendWait(t, s, log); err != nil {
			t.Fatal(err)
		}
		if err := s.TruncateAfter(after); err != nil {
			t.Fatalf("TruncateAfter(0x%x): %v", after, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = mustOpen(t, testOptions(fs))
		checkEntries(t, replayAll(t, s, 0), log[:i])
		if got := s.LastZxid(); got != after {
			t.Fatalf("TruncateAfter(0x%x): LastZxid = 0x%x after reopen", after, got)
		}
		// The new leader's txns follow, in a new epoch.
		next := jute.MakeZxid(3, 1)
		if err := appendWait(t, s, txnEntries(next, next)); err != nil {
			t.Fatalf("TruncateAfter(0x%x): append 0x%x: %v", after, next, err)
		}
		_ = s.Close()
	}
}

// TestTruncateAfterCrash crashes before every change of a TruncateAfter
// that also drops a snapshot taken after the truncation point (of a tree
// that had replayed the never-committed tail, ZOOKEEPER-1549): a reopened
// store recovers the whole old history or exactly the truncated one.
func TestTruncateAfterCrash(t *testing.T) {
	setup := func(t *testing.T, s *Store) {
		if err := appendWait(t, s, txnEntries(1, 10)); err != nil {
			t.Fatal(err)
		}
		for _, z := range []int64{2, 3, 9} {
			if err := s.WriteSnapshot(z, nil, testTree(int(z))); err != nil {
				t.Fatal(err)
			}
		}
		// Purge makes the snapshots durable (and drops the log before 2).
		if err := s.Purge(3); err != nil {
			t.Fatal(err)
		}
	}
	for _, powerLoss := range []bool{false, true} {
		t.Run(fmt.Sprintf("powerLoss=%v", powerLoss), func(t *testing.T) {
			seen := map[string]bool{}
			truncate := func(s *Store) error { return s.TruncateAfter(6) }
			forEachCrash(t, powerLoss, setup, truncate, func(t *testing.T, c crashCase) {
				if c.opErr != nil {
					t.Fatalf("crash before change %d: TruncateAfter: %v", c.k, c.opErr)
				}
				got := recoverStore(t, c.s)
				switch {
				case got.equal(recovered{snapZxid: 3, nodes: 7, log: []int64{4, 5, 6}}):
					seen["new"] = true
				case got.last() == 10 && !c.done:
					// The old history: snapshot 9 + log 10, or (once
					// snapshot 9 is gone) snapshot 3 + log 4..10.
					seen["old"] = true
				default:
					t.Fatalf("crash before change %d (done %v): recovered %v, want the history up to 10 or up to 6",
						c.k, c.done, got)
				}
			})
			if !seen["old"] || !seen["new"] {
				t.Fatalf("crash points saw %v: want both states", seen)
			}
		})
	}
}
