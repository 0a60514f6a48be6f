package datatree

import (
	"slices"
	"strconv"
	"strings"

	"github.com/gokeeper/gokeeper/jute"
)

// statsTrack is ZooKeeper's StatsTrack: the key=value text held by
// zookeeper_limits and zookeeper_stats nodes. The 3.7+ form is
// "count=N,bytes=M=;byteHardLimit=B;countHardLimit=C" (extra keys sorted,
// after a "=" that old parsers ignore); the legacy form "count=N,bytes=M".
// A missing key reads as -1.
type statsTrack map[string]int64

const (
	stCount          = "count"
	stBytes          = "bytes"
	stCountHardLimit = "countHardLimit"
	stByteHardLimit  = "byteHardLimit"
)

// parseStatsTrack parses StatsTrack text. NB: ZooKeeper throws on malformed
// pairs; those are skipped here.
func parseStatsTrack(b []byte) statsTrack {
	st := statsTrack{}
	for _, pair := range strings.FieldsFunc(string(b), func(r rune) bool { return r == ',' || r == ';' }) {
		kv := strings.Split(pair, "=")
		// Java's String.split drops trailing empty strings.
		for len(kv) > 0 && kv[len(kv)-1] == "" {
			kv = kv[:len(kv)-1]
		}
		if len(kv) < 2 {
			continue
		}
		v, err := strconv.ParseInt(kv[1], 10, 64)
		if err != nil {
			continue
		}
		st[kv[0]] = v
	}
	return st
}

func (st statsTrack) get(k string) int64 {
	if v, ok := st[k]; ok {
		return v
	}
	return -1
}

