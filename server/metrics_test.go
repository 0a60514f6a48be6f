package server

import (
	"testing"

	"github.com/gokeeper/gokeeper/datatree"
	"github.com/gokeeper/gokeeper/internal/metrics"
	"github.com/gokeeper/gokeeper/jute"
)

// TestWatchesFired: each watch triggered (one path, one event type)
// records how many watchers it reached, under its event type, as
// ZooKeeper's WatchManager.triggerWatch does.
func TestWatchesFired(t *testing.T) {
	reg := metrics.NewRegistry()
	m := newServerMetrics(reg)
	ev := func(w int64, typ jute.EventType, path string) datatree.Event {
		return datatree.Event{Watcher: datatree.WatcherID(w), Type: typ, Path: path}
	}
	// A multi's events: /a deleted with three watchers, its parent's
	// children changed with one, /b created with two, /c deleted with one.
	m.watchesFired([]datatree.Event{
		ev(1, jute.EventNodeDeleted, "/a"), ev(2, jute.EventNodeDeleted, "/a"), ev(3, jute.EventNodeDeleted, "/a"),
		ev(1, jute.EventNodeChildrenChanged, "/"),
		ev(4, jute.EventNodeCreated, "/b"), ev(5, jute.EventNodeCreated, "/b"),
		ev(4, jute.EventNodeDeleted, "/c"),
	})
	for _, tt := range []struct {
		name       string
		count, sum int64
	}{
		{"node_deleted_watch_count", 2, 4}, {"node_children_watch_count", 1, 1},
		{"node_created_watch_count", 1, 2}, {"node_changed_watch_count", 0, 0},
	} {
		v := reg.Summary(tt.name, metrics.Basic).Values()
		if v.Count != tt.count || v.Sum != tt.sum {
			t.Errorf("%s: %d triggers reaching %d watchers, want %d reaching %d", tt.name, v.Count, v.Sum, tt.count, tt.sum)
		}
	}
}
