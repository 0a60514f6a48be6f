package jaas

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	cfg, err := Parse(`
// the server's users
Server {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_super="super_secret"
       user_jaasuser="jaas_password" /* kazoo's test user */
       user_q="a \"quoted\" ; value";
};
Client {
       org.apache.zookeeper.server.auth.DigestLoginModule Required
       username=bob
       password="bob_secret";
};`)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg["Server"]
	if len(s) != 1 || s[0].Module != "org.apache.zookeeper.server.auth.DigestLoginModule" || s[0].Flag != "required" {
		t.Fatalf("Server: %+v", s)
	}
	if s[0].Options["user_super"] != "super_secret" || s[0].Options["user_jaasuser"] != "jaas_password" ||
		s[0].Options["user_q"] != `a "quoted" ; value` {
		t.Errorf("options %q", s[0].Options)
	}
	if c := cfg["Client"]; len(c) != 1 || c[0].Options["username"] != "bob" || c[0].Flag != "required" {
		t.Errorf("Client: %+v", c)
	}
	for _, bad := range []string{
		`Server { m required a="b" };`,
		`Server { m mandatory; };`,
		`Server { m required a= ; };`,
		`Server { m required; }`,
		`Server { m required a="b`,
	} {
		if _, err := Parse(bad); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v, want a syntax error", bad, err)
		}
	}
}