// bytes renders st as StatsTrack.toString does.
func (st statsTrack) bytes() []byte {
	b := make([]byte, 0, 64)
	b = append(b, "count="...)
	b = strconv.AppendInt(b, st.get(stCount), 10)
	b = append(b, ",bytes="...)
	b = strconv.AppendInt(b, st.get(stBytes), 10)
	var keys []string
	for k := range st {
		if k != stCount && k != stBytes {
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 {
		b = append(b, '=')
		slices.Sort(keys)
		for _, k := range keys {
			b = append(b, ';')
			b = append(b, k...)
			b = append(b, '=')
			b = strconv.AppendInt(b, st[k], 10)
		}
	}
	return b
}

// maxQuotaPrefixLocked returns the longest path among those with a quota
// that is path or an ancestor of it (DataTree.getMaxPrefixWithQuota); the
// root and /zookeeper never count.
func (t *Tree) maxQuotaPrefixLocked(path string) (string, bool) {
	if len(t.mu.quotas) == 0 {
		return "", false
	}
	for p := path; len(p) > 1; p = parentPath(p) {
		if _, ok := t.mu.quotas[p]; ok {
			if p == procPath {
				return "", false
			}
			return p, true
		}
	}
	return "", false
}

// updateQuotaStatLocked adds to the count and bytes in prefix's
// zookeeper_stats node (DataTree.updateQuotaStat). Only the data changes:
// the node's stat is left alone, as in ZooKeeper.
func (t *Tree) updateQuotaStatLocked(prefix string, bytesDiff int64, countDiff int64) {
	n := t.lookupLocked(quotaPath + prefix + "/" + statNode)
	if n == nil {
		return
	}
	st := parseStatsTrack(n.data())
	st[stCount] = st.get(stCount) + countDiff
	st[stBytes] = st.get(stBytes) + bytesDiff
	n.setData(st.bytes())
}

// updateQuotaForPathLocked recounts the subtree at path into its
// zookeeper_stats node (DataTree.updateQuotaForPath), as "count=N,bytes=M".
func (t *Tree) updateQuotaForPathLocked(path string) {
	var count, bytes int64
	if n := t.lookupLocked(path); n != nil {
		var walk func(n *node)
		walk = func(n *node) {
			count++
			bytes += int64(len(n.buf))
			if kids := n.kids(); kids != nil {
				for k := range kids.all {
					walk(k)
				}
			}
		}
		walk(n)
	}
	sn := t.lookupLocked(quotaPath + path + "/" + statNode)
	if sn == nil {
		return
	}
	sn.setData(statsTrack{stCount: count, stBytes: bytes}.bytes())
}

// setupQuotaLocked rebuilds the quota index from the zookeeper_limits nodes
// under /zookeeper/quota and recounts each one's stats, as
// DataTree.setupQuota does after a snapshot is loaded.
func (t *Tree) setupQuotaLocked() {
	t.mu.quotas = make(map[string]struct{})
	q := t.lookupLocked(quotaPath)
	if q == nil {
		return
	}
	var walk func(path string, n *node)
	walk = func(path string, n *node) {
		kids := n.kids()
		if kids == nil || kids.len() == 0 {
			if strings.HasSuffix(path, "/"+limitNode) {
				real := path[len(quotaPath) : len(path)-len(limitNode)-1]
				t.updateQuotaForPathLocked(real)
				t.mu.quotas[real] = struct{}{}
			}
			return
		}
		for _, k := range kids.appendTo(nil) {
			walk(path+"/"+string(k.name()), k)
		}
	}
	walk(quotaPath, q)
}

// CheckQuota reports CodeQuotaExceeded if adding countDelta znodes and
// bytesDelta bytes under path would break a hard limit of the nearest
// quota above it, as ZooKeeperServer.checkQuota does (a create is
// (1, len(data)), a setData (0, len(new)-len(old))). Soft limits (count,
// bytes) never fail a request; ZooKeeper only logs them.
func (t *Tree) CheckQuota(path string, countDelta int64, bytesDelta int64) jute.Code {
	t.mu.RLock()
	defer t.mu.RUnlock()
	prefix, ok := t.maxQuotaPrefixLocked(path)
	if !ok {
		return jute.CodeOK
	}
	ln := t.lookupLocked(quotaPath + prefix + "/" + limitNode)
	if ln == nil {
		return jute.CodeOK
	}
	limits := parseStatsTrack(ln.data())
	checkCount := countDelta != 0 && (limits.get(stCount) > -1 || limits.get(stCountHardLimit) > -1)
	checkBytes := bytesDelta != 0 && (limits.get(stBytes) > -1 || limits.get(stByteHardLimit) > -1)
	if !checkCount && !checkBytes {
		return jute.CodeOK
	}
	sn := t.lookupLocked(quotaPath + prefix + "/" + statNode)
	if sn == nil {
		return jute.CodeOK
	}
	cur := parseStatsTrack(sn.data())
	if checkCount {
		if hard := limits.get(stCountHardLimit); hard > -1 && cur.get(stCount)+countDelta > hard {
			return jute.CodeQuotaExceeded
		}
	}
	if checkBytes {
		if hard := limits.get(stByteHardLimit); hard > -1 && cur.get(stBytes)+bytesDelta > hard {
			return jute.CodeQuotaExceeded
		}
	}
	return jute.CodeOK
}

// ExpiredContainers returns, sorted, the paths ZooKeeper's
// ContainerManager.getCandidates would delete at nowMillis: containers
// without children that have had one (persisted cversion > 0), and TTL
// nodes without children whose mtime plus TTL is before nowMillis.
func (t *Tree) ExpiredContainers(nowMillis int64) []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []string
	for p := range t.mu.containers {
		n := t.lookupLocked(p)
		if n != nil && n.numChildren() == 0 && n.cversion() > 0 {
			out = append(out, p)
		}
	}
	for p := range t.mu.ttls {
		n := t.lookupLocked(p)
		if n == nil || n.numChildren() != 0 {
			continue
		}
		if ttl, ok := EphemeralTTL(n.owner); ok && ttl != 0 && nowMillis-n.mtime > ttl {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}
