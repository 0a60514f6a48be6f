package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/gokeeper/gokeeper/jute"
)

// reconfigQuorum is what the prep of a reconfig asks of the ensemble, on
// the leader: whether a reconfig is still pending in the quorum (logged,
// not committed), and whether the leader and its synced followers hold a
// quorum of the given voters (ZooKeeper's isQuorumSynced).
type reconfigQuorum interface {
	reconfigPending() bool
	quorumSynced(voters []int64) bool
}

// prepReconfigLocked is PrepRequestProcessor's reconfig: reconfigEnabled
// (ReconfigDisabled), the session, an ensemble (standalone:
// Unimplemented), no reconfig in flight (ReconfigInProgress), fromConfig
// (BadVersion), the new membership (BadArguments), a quorum of it synced
// with the leader (NewConfigNoQuorum), WRITE on /zookeeper/config
// (NoAuth; the superuser passes). The txn is a SetDataTxn of
// /zookeeper/config with the new config text, whose version is the txn's
// zxid, and version -1, as ZooKeeper's.
func (p *Prepper) prepReconfigLocked(ctx *prepCtx, req *jute.ReconfigRequest) (jute.Record, jute.Code) {
	if !p.opts.ReconfigEnabled {
		return nil, jute.CodeReconfigDisabled
	}
	if code := p.checkSessionLocked(ctx); code != jute.CodeOK {
		return nil, code
	}
	if p.quorum == nil {
		return nil, jute.CodeUnimplemented
	}
	// NB: a change the tree already applied may still be listed (the
	// reply leaves before Applied drops it).
	if c, ok := p.mu.byPath[pathConfig]; ok && c.zxid > p.tree.LastZxid() || p.quorum.reconfigPending() {
		return nil, jute.CodeReconfigInProgress
	}
	node, ok := p.tree.Node(pathConfig)
	if !ok {
		return nil, jute.CodeNoNode
	}
	servers, version, err := parseMembership(string(node.Data), true)
	if err != nil {
		return nil, jute.CodeBadArguments
	}
	if req.CurConfigId != -1 && req.CurConfigId != version {
		return nil, jute.CodeBadVersion
	}
	next, code := reconfigMembers(servers, req)
	if code != jute.CodeOK {
		return nil, code
	}
	var voters []int64
	for _, s := range next {
		if s.Type == LearnerParticipant {
			voters = append(voters, s.ID)
		}
	}
	// NB: standaloneEnabled (the default) asks for two voters at least.
	if len(voters) < 2 {
		return nil, jute.CodeBadArguments
	}
	if !p.quorum.quorumSynced(voters) {
		return nil, jute.CodeNewConfigNoQuorum
	}
	if code := p.checkACL(ctx, node.ACL, jute.PermWrite); code != jute.CodeOK {
		return nil, code
	}
	data := []byte(membershipString(next, ctx.zxid))
	rec, _ := p.recordLocked(pathConfig)
	rec.version = -1
	rec.data, rec.mzxid, rec.mtime = data, ctx.zxid, ctx.r.Time
	p.addChangeLocked(ctx, rec.duplicate(ctx.zxid))
	return &jute.SetDataTxn{Path: pathConfig, Data: data, Version: -1}, jute.CodeOK
}

// reconfigMembers returns the membership a reconfig asks for: its new
// member list (commas or newlines between server.N=... entries), or the
// current one with the leaving ids removed and the joining servers
// (server.N=host:quorumPort:electionPort[:role];[clientHost:]clientPort,
// comma separated) added or replaced, sorted by id.
func reconfigMembers(current []QuorumServer, req *jute.ReconfigRequest) ([]QuorumServer, jute.Code) {
	if req.NewMembers != nil {
		text := strings.ReplaceAll(*req.NewMembers, ",", "\n")
		next, _, err := parseMembership(text, false)
		if err != nil {
			return nil, jute.CodeBadArguments
		}
		return next, jute.CodeOK
	}
	byID := map[int64]QuorumServer{}
	for _, s := range current {
		byID[s.ID] = s
	}
	if req.LeavingServers != nil {
		for _, f := range splitList(*req.LeavingServers) {
			id, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				// NB: ZooKeeper's Long.parseLong throws outside its
				// KeeperExceptions: the request fails as unmarshallable.
				return nil, jute.CodeMarshallingError
			}
			delete(byID, id)
		}
	}
	if req.JoiningServers != nil {
		for _, f := range splitList(*req.JoiningServers) {
			key, value, ok := strings.Cut(f, "=")
			if !ok || strings.Contains(value, "=") {
				return nil, jute.CodeBadArguments
			}
			id, err := strconv.ParseInt(strings.TrimSpace(key[strings.LastIndexByte(key, '.')+1:]), 10, 64)
			if err != nil {
				return nil, jute.CodeMarshallingError
			}
			qs, err := ParseQuorumServer(id, value, false)
			if err != nil || (qs.ClientPort == 0 && qs.SecureClientPort == 0) {
				return nil, jute.CodeBadArguments
			}
			for _, o := range byID {
				if o.ID != id && sharesAddress(o, qs) {
					return nil, jute.CodeBadArguments
				}
			}
			byID[id] = qs
		}
	}
	next := make([]QuorumServer, 0, len(byID))
	for _, s := range byID {
		next = append(next, s)
	}
	sort.Slice(next, func(i, j int) bool { return next[i].ID < next[j].ID })
	return next, jute.CodeOK
}

