package server

import (
	"strings"
	"unicode/utf16"

	"github.com/gokeeper/gokeeper/jute"
)

// aclFixup checks an ACL from a create or setACL request and expands it,
// as PrepRequestProcessor.fixupACL does: duplicates are dropped; an empty
// list is invalid; world:anyone is kept as is; an "auth" entry becomes one
// entry per authenticated id of the requester (ids whose provider says
// IsAuthenticated; ip and super ids are skipped), and is invalid when there
// is none; any other entry needs a registered provider that finds its id
// valid. Every failure is CodeInvalidACL.
func aclFixup(reg *AuthRegistry, authInfo []jute.Id, acls []jute.ACL) ([]jute.ACL, jute.Code) {
	uniq := make([]jute.ACL, 0, len(acls))
	for _, a := range acls {
		dup := false
		for _, u := range uniq {
			if u == a {
				dup = true
				break
			}
		}
		if !dup {
			uniq = append(uniq, a)
		}
	}
	if len(uniq) == 0 {
		return nil, jute.CodeInvalidACL
	}
	out := make([]jute.ACL, 0, len(uniq))
	for _, a := range uniq {
		switch {
		case a.Id.Scheme == SchemeWorld && a.Id.Id == "anyone":
			out = append(out, a)
		case a.Id.Scheme == SchemeAuth:
			valid := false
			for _, cid := range aclSessionOrder(authInfo) {
				if p := reg.Provider(cid.Scheme); p != nil && p.IsAuthenticated() {
					valid = true
					out = append(out, jute.ACL{Perms: a.Perms, Id: cid})
				}
			}
			if !valid {
				return nil, jute.CodeInvalidACL
			}
		default:
			p := reg.Provider(a.Id.Scheme)
			if p == nil || !p.IsValid(a.Id.Id) {
				return nil, jute.CodeInvalidACL
			}
			out = append(out, a)
		}
	}
	return out, jute.CodeOK
}

// aclCheck is ZooKeeperServer.checkACL: it returns CodeOK when ids may
// exercise perm on a node with acl, else CodeNoAuth. skipACL allows
// everything; an empty ACL allows everything; a super id allows everything;
// otherwise some entry granting a bit of perm must be world:anyone or match
// one of ids of its scheme through that scheme's provider.
func aclCheck(reg *AuthRegistry, skipACL bool, acl []jute.ACL, perm int32, ids []jute.Id) jute.Code {
	if skipACL || len(acl) == 0 {
		return jute.CodeOK
	}
	for _, id := range ids {
		if id.Scheme == SchemeSuper {
			return jute.CodeOK
		}
	}
	for _, a := range acl {
		if a.Perms&perm == 0 {
			continue
		}
		if a.Id.Scheme == SchemeWorld && a.Id.Id == "anyone" {
			return jute.CodeOK
		}
		p := reg.Provider(a.Id.Scheme)
		if p == nil {
			continue
		}
		for _, id := range ids {
			if id.Scheme == a.Id.Scheme && p.Matches(id.Id, a.Id.Id) {
				return jute.CodeOK
			}
		}
	}
	return jute.CodeNoAuth
}

// aclMaskDigests returns acl with every digest id's hash replaced by "x"
// ("user:x"), as getACL answers a client that has READ but not ADMIN.
func aclMaskDigests(acl []jute.ACL) []jute.ACL {
	out := make([]jute.ACL, len(acl))
	for i, a := range acl {
		if a.Id.Scheme == SchemeDigest {
			if j := strings.IndexByte(a.Id.Id, ':'); j >= 0 {
				a.Id.Id = a.Id.Id[:j] + ":x"
			}
		}
		out[i] = a
	}
	return out
}

// aclClientInfos builds whoAmI's answer from a session's ids
// (AuthUtil.getClientInfos): the scheme and the provider's user name, ""
// for schemes without a provider such as super. The ids come in the order
// ZooKeeper's connection keeps them (see aclSessionOrder).
func aclClientInfos(reg *AuthRegistry, ids []jute.Id) []jute.ClientInfo {
	out := make([]jute.ClientInfo, 0, len(ids))
	for _, id := range aclSessionOrder(ids) {
		user := ""
		if p := reg.Provider(id.Scheme); p != nil {
			user = p.UserName(id.Id)
		}
		out = append(out, jute.ClientInfo{AuthScheme: id.Scheme, User: user})
	}
	return out
}

// aclSessionOrder returns a session's ids (given in the order they were
// added, without duplicates) in the order ZooKeeper iterates them.
// ServerCnxn keeps its authInfo in a set backed by a ConcurrentHashMap, so
// whoAmI and the expansion of an "auth" ACL see the ids in that map's
// iteration order: by bucket of the spread Id.hashCode, then by insertion
// within a bucket, as rearranged by each doubling of the table (16
// buckets, doubled when the 12th, 24th, ... id is added).
//
// NB: the map turns a bucket of 8 or more entries into a tree only once
// the table has 64 buckets; sessions never hold that many ids, and the
// tree case is not modelled.
func aclSessionOrder(ids []jute.Id) []jute.Id {
	if len(ids) < 2 {
		return ids
	}
	type entry struct {
		hash int32
		id   jute.Id
	}
	n := 16
	bins := make([][]entry, n)
	for i, id := range ids {
		h := aclJavaIdHash(id)
		h = (h ^ int32(uint32(h)>>16)) & 0x7fffffff // ConcurrentHashMap.spread
		b := int(h) & (n - 1)
		bins[b] = append(bins[b], entry{h, id})
		if count := i + 1; count >= n-n/4 {
			// ConcurrentHashMap.transfer: each bin splits into a low and
			// a high bin; the longest tail run that goes to one side is
			// kept as is, the entries before it are prepended one by one.
			next := make([][]entry, 2*n)
			for j, bin := range bins {
				if len(bin) == 0 {
					continue
				}
				run := len(bin) - 1
				for run > 0 && int(bin[run-1].hash)&n == int(bin[run].hash)&n {
					run--
				}
				var lo, hi []entry
				if int(bin[run].hash)&n == 0 {
					lo = append(lo, bin[run:]...)
				} else {
					hi = append(hi, bin[run:]...)
				}
				for _, e := range bin[:run] {
					if int(e.hash)&n == 0 {
						lo = append([]entry{e}, lo...)
					} else {
						hi = append([]entry{e}, hi...)
					}
				}
				next[j], next[j+n] = lo, hi
			}
			bins, n = next, 2*n
		}
	}
	out := make([]jute.Id, 0, len(ids))
	for _, bin := range bins {
		for _, e := range bin {
			out = append(out, e.id)
		}
	}
	return out
}

// aclJavaIdHash is the jute-generated Id.hashCode: 17, then 37*h plus the
// Java String.hashCode of the scheme and of the id.
func aclJavaIdHash(id jute.Id) int32 {
	h := int32(17)
	h = 37*h + aclJavaStringHash(id.Scheme)
	h = 37*h + aclJavaStringHash(id.Id)
	return h
}

// aclJavaStringHash is Java's String.hashCode over the UTF-16 code units
// of s.
func aclJavaStringHash(s string) int32 {
	var h int32
	for _, r := range s {
		if r1, r2 := utf16.EncodeRune(r); r1 != '\uFFFD' || r2 != '\uFFFD' {
			h = 31*h + r1
			h = 31*h + r2
			continue
		}
		h = 31*h + r
	}
	return h
}
