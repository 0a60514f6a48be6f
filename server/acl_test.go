package server

import (
	"slices"
	"testing"

	"github.com/gokeeper/gokeeper/jute"
)

func TestACLCheck(t *testing.T) {
	reg := DefaultAuthRegistry(false)
	perms := []int32{jute.PermRead, jute.PermWrite, jute.PermCreate, jute.PermDelete, jute.PermAdmin}
	schemes := []struct {
		name   string
		entry  jute.Id
		match  []jute.Id // ids that match the entry
		reject []jute.Id // ids that do not
	}{
		{"world", jute.IDAnyone, []jute.Id{}, nil},
		{"digest", digestID, []jute.Id{digestID, ipLocalID}, []jute.Id{{Scheme: "digest", Id: DigestOf("user:other")}, {}, ipLocalID}},
		{"ip", jute.Id{Scheme: "ip", Id: "10.0.0.0/8"}, []jute.Id{ipLocalID}, []jute.Id{ipOtherID, digestID, {Scheme: "digest", Id: "10.1.2.3"}}},
		{"ip exact", jute.Id{Scheme: "ip", Id: "10.1.2.3"}, []jute.Id{ipLocalID}, []jute.Id{ipOtherID}},
		{"unknown scheme", jute.Id{Scheme: "sasl", Id: "bob"}, nil, []jute.Id{{Scheme: "sasl", Id: "bob"}}},
	}
	for _, s := range schemes {
		for _, granted := range perms {
			entry := []jute.ACL{{Perms: granted, Id: s.entry}}
			for _, asked := range perms {
				want := jute.CodeNoAuth
				if asked == granted && s.match != nil {
					want = jute.CodeOK
				}
				if got := aclCheck(reg, false, entry, asked, s.match); got != want {
					t.Errorf("%s: granted %d asked %d ids %v: %v, want %v", s.name, granted, asked, s.match, got, want)
				}
				if got := aclCheck(reg, false, entry, asked, s.reject); got != jute.CodeNoAuth && s.name != "world" {
					t.Errorf("%s: rejected ids %v got %v", s.name, s.reject, got)
				}
				// super passes whatever is granted; skipACL too.
				if got := aclCheck(reg, false, entry, asked, []jute.Id{ipOtherID, superID}); got != jute.CodeOK {
					t.Errorf("%s: super refused", s.name)
				}
				if got := aclCheck(reg, true, entry, asked, nil); got != jute.CodeOK {
					t.Errorf("%s: skipACL refused", s.name)
				}
			}
		}
	}
	// Multi-bit request (getACL's READ|ADMIN) passes on any bit.
	if aclCheck(reg, false, []jute.ACL{{Perms: jute.PermAdmin, Id: jute.IDAnyone}}, jute.PermRead|jute.PermAdmin, nil) != jute.CodeOK {
		t.Error("READ|ADMIN with ADMIN granted refused")
	}
	// An empty ACL allows everything.
	if aclCheck(reg, false, nil, jute.PermAll, nil) != jute.CodeOK {
		t.Error("empty ACL refused")
	}
	// Several entries: the second matches.
	two := []jute.ACL{{Perms: jute.PermRead, Id: digestID}, {Perms: jute.PermWrite, Id: jute.Id{Scheme: "ip", Id: "10.0.0.0/8"}}}
	if aclCheck(reg, false, two, jute.PermWrite, []jute.Id{digestID, ipLocalID}) != jute.CodeOK {
		t.Error("second entry not considered")
	}
	if aclCheck(reg, false, two, jute.PermWrite, []jute.Id{digestID}) != jute.CodeNoAuth {
		t.Error("digest got WRITE granted to ip only")
	}
}

func TestACLFixup(t *testing.T) {
	reg := DefaultAuthRegistry(false)
	other := jute.Id{Scheme: "digest", Id: DigestOf("u2:p")}
	tests := []struct {
		name string
		in   []jute.ACL
		auth []jute.Id
		want []jute.ACL
		code jute.Code
	}{
		{"open", openACL, nil, openACL, jute.CodeOK},
		{"duplicates dropped", []jute.ACL{openACL[0], openACL[0]}, nil, openACL, jute.CodeOK},
		{"nil", nil, nil, nil, jute.CodeInvalidACL},
		{"empty", []jute.ACL{}, nil, nil, jute.CodeInvalidACL},
		{"world other id", []jute.ACL{acl(1, "world", "someone")}, nil, nil, jute.CodeInvalidACL},
		{"auth expands to each digest id", []jute.ACL{acl(3, "auth", "ignored")}, []jute.Id{ipLocalID, digestID, superID, other},
			[]jute.ACL{{Perms: 3, Id: digestID}, {Perms: 3, Id: other}}, jute.CodeOK},
		{"auth with only ip and super", jute.CreatorAllACL(), []jute.Id{ipLocalID, superID}, nil, jute.CodeInvalidACL},
		{"digest valid", []jute.ACL{acl(1, "digest", "u:h")}, nil, []jute.ACL{acl(1, "digest", "u:h")}, jute.CodeOK},
		{"digest no hash", []jute.ACL{acl(1, "digest", "u")}, nil, nil, jute.CodeInvalidACL},
		{"ip cidr", []jute.ACL{acl(1, "ip", "10.0.0.0/8")}, nil, []jute.ACL{acl(1, "ip", "10.0.0.0/8")}, jute.CodeOK},
		{"ip bad", []jute.ACL{acl(1, "ip", "10.0.0.0/8/8")}, nil, nil, jute.CodeInvalidACL},
		{"super scheme", []jute.ACL{acl(1, "super", "")}, nil, nil, jute.CodeInvalidACL},
		{"one bad entry spoils all", []jute.ACL{openACL[0], acl(1, "nope", "x")}, nil, nil, jute.CodeInvalidACL},
		{"perms unchecked", []jute.ACL{acl(0, "world", "anyone")}, nil, []jute.ACL{acl(0, "world", "anyone")}, jute.CodeOK},
	}
	for _, tc := range tests {
		got, code := aclFixup(reg, tc.auth, tc.in)
		if code != tc.code || !slices.Equal(got, tc.want) {
			t.Errorf("%s: aclFixup = %v, %v; want %v, %v", tc.name, got, code, tc.want, tc.code)
		}
	}
	// With digest disabled, digest ACLs are invalid and "auth" has nothing to expand.
	noDigest := DefaultAuthRegistry(true)
	if _, code := aclFixup(noDigest, nil, []jute.ACL{acl(1, "digest", "u:h")}); code != jute.CodeInvalidACL {
		t.Errorf("digest ACL without the digest provider: %v", code)
	}
	if _, code := aclFixup(noDigest, []jute.Id{digestID}, jute.CreatorAllACL()); code != jute.CodeInvalidACL {
		t.Errorf("auth ACL without the digest provider: %v", code)
	}
}

func TestACLMaskDigests(t *testing.T) {
	in := []jute.ACL{acl(31, "digest", "bob:abc:def"), acl(1, "ip", "1.2.3.4"), acl(1, "digest", "nocolon")}
	got := aclMaskDigests(in)
	want := []jute.ACL{acl(31, "digest", "bob:x"), acl(1, "ip", "1.2.3.4"), acl(1, "digest", "nocolon")}
	if !slices.Equal(got, want) || in[0].Id.Id != "bob:abc:def" {
		t.Fatalf("masked %v (input %v)", got, in)
	}
}
