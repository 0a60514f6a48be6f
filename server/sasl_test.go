package server

import "testing"

func TestSASLAuthorizedID(t *testing.T) {
	for _, tc := range []struct {
		name, removeHost, removeRealm, want string
	}{
		{"jaasuser", "", "", "jaasuser"},
		{"zk/host1@EXAMPLE.COM", "", "", "zk/host1@EXAMPLE.COM"},
		{"zk/host1@EXAMPLE.COM", "true", "", "zk@EXAMPLE.COM"},
		{"zk/host1@EXAMPLE.COM", "", "true", "zk/host1"},
		{"zk/host1@EXAMPLE.COM", "true", "true", "zk"},
	} {
		s := &Server{cfg: Config{SystemProperties: map[string]string{
			"kerberos.removeHostFromPrincipal": tc.removeHost, "kerberos.removeRealmFromPrincipal": tc.removeRealm}}}
		if got := s.saslAuthorizedID(tc.name); got != tc.want {
			t.Errorf("%s (removeHost %q, removeRealm %q) = %q, want %q", tc.name, tc.removeHost, tc.removeRealm, got, tc.want)
		}
	}
	p := SASLAuthProvider{LetAnyUserDoX: "anyone-sasl"}
	if !p.IsValid("jaasuser") || !p.IsValid("a/b@R") || p.IsValid("a@b@c") {
		t.Error("sasl ids are valid Kerberos names")
	}
	if !p.Matches("super", "bob") || !p.Matches("bob", "bob") || p.Matches("bob", "alice") || !p.Matches("bob", "anyone-sasl") {
		t.Error("sasl matching")
	}
}

func TestAuthEnforcement(t *testing.T) {
	base := func(props map[string]string) Config {
		cfg := DefaultConfig()
		cfg.DataDir = t.TempDir()
		cfg.ClientPort = 2181
		cfg.SystemProperties = props
		return cfg
	}
	for _, tc := range []struct {
		name  string
		props map[string]string
		key   string // "": valid
	}{
		{"off", nil, ""},
		{"sasl required", map[string]string{"sessionRequireClientSASLAuth": "true", "authProvider.1": "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"}, ""},
		{"sasl required without provider", map[string]string{"sessionRequireClientSASLAuth": "true"}, "sessionRequireClientSASLAuth"},
		{"enabled without schemes", map[string]string{"enforce.auth.enabled": "true"}, "enforce.auth.schemes"},
		{"digest", map[string]string{"enforce.auth.enabled": "true", "enforce.auth.schemes": "digest"}, ""},
		{"unknown scheme", map[string]string{"enforce.auth.enabled": "true", "enforce.auth.schemes": "digest,kerberos"}, "enforce.auth.schemes"},
	} {
		err := base(tc.props).Validate()
		if (tc.key == "") != (err == nil) || (err != nil && !containsKey(err, tc.key)) {
			t.Errorf("%s: got %v, want error naming %q", tc.name, err, tc.key)
		}
	}
}