// splitList splits a comma separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// sharesAddress reports whether two servers use the same quorum or
// election address (ZooKeeper's checkAddressDuplicate).
func sharesAddress(a, b QuorumServer) bool {
	used := map[string]bool{}
	for _, x := range a.Addrs {
		used[hostPort(x.Host, x.QuorumPort)] = true
		used[hostPort(x.Host, x.ElectionPort)] = true
	}
	for _, x := range b.Addrs {
		if used[hostPort(x.Host, x.QuorumPort)] || used[hostPort(x.Host, x.ElectionPort)] {
			return true
		}
	}
	return false
}

// errMembership wraps what parseMembership refuses.
var errMembership = errors.New("server: bad membership")

// parseMembership reads config text: server.N=... lines and, if
// withVersion, a version=<hex> line (the form of /zookeeper/config and
// of NEWLEADER). Blank lines and # comments are skipped; any other key
// is refused, as in a dynamic config file.
func parseMembership(text string, withVersion bool) ([]QuorumServer, int64, error) {
	var servers []QuorumServer
	var version int64
	seen := map[int64]bool{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		switch {
		case !ok:
			return nil, 0, fmt.Errorf("%w: %q", errMembership, line)
		case key == "version" && withVersion:
			v, err := strconv.ParseInt(strings.TrimSpace(value), 16, 64)
			if err != nil {
				return nil, 0, fmt.Errorf("%w: version %q", errMembership, value)
			}
			version = v
		case strings.HasPrefix(key, "server."):
			id, err := strconv.ParseInt(strings.TrimPrefix(key, "server."), 10, 64)
			if err != nil || seen[id] {
				return nil, 0, fmt.Errorf("%w: %q", errMembership, key)
			}
			qs, err := ParseQuorumServer(id, value, true)
			if err != nil {
				return nil, 0, err
			}
			seen[id] = true
			servers = append(servers, qs)
		default:
			return nil, 0, fmt.Errorf("%w: key %q", errMembership, key)
		}
	}
	if len(servers) == 0 {
		return nil, 0, fmt.Errorf("%w: no servers", errMembership)
	}
	sort.Slice(servers, func(i, j int) bool { return servers[i].ID < servers[j].ID })
	return servers, version, nil
}

// writeDynamicConfig writes an activated membership as ZooKeeper does
// (QuorumPeer.setQuorumVerifier): <zoo.cfg>.dynamic.<hex version> with
// its server lines sorted and no version, written to a temporary file,
// synced and renamed; then zoo.cfg rewritten without its server, group,
// weight, peerType and dynamicConfigFile keys (and the client port keys
// when this member's server line carries its client address), pointing
// at the new file. A Config read without a zoo.cfg writes nothing.
func writeDynamicConfig(cfgFile string, self int64, servers []QuorumServer, version int64) (string, error) {
	if cfgFile == "" {
		return "", nil
	}
	dyn := cfgFile + ".dynamic." + strconv.FormatInt(version, 16)
	var lines []string
	eraseClient := false
	for _, s := range servers {
		lines = append(lines, fmt.Sprintf("server.%d=%s", s.ID, s.String()))
		if s.ID == self && s.ClientPort != 0 {
			eraseClient = true
		}
	}
	sort.Strings(lines)
	if err := writeFileAtomic(dyn, []byte(strings.Join(lines, "\n"))); err != nil {
		return "", err
	}
	old, err := os.ReadFile(cfgFile)
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(dyn)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, line := range strings.Split(string(old), "\n") {
		key, _, _ := strings.Cut(strings.TrimSpace(line), "=")
		key = strings.TrimSpace(key)
		switch {
		case key == "":
		case strings.HasPrefix(key, "server."), strings.HasPrefix(key, "group"), strings.HasPrefix(key, "weight"),
			strings.HasPrefix(key, "dynamicConfigFile"), strings.HasPrefix(key, "peerType"):
		case eraseClient && strings.HasPrefix(key, "clientPort"):
		default:
			b.WriteString(strings.TrimSpace(line))
			b.WriteByte('\n')
		}
	}
	b.WriteString("dynamicConfigFile=" + abs + "\n")
	return dyn, writeFileAtomic(cfgFile, []byte(b.String()))
}

// writeFileAtomic writes data to path through a synced temporary file
// renamed over it.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
