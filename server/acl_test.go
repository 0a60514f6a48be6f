package server

import (
	"fmt"
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
		// In the order of ZooKeeper's auth set (see TestACLSessionOrder).
		{"auth expands to each digest id", []jute.ACL{acl(3, "auth", "ignored")}, []jute.Id{ipLocalID, digestID, superID, other},
			[]jute.ACL{{Perms: 3, Id: other}, {Perms: 3, Id: digestID}}, jute.CodeOK},
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

// TestACLSessionOrder checks the ids' order against what Apache
// ZooKeeper's ServerCnxn set (a ConcurrentHashMap of jute Ids) iterates,
// captured with Java 17 and zookeeper-jute 3.8.
func TestACLSessionOrder(t *testing.T) {
	cases := []struct{ added, want []jute.Id }{
		{[]jute.Id{{Scheme: "ip", Id: "127.0.0.1"}, {Scheme: "digest", Id: "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E="}},
			[]jute.Id{{Scheme: "digest", Id: "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E="}, {Scheme: "ip", Id: "127.0.0.1"}}},
		{[]jute.Id{{Scheme: "ip", Id: "127.0.0.1"}, {Scheme: "digest", Id: "bob:x"}, {Scheme: "digest", Id: "carol:y"}, {Scheme: "super", Id: ""}},
			[]jute.Id{{Scheme: "digest", Id: "carol:y"}, {Scheme: "super", Id: ""}, {Scheme: "ip", Id: "127.0.0.1"}, {Scheme: "digest", Id: "bob:x"}}},
		{[]jute.Id{{Scheme: "ip", Id: "10.1.2.3"}, {Scheme: "x509", Id: "CN=é,O=日本"}, {Scheme: "sasl", Id: "zk@EXAMPLE.COM"}, {Scheme: "digest", Id: "a:b"}},
			[]jute.Id{{Scheme: "digest", Id: "a:b"}, {Scheme: "x509", Id: "CN=é,O=日本"}, {Scheme: "ip", Id: "10.1.2.3"}, {Scheme: "sasl", Id: "zk@EXAMPLE.COM"}}},
		{[]jute.Id{{Scheme: "ip", Id: "127.0.0.1"}}, []jute.Id{{Scheme: "ip", Id: "127.0.0.1"}}},
	}
	// 41 ids: the table doubles twice (at the 12th and the 24th id).
	big := []jute.Id{{Scheme: "ip", Id: "127.0.0.1"}}
	for i := 0; i < 40; i++ {
		big = append(big, jute.Id{Scheme: "digest", Id: fmt.Sprintf("u%d:h%d", i, i*7919)})
	}
	var bigWant []jute.Id
	for _, id := range []string{"u16:h126704", "u6:h47514", "u11:h87109", "u34:h269246", "u28:h221732",
		"u5:h39595", "127.0.0.1", "u22:h174218", "u7:h55433", "u9:h71271", "u23:h182137", "u30:h237570",
		"u13:h102947", "u35:h277165", "u3:h23757", "u17:h134623", "u29:h229651", "u31:h245489", "u25:h197975",
		"u2:h15838", "u8:h63352", "u24:h190056", "u32:h253408", "u18:h142542", "u36:h285084", "u4:h31676",
		"u10:h79190", "u26:h205894", "u0:h0", "u33:h261327", "u20:h158380", "u19:h150461", "u12:h95028",
		"u21:h166299", "u27:h213813", "u15:h118785", "u39:h308841", "u38:h300922", "u1:h7919", "u14:h110866",
		"u37:h293003"} {
		scheme := "digest"
		if id == "127.0.0.1" {
			scheme = "ip"
		}
		bigWant = append(bigWant, jute.Id{Scheme: scheme, Id: id})
	}
	cases = append(cases, struct{ added, want []jute.Id }{big, bigWant})
	for _, c := range cases {
		if got := aclSessionOrder(c.added); !slices.Equal(got, c.want) {
			t.Errorf("aclSessionOrder(%v)\n got %v\nwant %v", c.added, got, c.want)
		}
	}
	// whoAmI and the "auth" ACL expansion both see that order.
	reg := DefaultAuthRegistry(false)
	ids := []jute.Id{{Scheme: "ip", Id: "127.0.0.1"}, {Scheme: "digest", Id: "bob:x"}, {Scheme: "digest", Id: "carol:y"}}
	infos := aclClientInfos(reg, ids)
	if len(infos) != 3 || infos[0].User != "carol" || infos[1].AuthScheme != "ip" || infos[2].User != "bob" {
		t.Errorf("aclClientInfos order: %v", infos)
	}
	acl, code := aclFixup(reg, ids, []jute.ACL{{Perms: jute.PermAll, Id: jute.Id{Scheme: "auth"}}})
	if code != jute.CodeOK || len(acl) != 2 || acl[0].Id.Id != "carol:y" || acl[1].Id.Id != "bob:x" {
		t.Errorf("aclFixup auth order: %v %v", acl, code)
	}
}
