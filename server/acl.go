package server

import (
	"strings"

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
			for _, cid := range authInfo {
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
// for schemes without a provider such as super.
func aclClientInfos(reg *AuthRegistry, ids []jute.Id) []jute.ClientInfo {
	out := make([]jute.ClientInfo, 0, len(ids))
	for _, id := range ids {
		user := ""
		if p := reg.Provider(id.Scheme); p != nil {
			user = p.UserName(id.Id)
		}
		out = append(out, jute.ClientInfo{AuthScheme: id.Scheme, User: user})
	}
	return out
}
