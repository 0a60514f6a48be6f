package chaos

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// QueueOp is one sequential create of a queue item: its id is the data.
type QueueOp struct {
	Client  int
	ID      int64
	Outcome Outcome
	Path    string // the path the create returned
}

// QueueItem is an item found in the queue once the faults healed.
type QueueItem struct {
	Name  string // item-0000000042
	ID    int64
	Czxid int64
}

// seqOf returns the sequence number a sequential node's name ends with.
func seqOf(name string) (int64, error) {
	if len(name) < 10 {
		return 0, fmt.Errorf("no sequence number in %q", name)
	}
	return strconv.ParseInt(name[len(name)-10:], 10, 64)
}

// checkQueue checks the queue of sequential creates: every acknowledged
// item is there, under the name its create returned; no name was
// returned twice; every item there was created by someone (acknowledged
// or unknown), once; and the sequence numbers are in zxid order.
func checkQueue(ops []QueueOp, items []QueueItem) (anomalies []string) {
	byID := map[int64]QueueItem{}
	for _, it := range items {
		if prev, dup := byID[it.ID]; dup {
			anomalies = append(anomalies, fmt.Sprintf("queue item %d is there twice: %s and %s", it.ID, prev.Name, it.Name))
		}
		byID[it.ID] = it
	}
	attempted := map[int64]QueueOp{}
	paths := map[string]QueueOp{}
	for _, op := range ops {
		attempted[op.ID] = op
		if op.Outcome != OK {
			continue
		}
		if prev, dup := paths[op.Path]; dup {
			anomalies = append(anomalies, fmt.Sprintf("queue name %s acknowledged to item %d and to item %d", op.Path, prev.ID, op.ID))
		}
		paths[op.Path] = op
		it, ok := byID[op.ID]
		switch {
		case !ok:
			anomalies = append(anomalies, fmt.Sprintf("acknowledged queue item %d (%s, client %d) is lost", op.ID, op.Path, op.Client))
		case !strings.HasSuffix(op.Path, "/"+it.Name):
			anomalies = append(anomalies, fmt.Sprintf("queue item %d was acknowledged as %s but is %s", op.ID, op.Path, it.Name))
		}
	}
	for _, it := range items {
		if _, ok := attempted[it.ID]; !ok {
			anomalies = append(anomalies, fmt.Sprintf("queue item %s holds %d, which nobody created", it.Name, it.ID))
		}
	}
	sorted := append([]QueueItem(nil), items...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for i := 1; i < len(sorted); i++ {
		a, b := sorted[i-1], sorted[i]
		sa, erra := seqOf(a.Name)
		sb, errb := seqOf(b.Name)
		if erra != nil || errb != nil || sa == sb {
			anomalies = append(anomalies, fmt.Sprintf("queue items %s and %s: bad or repeated sequence numbers", a.Name, b.Name))
			continue
		}
		if a.Czxid >= b.Czxid {
			anomalies = append(anomalies, fmt.Sprintf("queue item %s (czxid %#x) comes before %s (czxid %#x) but was created after it", a.Name, a.Czxid, b.Name, b.Czxid))
		}
	}
	return anomalies
}

// Hold is a time a lock client believed it held the lock: from its
// ephemeral create's acknowledgement to whichever came first, its
// release's call, the first sign its session might be gone (a
// disconnection) or a third of the session timeout. No other session can
// take the lock before then: the session expires no sooner than a
// session timeout after the leader last heard of it, which is at most a
// client ping interval (a third of the timeout) before the create's
// answer, and a member cut off from its leader drops its clients within
// syncLimit, well inside that.
type Hold struct {
	Client  int
	Session int64
	From    time.Duration
	To      time.Duration
}

// checkLocks reports overlapping holds of different sessions.
func checkLocks(holds []Hold) (anomalies []string) {
	sorted := append([]Hold(nil), holds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].From < sorted[j].From })
	var open []Hold
	for _, h := range sorted {
		kept := open[:0]
		for _, o := range open {
			if o.To > h.From {
				kept = append(kept, o)
			}
		}
		open = kept
		for _, o := range open {
			if o.Session != h.Session {
				anomalies = append(anomalies, fmt.Sprintf("two lock holders: client %d (session %#x) held it %v-%v, client %d (session %#x) from %v",
					o.Client, o.Session, o.From.Round(time.Millisecond), o.To.Round(time.Millisecond), h.Client, h.Session, h.From.Round(time.Millisecond)))
			}
		}
		open = append(open, h)
	}
	return anomalies
}

// WatchObs is what a watcher learnt of a register key: the version it
// read when it set a data watch, and whether it set it because the
// previous watch fired with NodeDataChanged.
type WatchObs struct {
	Watcher int
	Key     int
	Session int64
	Version int32
	Mzxid   int64
	Fired   bool // set after a NodeDataChanged event
	At      time.Duration
}

// checkWatches checks each watcher's view of each key: within a session
// versions never go back, and a NodeDataChanged event is followed by a
// newer version than the one the watch was set on (the event announced a
// change after it). final holds each key's version at the end and
// latest each watcher's last view of each key once it had time to hear
// of every change: it must be that version (a watcher that stays
// connected, or reconnects with its session, is told of every change).
func checkWatches(obs []WatchObs, final map[int]int32, latest map[[2]int]int32) (anomalies []string) {
	type wk struct{ watcher, key int }
	prev := map[wk]WatchObs{}
	for _, o := range obs {
		k := wk{o.Watcher, o.Key}
		p, ok := prev[k]
		prev[k] = o
		if !ok || p.Session != o.Session {
			continue
		}
		switch {
		case o.Version < p.Version:
			anomalies = append(anomalies, fmt.Sprintf("watcher %d saw r%d go back from version %d to %d at %v", o.Watcher, o.Key, p.Version, o.Version, o.At.Round(time.Millisecond)))
		case o.Fired && o.Version == p.Version:
			anomalies = append(anomalies, fmt.Sprintf("watcher %d was told r%d changed after version %d, then read version %d at %v", o.Watcher, o.Key, p.Version, o.Version, o.At.Round(time.Millisecond)))
		}
	}
	for k, v := range latest {
		if want, ok := final[k[1]]; ok && v != want {
			anomalies = append(anomalies, fmt.Sprintf("watcher %d last heard of r%d at version %d, but it is at version %d", k[0], k[1], v, want))
		}
	}
	return anomalies
}
