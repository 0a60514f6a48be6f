package datatree

import (
	"maps"
	"slices"

	"github.com/gokeeper/gokeeper/jute"
)

// addWatch registers a watch; callers hold mu (read or write).
func (t *Tree) addWatch(m *watchManager, path string, w WatcherID, mode watchMode) {
	t.watchMu.Lock()
	m.add(path, w, mode)
	t.watchMu.Unlock()
}

// AddWatch adds a persistent (jute.AddWatchPersistent) or
// persistent-recursive (jute.AddWatchPersistentRecursive) watch for w on
// path, which need not exist. A persistent watch fires for the node's
// data, existence and children; a recursive one for the existence and data
// of the node and all its descendants, never NodeChildrenChanged. Both
// stay until removed.
func (t *Tree) AddWatch(path string, w WatcherID, mode int32) {
	t.watchMu.Lock()
	defer t.watchMu.Unlock()
	if mode == jute.AddWatchPersistentRecursive {
		t.dataWatches.add(path, w, modeRecursive)
		return
	}
	t.dataWatches.add(path, w, modePersistent)
	t.childWatches.add(path, w, modePersistent)
}

// CheckWatches reports CodeOK if w has a watch of type typ on path, else
// CodeNoWatcher (DataTree.containsWatcher).
func (t *Tree) CheckWatches(path string, w WatcherID, typ jute.WatcherType) jute.Code {
	t.watchMu.Lock()
	defer t.watchMu.Unlock()
	var ok bool
	switch typ {
	case jute.WatcherChildren:
		ok = t.childWatches.contains(path, w, modeStandard)
	case jute.WatcherData:
		ok = t.dataWatches.contains(path, w, modeStandard)
	case jute.WatcherPersistent:
		ok = t.dataWatches.contains(path, w, modePersistent)
	case jute.WatcherPersistentRecursive:
		ok = t.dataWatches.contains(path, w, modeRecursive)
	case jute.WatcherAny:
		ok = t.childWatches.contains(path, w, 0) || t.dataWatches.contains(path, w, 0)
	}
	if !ok {
		return jute.CodeNoWatcher
	}
	return jute.CodeOK
}

// RemoveWatches removes w's watches of type typ on path
// (DataTree.removeWatch) and returns CodeNoWatcher if there were none.
//
// NB: Apache ZooKeeper's server sends no notification when watches are
// removed; the client raises DataWatchRemoved/ChildWatchRemoved itself when
// the reply comes back OK. The returned events are therefore always empty,
// and a server that delivers them stays wire-identical to ZooKeeper.
func (t *Tree) RemoveWatches(path string, w WatcherID, typ jute.WatcherType) ([]Event, jute.Code) {
	t.watchMu.Lock()
	defer t.watchMu.Unlock()
	var removed bool
	switch typ {
	case jute.WatcherChildren:
		removed = t.childWatches.remove(path, w, modeStandard)
	case jute.WatcherData:
		removed = t.dataWatches.remove(path, w, modeStandard)
	case jute.WatcherPersistent:
		a := t.childWatches.remove(path, w, modePersistent)
		b := t.dataWatches.remove(path, w, modePersistent)
		removed = a || b
	case jute.WatcherPersistentRecursive:
		removed = t.dataWatches.remove(path, w, modeRecursive)
	case jute.WatcherAny:
		a := t.childWatches.remove(path, w, 0)
		b := t.dataWatches.remove(path, w, 0)
		removed = a || b
	}
	if !removed {
		return nil, jute.CodeNoWatcher
	}
	return nil, jute.CodeOK
}

