package server

import (
	"slices"
	"testing"

	"github.com/gokeeper/gokeeper/jute"
)

func TestDigestOf(t *testing.T) {
	for in, want := range map[string]string{
		// The superDigest every ZooKeeper guide shows for super:test.
		"super:test": "super:D/InIHSb7yEEbrWz8b9l71RjZJU=",
		"user:pw":    "user:2Om+GBbT2q/tS6pdvACZbbm7/1A=",
		"nocolon":    "nocolon:Ra+cHr2ZoHvBjtNArFGNGlVie4g=",
		"a:b:c":      "a:" + DigestOf("a:b:c")[2:],
	} {
		if got := DigestOf(in); got != want {
			t.Errorf("DigestOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAuthenticate(t *testing.T) {
	super := &PrepOptions{SuperDigest: "super:D/InIHSb7yEEbrWz8b9l71RjZJU="}
	tests := []struct {
		name   string
		scheme string
		auth   string
		ip     string
		o      *PrepOptions
		want   []jute.Id
		code   jute.Code
	}{
		{"digest", "digest", "user:pw", "", nil, []jute.Id{digestID}, jute.CodeOK},
		{"digest any bytes", "digest", "", "", nil, []jute.Id{{Scheme: "digest", Id: DigestOf("")}}, jute.CodeOK},
		{"super", "digest", "super:test", "", super, []jute.Id{superID, {Scheme: "digest", Id: "super:D/InIHSb7yEEbrWz8b9l71RjZJU="}}, jute.CodeOK},
		{"super wrong password", "digest", "super:nope", "", super, []jute.Id{{Scheme: "digest", Id: DigestOf("super:nope")}}, jute.CodeOK},
		{"super without SuperDigest", "digest", "super:test", "", nil, []jute.Id{{Scheme: "digest", Id: "super:D/InIHSb7yEEbrWz8b9l71RjZJU="}}, jute.CodeOK},
		{"digest disabled", "digest", "user:pw", "", &PrepOptions{DigestAuthDisabled: true}, nil, jute.CodeAuthFailed},
		{"ip", "ip", "", "127.0.0.1", nil, []jute.Id{{Scheme: "ip", Id: "127.0.0.1"}}, jute.CodeOK},
		{"ip host:port", "ip", "whatever", "10.0.0.7:5555", nil, []jute.Id{{Scheme: "ip", Id: "10.0.0.7"}}, jute.CodeOK},
		{"ip v6 as Java prints it", "ip", "", "[::1]:2181", nil, []jute.Id{{Scheme: "ip", Id: "0:0:0:0:0:0:0:1"}}, jute.CodeOK},
		{"world", "world", "anyone", "", nil, nil, jute.CodeAuthFailed},
		{"super scheme", "super", "x", "", super, nil, jute.CodeAuthFailed},
		{"sasl not configured", "sasl", "x", "", nil, nil, jute.CodeAuthFailed},
	}
	for _, tc := range tests {
		ids, code := AuthenticateIDs(tc.scheme, []byte(tc.auth), tc.ip, tc.o)
		if code != tc.code || !slices.Equal(ids, tc.want) {
			t.Errorf("%s: AuthenticateIDs = %v, %v; want %v, %v", tc.name, ids, code, tc.want, tc.code)
		}
		id, code := Authenticate(tc.scheme, []byte(tc.auth), tc.ip, tc.o)
		if code != tc.code || (code == jute.CodeOK && id != tc.want[0]) {
			t.Errorf("%s: Authenticate = %v, %v", tc.name, id, code)
		}
	}
}

// fakeProvider is a plug-in scheme: ids match when equal ignoring case.
type fakeProvider struct{}

func (fakeProvider) Scheme() string { return "x509" }
func (fakeProvider) Authenticate(a *AuthAttempt) ([]jute.Id, jute.Code) {
	if string(a.Auth) == "bad" {
		return nil, jute.CodeAuthFailed
	}
	return []jute.Id{{Scheme: "x509", Id: "CN=" + string(a.Auth)}}, jute.CodeOK
}
func (fakeProvider) IsAuthenticated() bool           { return true }
func (fakeProvider) IsValid(id string) bool          { return len(id) > 3 && id[:3] == "CN=" }
func (fakeProvider) Matches(id, aclExpr string) bool { return id == aclExpr }
func (fakeProvider) UserName(id string) string       { return id[3:] }

func TestAuthRegistryPlugin(t *testing.T) {
	reg := NewAuthRegistry(IPAuthProvider{}, DigestAuthProvider{}, fakeProvider{})
	if !slices.Equal(reg.Schemes(), []string{"digest", "ip", "x509"}) {
		t.Fatalf("schemes %v", reg.Schemes())
	}
	o := &PrepOptions{AuthProviders: reg}
	id, code := Authenticate("x509", []byte("alice"), "", o)
	if code != jute.CodeOK || id != (jute.Id{Scheme: "x509", Id: "CN=alice"}) {
		t.Fatalf("x509 auth = %v %v", id, code)
	}
	if _, code := Authenticate("x509", []byte("bad"), "", o); code != jute.CodeAuthFailed {
		t.Fatalf("refused x509 auth = %v", code)
	}
	// The new scheme takes part in ACL validation, "auth" expansion and checks.
	out, code := aclFixup(reg, []jute.Id{id, ipLocalID}, jute.CreatorAllACL())
	if code != jute.CodeOK || !slices.Equal(out, []jute.ACL{{Perms: jute.PermAll, Id: id}}) {
		t.Fatalf("auth expansion = %v %v", out, code)
	}
	if _, code := aclFixup(reg, nil, []jute.ACL{acl(31, "x509", "nope")}); code != jute.CodeInvalidACL {
		t.Fatalf("invalid x509 id accepted")
	}
	if aclCheck(reg, false, out, jute.PermRead, []jute.Id{id}) != jute.CodeOK {
		t.Fatal("x509 id does not match its own ACL")
	}
	if got := aclClientInfos(reg, []jute.Id{id}); got[0] != (jute.ClientInfo{AuthScheme: "x509", User: "alice"}) {
		t.Fatalf("whoAmI info %v", got)
	}
}

func TestIPAuthProvider(t *testing.T) {
	p := IPAuthProvider{}
	valid := map[string]bool{
		"127.0.0.1": true, "10.0.0.0/8": true, "10.0.0.0/0": true, "10.0.0.0/32": true,
		"10.0.0.0/33": false, "10.0.0.0/-1": false, "10.0.0.0/x": false, "10.0.0": false,
		"10.0.0.256": false, "1.2.3.4.5": false, "localhost": false, "": false,
		"::1": true, "fe80::/10": true, "fe80::/129": false, "0:0:0:0:0:0:0:1": true,
		"1:2:3:4:5:6:7": false, "1::2::3": false, "12345::": false, "g::": false,
		"1:2:3:4:5:6:7::": true, "1:2:3:4:5:6:7:8::": false, "::ffff:1.2.3.4": false,
	}
	for id, want := range valid {
		if got := p.IsValid(id); got != want {
			t.Errorf("IsValid(%q) = %v", id, got)
		}
	}
	matches := []struct {
		id, expr string
		want     bool
	}{
		{"127.0.0.1", "127.0.0.1", true},
		{"127.0.0.2", "127.0.0.1", false},
		{"10.1.2.3", "10.0.0.0/8", true},
		{"11.1.2.3", "10.0.0.0/8", false},
		{"192.168.1.77", "192.168.1.64/26", true},
		{"192.168.1.128", "192.168.1.64/26", false},
		{"1.2.3.4", "0.0.0.0/0", true},
		{"10.0.0.1", "10.0.0.1/33", false},
		{"0:0:0:0:0:0:0:1", "::1", true},
		{"fe80:0:0:0:1:2:3:4", "fe80::/16", true},
		{"fe81:0:0:0:1:2:3:4", "fe80::/16", false},
		{"fe80:0:0:0:1:2:3:4", "fe80::/9", true},
		{"::1", "0.0.0.0/0", false}, // families differ
		{"1.2.3.4", "::/0", false},
		{"garbage", "0.0.0.0/0", false},
	}
	for _, tc := range matches {
		if got := p.Matches(tc.id, tc.expr); got != tc.want {
			t.Errorf("Matches(%q, %q) = %v", tc.id, tc.expr, got)
		}
	}
}

func TestDigestAuthProviderIsValid(t *testing.T) {
	// Java's String.split(":") drops trailing empty parts.
	for id, want := range map[string]bool{
		"user:hash": true, ":hash": true, "user:": false, "user": false, "a:b:c": false,
		"": false, ":": false, "::": false, "a::": false,
	} {
		if got := (DigestAuthProvider{}).IsValid(id); got != want {
			t.Errorf("IsValid(%q) = %v", id, got)
		}
	}
	if u := (DigestAuthProvider{}).UserName("bob:xyz"); u != "bob" {
		t.Errorf("UserName = %q", u)
	}
}
