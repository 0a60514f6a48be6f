package chaos

import (
	"strings"
	"testing"
)

func TestCheckQueue(t *testing.T) {
	ops := []QueueOp{
		{Client: 0, ID: 1, Outcome: OK, Path: queuePath + "/item-0000000000"},
		{Client: 1, ID: 2, Outcome: Unknown},
		{Client: 0, ID: 3, Outcome: OK, Path: queuePath + "/item-0000000002"},
	}
	good := []QueueItem{{"item-0000000000", 1, 10}, {"item-0000000001", 2, 11}, {"item-0000000002", 3, 12}}
	for _, tc := range []struct {
		name  string
		ops   []QueueOp
		items []QueueItem
		want  string
	}{
		{"every acknowledged item, an unknown one too", ops, good, ""},
		{"the unknown one did not happen", ops, []QueueItem{good[0], good[2]}, ""},
		{"an acknowledged item lost", ops, good[1:], "is lost"},
		{"an item under another name", ops, []QueueItem{{"item-0000000005", 1, 10}, good[1], good[2]}, "acknowledged as"},
		{"a name acknowledged twice", append(ops[:2:2], QueueOp{Client: 0, ID: 3, Outcome: OK, Path: queuePath + "/item-0000000000"}),
			[]QueueItem{good[0], good[1]}, "acknowledged to item 1 and to item 3"},
		{"an item nobody created", ops, append(good[:3:3], QueueItem{"item-0000000003", 99, 13}), "nobody created"},
		{"sequence numbers out of zxid order", ops, []QueueItem{good[0], {"item-0000000001", 2, 14}, good[2]}, "was created after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := checkQueue(tc.ops, tc.items)
			switch {
			case tc.want == "" && len(got) > 0:
				t.Errorf("anomalies %q, want none", got)
			case tc.want != "" && (len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), tc.want)):
				t.Errorf("anomalies %q, want one with %q", got, tc.want)
			}
		})
	}
}

func TestCheckLocks(t *testing.T) {
	holds := []Hold{{0, 1, ms(0), ms(10)}, {1, 2, ms(10), ms(20)}, {2, 3, ms(30), ms(40)}}
	if got := checkLocks(holds); len(got) != 0 {
		t.Errorf("back-to-back holds: anomalies %q", got)
	}
	got := checkLocks(append(holds, Hold{0, 4, ms(35), ms(50)}))
	if len(got) != 1 || !strings.Contains(got[0], "two lock holders") {
		t.Errorf("overlapping holds: anomalies %q, want one", got)
	}
}

func TestCheckWatches(t *testing.T) {
	obs := []WatchObs{
		{Watcher: 0, Key: 0, Session: 1, Version: 0},
		{Watcher: 0, Key: 0, Session: 1, Version: 2, Fired: true},
		{Watcher: 0, Key: 0, Session: 2, Version: 1}, // a new session may start anywhere
	}
	final := map[int]int32{0: 3}
	if got := checkWatches(obs, final, map[[2]int]int32{{0, 0}: 3}); len(got) != 0 {
		t.Errorf("anomalies %q, want none", got)
	}
	for _, tc := range []struct {
		name string
		obs  WatchObs
		last int32
		want string
	}{
		{"back in time", WatchObs{Watcher: 0, Key: 0, Session: 2, Version: 0}, 3, "go back"},
		{"an event for no change", WatchObs{Watcher: 0, Key: 0, Session: 2, Version: 1, Fired: true}, 3, "was told"},
		{"never told of the last change", WatchObs{Watcher: 0, Key: 0, Session: 2, Version: 2}, 2, "last heard"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := checkWatches(append(obs[:3:3], tc.obs), final, map[[2]int]int32{{0, 0}: tc.last})
			if len(got) != 1 || !strings.Contains(got[0], tc.want) {
				t.Errorf("anomalies %q, want one with %q", got, tc.want)
			}
		})
	}
}
