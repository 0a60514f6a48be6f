package datatree

import (
	"slices"

	"github.com/gokeeper/gokeeper/jute"
)

// watchMode is the set of modes one watcher holds on one path, as
// ZooKeeper's WatchStats: a standard (one-shot) watch, a persistent watch
// and a persistent-recursive watch may all coexist.
type watchMode uint8

const (
	modeStandard watchMode = 1 << iota
	modePersistent
	modeRecursive
)

// watchManager is one of ZooKeeper's two WatchManagers (data/exist watches,
// or child watches). It is guarded by Tree.watchMu.
type watchManager struct {
	byPath    map[string]map[WatcherID]watchMode
	byWatcher map[WatcherID]map[string]struct{}
	// recursive counts (watcher, path) pairs holding modeRecursive; when it
	// is zero a trigger looks only at the changed path, not its ancestors.
	recursive int
}

func newWatchManager() *watchManager {
	return &watchManager{
		byPath:    make(map[string]map[WatcherID]watchMode),
		byWatcher: make(map[WatcherID]map[string]struct{}),
	}
}

// add gives w mode m on path.
func (m *watchManager) add(path string, w WatcherID, mode watchMode) {
	ws := m.byPath[path]
	if ws == nil {
		ws = make(map[WatcherID]watchMode, 1)
		m.byPath[path] = ws
	}
	old := ws[w]
	if old&mode == mode {
		return
	}
	ws[w] = old | mode
	if mode&modeRecursive != 0 && old&modeRecursive == 0 {
		m.recursive++
	}
	ps := m.byWatcher[w]
	if ps == nil {
		ps = make(map[string]struct{})
		m.byWatcher[w] = ps
	}
	ps[path] = struct{}{}
}

// contains reports whether w holds on path any of the modes in mode (any
// mode at all when mode is 0).
func (m *watchManager) contains(path string, w WatcherID, mode watchMode) bool {
	got, ok := m.byPath[path][w]
	if !ok {
		return false
	}
	return mode == 0 || got&mode != 0
}

// remove takes the modes in mode (all modes when mode is 0) from w on path
// and reports whether anything was removed.
func (m *watchManager) remove(path string, w WatcherID, mode watchMode) bool {
	ws := m.byPath[path]
	old, ok := ws[w]
	if !ok {
		return false
	}
	next := old &^ mode
	if mode == 0 {
		next = 0
	}
	if next == old {
		return false
	}
	m.set(path, ws, w, old, next)
	return true
}

// set changes w's modes on path from old to next, keeping the indexes and
// the recursive count right.
func (m *watchManager) set(path string, ws map[WatcherID]watchMode, w WatcherID, old, next watchMode) {
	if old&modeRecursive != 0 && next&modeRecursive == 0 {
		m.recursive--
	}
	if next != 0 {
		ws[w] = next
		return
	}
	delete(ws, w)
	if len(ws) == 0 {
		delete(m.byPath, path)
	}
	if ps := m.byWatcher[w]; ps != nil {
		delete(ps, path)
		if len(ps) == 0 {
			delete(m.byWatcher, w)
		}
	}
}

// removeWatcher drops every watch of w.
func (m *watchManager) removeWatcher(w WatcherID) {
	for path := range m.byWatcher[w] {
		ws := m.byPath[path]
		if ws[w]&modeRecursive != 0 {
			m.recursive--
		}
		delete(ws, w)
		if len(ws) == 0 {
			delete(m.byPath, path)
		}
	}
	delete(m.byWatcher, w)
}

// trigger fires the watches that a change of type typ at path sets off, as
// WatchManager.triggerWatch: every watcher with a watch on path (standard
// ones are consumed, persistent ones stay) and every watcher with a
// persistent-recursive watch on an ancestor, each once. Watchers in
// suppress are consumed but not notified. It appends the events in
// ascending watcher order to evs and returns the set of watchers that
// qualified (including suppressed ones), for a later trigger to suppress.
func (m *watchManager) trigger(path string, typ jute.EventType, zxid int64, suppress []WatcherID, acl []jute.ACL, evs []Event) ([]Event, []WatcherID) {
	var fired []WatcherID
	if ws := m.byPath[path]; ws != nil {
		for w, mode := range ws {
			fired = append(fired, w)
			if mode&modeStandard != 0 {
				m.set(path, ws, w, mode, mode&^modeStandard)
			}
		}
	}
	if m.recursive > 0 {
		for p := path; p != "/"; {
			p = parentPath(p)
			for w, mode := range m.byPath[p] {
				if mode&modeRecursive != 0 {
					fired = append(fired, w)
				}
			}
		}
	}
	if len(fired) == 0 {
		return evs, nil
	}
	slices.Sort(fired)
	fired = slices.Compact(fired)
	for _, w := range fired {
		if _, skip := slices.BinarySearch(suppress, w); skip {
			continue
		}
		evs = append(evs, Event{Watcher: w, Type: typ, Path: path, Zxid: zxid, ACL: acl})
	}
	return evs, fired
}

// count is the number of (path, watcher) pairs (WatchManager.size).
func (m *watchManager) count() int {
	n := 0
	for _, ws := range m.byPath {
		n += len(ws)
	}
	return n
}

// parentPath returns the parent of a validated absolute path ("/" for
// children of the root).
func parentPath(p string) string {
	i := lastSlash(p)
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

func lastSlash(p string) int {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return i
		}
	}
	return -1
}
