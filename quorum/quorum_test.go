package quorum

import "testing"

// TestFollows: a learner takes a txn only right after the last one of its
// epoch, or as any txn of a later epoch; a hole makes it look for a
// leader again rather than fail its log.
func TestFollows(t *testing.T) {
	for _, tc := range []struct {
		prev, zxid int64
		want       bool
	}{
		{0, Zxid(1, 1), true},
		{0, Zxid(3, 7), true},
		{Zxid(1, 4), Zxid(1, 5), true},
		{Zxid(1, 4), Zxid(1, 6), false}, // a hole
		{Zxid(1, 4), Zxid(1, 4), false},
		{Zxid(1, 4), Zxid(1, 3), false},
		{Zxid(1, 4), Zxid(2, 1), true},
		{Zxid(2, 1), Zxid(1, 9), false},
	} {
		if got := follows(tc.prev, tc.zxid); got != tc.want {
			t.Errorf("follows(%#x, %#x) = %v, want %v", tc.prev, tc.zxid, got, tc.want)
		}
	}
}