// SetWatches re-arms w's watches after a reconnect, as DataTree.setWatches:
// a data watch fires NodeDeleted if the node is gone or NodeDataChanged if
// its mzxid is past relativeZxid, else is re-added; an exist watch fires
// NodeCreated if the node now exists, else is re-added; a child watch fires
// NodeDeleted if the node is gone or NodeChildrenChanged if its pzxid is
// past relativeZxid, else is re-added; persistent and recursive watches are
// re-added. The events (zxid -1) come in that order. The request's own
// RelativeZxid field is ignored in favour of relativeZxid.
func (t *Tree) SetWatches(w WatcherID, relativeZxid int64, sw *jute.SetWatches2) []Event {
	t.mu.RLock()
	defer t.mu.RUnlock()
	t.watchMu.Lock()
	defer t.watchMu.Unlock()
	var evs []Event
	fire := func(typ jute.EventType, p string) {
		evs = append(evs, Event{Watcher: w, Type: typ, Path: p, Zxid: -1})
	}
	for _, p := range sw.DataWatches {
		switch n := t.lookupLocked(p); {
		case n == nil:
			fire(jute.EventNodeDeleted, p)
		case n.mzxid > relativeZxid:
			fire(jute.EventNodeDataChanged, p)
		default:
			t.dataWatches.add(p, w, modeStandard)
		}
	}
	for _, p := range sw.ExistWatches {
		if t.lookupLocked(p) != nil {
			fire(jute.EventNodeCreated, p)
		} else {
			t.dataWatches.add(p, w, modeStandard)
		}
	}
	for _, p := range sw.ChildWatches {
		switch n := t.lookupLocked(p); {
		case n == nil:
			fire(jute.EventNodeDeleted, p)
		case n.pzxid() > relativeZxid:
			fire(jute.EventNodeChildrenChanged, p)
		default:
			t.childWatches.add(p, w, modeStandard)
		}
	}
	for _, p := range sw.PersistentWatches {
		t.childWatches.add(p, w, modePersistent)
		t.dataWatches.add(p, w, modePersistent)
	}
	for _, p := range sw.PersistentRecursiveWatches {
		t.dataWatches.add(p, w, modeRecursive)
	}
	return evs
}

// RemoveWatcher drops all of w's watches (its connection is gone).
func (t *Tree) RemoveWatcher(w WatcherID) {
	t.watchMu.Lock()
	defer t.watchMu.Unlock()
	t.dataWatches.removeWatcher(w)
	t.childWatches.removeWatcher(w)
}

// WatchCount returns the number of (path, watcher) pairs in both the data
// and the child watch tables (DataTree.getWatchCount, zk_watch_count).
func (t *Tree) WatchCount() int {
	t.watchMu.Lock()
	defer t.watchMu.Unlock()
	return t.dataWatches.count() + t.childWatches.count()
}

// WatchesByWatcher returns, for wchc, each watcher's watched paths, sorted.
// As in ZooKeeper (DataTree.getWatches) only the data/exist table is
// reported; child-only watches do not appear.
func (t *Tree) WatchesByWatcher() map[WatcherID][]string {
	t.watchMu.Lock()
	defer t.watchMu.Unlock()
	out := make(map[WatcherID][]string, len(t.dataWatches.byWatcher))
	for w, ps := range t.dataWatches.byWatcher {
		out[w] = slices.Sorted(maps.Keys(ps))
	}
	return out
}

// WatchesByPath returns, for wchp, each watched path's watchers, sorted;
// like WatchesByWatcher it reports the data/exist table only.
func (t *Tree) WatchesByPath() map[string][]WatcherID {
	t.watchMu.Lock()
	defer t.watchMu.Unlock()
	out := make(map[string][]WatcherID, len(t.dataWatches.byPath))
	for p, ws := range t.dataWatches.byPath {
		out[p] = slices.Sorted(maps.Keys(ws))
	}
	return out
}

// WatchSummary returns, for wchs, the number of connections watching, of
// watched paths and of watches, over the data/exist table as ZooKeeper's
// DataTree.getWatchesSummary does.
func (t *Tree) WatchSummary() (connections, paths, total int) {
	t.watchMu.Lock()
	defer t.watchMu.Unlock()
	for _, ps := range t.dataWatches.byWatcher {
		total += len(ps)
	}
	return len(t.dataWatches.byWatcher), len(t.dataWatches.byPath), total
}
