package main

import "testing"

func TestGCPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, 100},         // nothing measured yet
		{10 * mib, 100},  // small tree: Go's default
		{64 * mib, 100},  // the headroom is the whole live heap
		{128 * mib, 50},  // 64 MiB of headroom
		{220 * mib, 29},  // 1M znodes of 100 bytes
		{256 * mib, 25},  // the floor from here on
		{4096 * mib, 25}, // a quarter of a large heap
		{1<<64 - 1, 25},  // no overflow
	} {
		if got := gcPercent(tc.live); got != tc.want {
			t.Errorf("gcPercent(%d MiB) = %d, want %d", tc.live/mib, got, tc.want)
		}
	}
}
