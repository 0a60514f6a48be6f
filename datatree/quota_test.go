package datatree

import (
	"testing"

	"github.com/gokeeper/gokeeper/jute"
)

func TestStatsTrackFormat(t *testing.T) {
	for _, tc := range []struct{ in, out string }{
		{"count=5,bytes=10", "count=5,bytes=10"},
		{"count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3", "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3"},
		{"countHardLimit=3", "count=-1,bytes=-1=;countHardLimit=3"},
		{"", "count=-1,bytes=-1"},
		{"count=x,bytes=2", "count=-1,bytes=2"},
	} {
		if got := string(parseStatsTrack([]byte(tc.in)).bytes()); got != tc.out {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.out)
		}
	}
}

func TestQuota(t *testing.T) {
	var b txnBuilder
	tr := New(Options{})
	mustOK(t, b.create(tr, "/app", "", 1, false))
	mustOK(t, b.create(tr, "/app/x", "abc", 1, false))
	mustOK(t, b.create(tr, "/other", "zzzz", 1, false))
	// What zkCli's setquota -N 3 /app writes.
	mustOK(t, b.create(tr, "/zookeeper/quota/app", "", 1, false))
	mustOK(t, b.create(tr, "/zookeeper/quota/app/zookeeper_limits", "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3", 1, false))
	mustOK(t, b.create(tr, "/zookeeper/quota/app/zookeeper_stats", "count=0,bytes=0", 1, false))
	stats := func() string {
		d, _, _ := tr.GetData("/zookeeper/quota/app/zookeeper_stats", 0)
		return string(d)
	}
	if s := stats(); s != "count=2,bytes=3" {
		t.Fatalf("recount on stats create: %q", s)
	}
	statBefore, _ := tr.Exists("/zookeeper/quota/app/zookeeper_stats", 0)
	mustOK(t, b.create(tr, "/app/y", "abcd", 1, false))
	mustOK(t, b.create(tr, "/other/y", "abcd", 1, false))
	if s := stats(); s != "count=3,bytes=7" {
		t.Fatalf("after create: %q", s)
	}
	if st, _ := tr.Exists("/zookeeper/quota/app/zookeeper_stats", 0); st.Mzxid != statBefore.Mzxid || st.Version != 0 {
		t.Fatalf("stats node stat changed: %+v", st)
	}
	for _, tc := range []struct {
		path          string
		count, nbytes int64
		want          jute.Code
	}{
		{"/app/z", 1, 0, jute.CodeQuotaExceeded},
		{"/app/x/deep", 1, 5, jute.CodeQuotaExceeded},
		{"/app", 0, 1000, jute.CodeOK}, // no byte limit
		{"/other/z", 1, 0, jute.CodeOK},
		{"/apple", 1, 0, jute.CodeOK}, // not under /app
	} {
		if got := tr.CheckQuota(tc.path, tc.count, tc.nbytes); got != tc.want {
			t.Errorf("CheckQuota(%s, %d, %d) = %v, want %v", tc.path, tc.count, tc.nbytes, got, tc.want)
		}
	}
	mustOK(t, b.setData(tr, "/app/y", "a"))
	mustOK(t, b.delete(tr, "/app/x"))
	if s := stats(); s != "count=2,bytes=1" {
		t.Fatalf("after setData and delete: %q", s)
	}
	if got := tr.CheckQuota("/app/z", 1, 0); got != jute.CodeOK {
		t.Fatalf("room again: %v", got)
	}
	// Byte hard limit, and a soft limit that never fails.
	mustOK(t, tr.Apply(b.hdr(jute.OpSetData, 1), &jute.SetDataTxn{Path: "/zookeeper/quota/app/zookeeper_limits",
		Data: []byte("count=1,bytes=-1=;byteHardLimit=5;countHardLimit=-1"), Version: 1}))
	if got := tr.CheckQuota("/app/y", 0, 4); got != jute.CodeOK {
		t.Fatalf("1+4 bytes within hard limit 5: %v", got)
	}
	if got := tr.CheckQuota("/app/y", 0, 5); got != jute.CodeQuotaExceeded {
		t.Fatalf("1+5 bytes over hard limit 5: %v", got)
	}
	if got := tr.CheckQuota("/app/q", 1, 0); got != jute.CodeOK {
		t.Fatalf("soft count limit must not fail: %v", got)
	}
	// Snapshot restore rebuilds the quota index and recounts.
	var snap []SnapshotNode
	_ = tr.Walk(nil, func(n *SnapshotNode) error {
		c := *n
		if c.Path == "/zookeeper/quota/app/zookeeper_stats" {
			c.Data = []byte("count=99,bytes=99")
		}
		snap = append(snap, c)
		return nil
	})
	r := restoreFrom(t, snap, tr.LastZxid())
	if d, _, _ := r.GetData("/zookeeper/quota/app/zookeeper_stats", 0); string(d) != "count=2,bytes=1" {
		t.Fatalf("restored stats %q", d)
	}
	if got := r.CheckQuota("/app/y", 0, 5); got != jute.CodeQuotaExceeded {
		t.Fatalf("restored quota not enforced: %v", got)
	}
	// Deleting the limits node drops the quota.
	mustOK(t, b.delete(tr, "/zookeeper/quota/app/zookeeper_limits"))
	mustOK(t, b.create(tr, "/app/w", "12345678", 1, false))
	if s := stats(); s != "count=2,bytes=1" {
		t.Fatalf("stats updated without a quota: %q", s)
	}
	if got := tr.CheckQuota("/app/y", 0, 50); got != jute.CodeOK {
		t.Fatalf("quota enforced after removal: %v", got)
	}
}
