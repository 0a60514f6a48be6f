package server

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gokeeper/gokeeper/jute"
)

// Read-only views of the server's state for the operator interfaces
// (package admin's four-letter words, AdminServer and metrics). Each takes
// its locks briefly and returns copies.

// SessionExpiry is one expiry bucket of the session tracker: the sessions
// that expire at Time unless they are touched first (ZooKeeper's
// ExpiryQueue, reported by `dump`).
type SessionExpiry struct {
	// Time is the bucket's expiry time on the wall clock, for display: the
	// tracker keeps buckets on the monotonic clock, so this is now plus
	// the time left, as ZooKeeper's Time.elapsedTimeToDate converts it.
	Time time.Time
	// Sessions are the bucket's session ids, sorted.
	Sessions []int64
}

// SessionExpiries returns the session tracker's non-empty expiry buckets,
// earliest first, and the number of live sessions.
func (s *Server) SessionExpiries() ([]SessionExpiry, int) {
	s.smu.Lock()
	defer s.smu.Unlock()
	t := s.smu.tracker
	wall, nowMs := s.now(), s.sessionMs()
	out := make([]SessionExpiry, 0, len(t.buckets))
	for at, ids := range t.buckets {
		if len(ids) == 0 {
			continue
		}
		e := SessionExpiry{Time: time.UnixMilli(wall.UnixMilli() + at - nowMs)}
		for id := range ids {
			e.Sessions = append(e.Sessions, id)
		}
		slices.Sort(e.Sessions)
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b SessionExpiry) int { return a.Time.Compare(b.Time) })
	return out, len(t.sessions)
}

// SessionEphemerals returns, for each live session that owns ephemeral
// znodes, their sorted paths (`dump`, getEphemerals).
func (s *Server) SessionEphemerals() map[int64][]string {
	s.smu.Lock()
	ids := make([]int64, 0, len(s.smu.tracker.sessions))
	for id := range s.smu.tracker.sessions {
		ids = append(ids, id)
	}
	s.smu.Unlock()
	out := make(map[int64][]string)
	for _, id := range ids {
		if ps := s.tree.Ephemerals(id); len(ps) > 0 {
			out[id] = ps
		}
	}
	return out
}

// WatchesBySession returns each session's watched paths, sorted (`wchc`).
// Like ZooKeeper it reports the data/exist watch table only.
func (s *Server) WatchesBySession() map[int64][]string {
	out := make(map[int64][]string)
	for w, paths := range s.tree.WatchesByWatcher() {
		c, ok := s.watchers.Load(w)
		if !ok {
			continue
		}
		id := c.(*Client).session
		out[id] = append(out[id], paths...)
	}
	for id, ps := range out {
		slices.Sort(ps)
		out[id] = slices.Compact(ps)
	}
	return out
}

// WatchersByPath returns each watched path's watching sessions, sorted
// (`wchp`), over the data/exist watch table.
func (s *Server) WatchersByPath() map[string][]int64 {
	out := make(map[string][]int64)
	for p, ws := range s.tree.WatchesByPath() {
		ids := make([]int64, 0, len(ws))
		for _, w := range ws {
			if c, ok := s.watchers.Load(w); ok {
				ids = append(ids, c.(*Client).session)
			}
		}
		if len(ids) == 0 {
			continue
		}
		slices.Sort(ids)
		out[p] = slices.Compact(ids)
	}
	return out
}

// DirSizes returns the bytes held in the data directory and in the txn
// log directory (ZooKeeper's getDataDirSize and getLogDirSize, `dirs`).
// When both are the same directory both sizes are its size, as in
// ZooKeeper.
func (s *Server) DirSizes() (dataDir, logDir int64) {
	return dirSize(s.cfg.DataDir), dirSize(s.cfg.EffectiveDataLogDir())
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // NB: files come and go under a running server
		}
		if !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// snapshotDir is where the store writes snapshots (persistence's layout:
// dataDir/snapshots/snapshot.<hex zxid>, ZooKeeper's file names).
func (s *Server) snapshotDir() string { return filepath.Join(s.cfg.DataDir, "snapshots") }

// SnapshotInfo describes a snapshot file on disk.
type SnapshotInfo struct {
	// Zxid is the last zxid the snapshot covers.
	Zxid int64
	// Path is the snapshot file.
	Path string
	// ModTime is when the file was written.
	ModTime time.Time
	// Size is the file's size in bytes.
	Size int64
}

// LastSnapshot returns the newest snapshot file, and false when there is
// none (`last_snapshot`).
func (s *Server) LastSnapshot() (SnapshotInfo, bool) {
	ents, err := os.ReadDir(s.snapshotDir())
	if err != nil {
		return SnapshotInfo{}, false
	}
	var best SnapshotInfo
	found := false
	for _, e := range ents {
		hex, ok := strings.CutPrefix(e.Name(), "snapshot.")
		if !ok || e.IsDir() {
			continue
		}
		z, err := strconv.ParseUint(hex, 16, 64)
		if err != nil || (found && int64(z) <= best.Zxid) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		best = SnapshotInfo{Zxid: int64(z), Path: filepath.Join(s.snapshotDir(), e.Name()),
			ModTime: info.ModTime(), Size: info.Size()}
		found = true
	}
	return best, found
}

// SnapshotFile returns the file of the snapshot taken at zxid.
func (s *Server) SnapshotFile(zxid int64) (SnapshotInfo, error) {
	p := filepath.Join(s.snapshotDir(), "snapshot."+strconv.FormatUint(uint64(zxid), 16))
	info, err := os.Stat(p)
	if err != nil {
		return SnapshotInfo{}, err
	}
	return SnapshotInfo{Zxid: zxid, Path: p, ModTime: info.ModTime(), Size: info.Size()}, nil
}

// IsRunning reports whether the server is serving (not closed).
func (s *Server) IsRunning() bool {
	select {
	case <-s.stop:
		return false
	default:
		return true
	}
}

// AuthorizeAdmin checks an AdminServer request's credentials as ZooKeeper
// 3.9's Commands.runCommand does: the scheme's provider authenticates auth
// (for "digest", "user:password"; for "ip", the request's remoteIP), then
// every bit of perm must be granted by the ACL of the znode at path to one
// of the ids. It returns CodeAuthFailed (bad credentials), CodeNoNode,
// CodeNoAuth (authenticated but not permitted) or CodeOK.
func (s *Server) AuthorizeAdmin(scheme string, auth []byte, remoteIP, path string, perm int32) jute.Code {
	ids, code := AuthenticateIDs(scheme, auth, remoteIP, &s.prepO)
	if code != jute.CodeOK {
		return jute.CodeAuthFailed
	}
	acl, _, code := s.tree.GetACL(path)
	if code != jute.CodeOK {
		return code
	}
	for bit := int32(1); bit <= perm && bit > 0; bit <<= 1 {
		if perm&bit == 0 {
			continue
		}
		if c := aclCheck(s.prepO.authRegistry(), s.prepO.SkipACL, acl, bit, ids); c != jute.CodeOK {
			return jute.CodeNoAuth
		}
	}
	return jute.CodeOK
}
