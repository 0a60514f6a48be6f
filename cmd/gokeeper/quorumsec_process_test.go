package main

// Quorum security end to end: ensembles of gokeeper processes, and mixed
// ones with Apache ZooKeeper 3.8, whose election and quorum connections
// run over mutual TLS (sslQuorum, ssl.quorum.* stores made by the test)
// or quorum SASL (DIGEST-MD5 users of a JAAS file), from the same zoo.cfg
// lines and files for both kinds of member.

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/gokeeper/gokeeper/quorum/transport"
)

// secureLimits are the initLimit and syncLimit of the ensembles with
// secured links: a cold JVM's TLS handshake or SASL exchange on a loaded
// machine may take longer than the 1 s that tickTime*syncLimit gives
// elsewhere, and both kinds of member bound their handshakes by it.
var secureLimits = []string{"initLimit=30", "syncLimit=15"}

// startSecuredEnsemble is newMixedEnsemble with secureLimits.
func startSecuredEnsemble(t *testing.T, voters, observers int, zk []int, cfg func(i int) []string, env ...string) *gkEnsemble {
	t.Helper()
	return newMixedEnsemble(t, voters, observers, zk, func(i int) []string {
		return append(slices.Clone(secureLimits), cfg(i)...)
	}, false, env...)
}

// quorumKeys returns the zoo.cfg lines of sslQuorum with the PKI's server
// certificate (which names 127.0.0.1) in format (jks, p12 or pem).
func (p *testPKI) quorumKeys(format string) []string {
	return []string{
		"sslQuorum=true",
		"ssl.quorum.keyStore.location=" + p.path("server."+format),
		"ssl.quorum.keyStore.password=" + ksPass,
		"ssl.quorum.trustStore.location=" + p.path("trust."+format),
		"ssl.quorum.trustStore.password=" + tsPass,
	}
}

// quorumSASLKeys are the zoo.cfg lines of quorum SASL, required both ways.
var quorumSASLKeys = []string{
	"quorum.auth.enableSasl=true",
	"quorum.auth.learnerRequireSasl=true",
	"quorum.auth.serverRequireSasl=true",
}

// quorumJAAS writes a JAAS file with the QuorumServer user test, the
// QuorumLearner logging in as test, and a BadLearner section with the
// wrong password, and returns the environment that points both kinds of
// member to it.
func quorumJAAS(t *testing.T) string {
	t.Helper()
	const digest = "org.apache.zookeeper.server.auth.DigestLoginModule required"
	path := filepath.Join(t.TempDir(), "jaas.conf")
	text := "QuorumServer {\n " + digest + "\n user_test=\"mypassword\";\n};\n" +
		"QuorumLearner {\n " + digest + "\n username=\"test\"\n password=\"mypassword\";\n};\n" +
		"BadLearner {\n " + digest + "\n username=\"test\"\n password=\"guess\";\n};\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return "SERVER_JVMFLAGS=-Djava.security.auth.login.config=" + path
}

// ports returns member i's quorum and election addresses.
func (e *gkEnsemble) ports(i int) (quorum, election string) {
	_, v, _ := strings.Cut(e.servers[i], "=")
	f := strings.Split(v, ":")
	return f[0] + ":" + f[1], f[0] + ":" + f[2]
}

// create creates path through member i.
func (e *gkEnsemble) create(i int, path string) {
	e.t.Helper()
	c := e.connect(i)
	defer c.Close()
	if _, err := c.Create(path, []byte(path), 0, zk.WorldACL(zk.PermAll)); err != nil {
		e.t.Fatalf("create %s through member %d: %v", path, i+1, err)
	}
}

// writeThrough creates path through member i and waits until every
// running member has it.
func (e *gkEnsemble) writeThrough(i int, path string) {
	e.t.Helper()
	e.create(i, path)
	if kids := e.converged("/"); !slices.Contains(kids, strings.TrimPrefix(path, "/")) {
		e.t.Fatalf("children of / = %v, want %s among them", kids, path)
	}
}

// TestProcessEnsembleSSLQuorum: three gokeeper voters and an observer
// with sslQuorum, key stores in JKS, PKCS12 and PEM, elect a leader and
// serve writes; their quorum and election ports speak TLS with the
// stores' certificate and refuse a plaintext peer, logging its address;
// the quorum survives the leader's death.
func TestProcessEnsembleSSLQuorum(t *testing.T) {
	pki := newTestPKI(t)
	formats := []string{"jks", "p12", "pem", "jks"}
	e := startSecuredEnsemble(t, 3, 1, nil, func(i int) []string { return pki.quorumKeys(formats[i]) })
	lead := e.leader()
	e.writeThrough((lead+1)%3, "/over-tls")
	e.writeThrough(3, "/through-the-observer")

	// Both ports answer a TLS client with the member's certificate.
	roots := x509.NewCertPool()
	roots.AddCert(pki.ca.Cert)
	cert := tls.Certificate{Certificate: [][]byte{pki.server.Cert.Raw}, PrivateKey: pki.server.Key}
	qaddr, eaddr := e.ports(lead)
	for _, addr := range []string{qaddr, eaddr} {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}})
		if err != nil {
			t.Fatalf("TLS to %s: %v", addr, err)
		}
		if cn := c.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "localhost" {
			t.Fatalf("%s presents %q", addr, cn)
		}
		c.Close()
	}
	// A plaintext election handshake is refused and logged.
	nc, err := net.DialTimeout("tcp", eaddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := (&transport.Handshake{Version: transport.ProtocolV1, SID: 9, Addrs: []string{"127.0.0.1:1"}}).Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	nc.Write(hs)
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := nc.Read(make([]byte, 1)); err == nil || n != 0 {
		t.Fatalf("plaintext election connection not closed: %d bytes, %v", n, err)
	}
	nc.Close()
	local := nc.LocalAddr().String()
	if _, ok := e.procs[lead].waitLog(20*time.Second, func(m map[string]any) bool {
		return m["remote"] == local && strings.Contains(fmt.Sprint(m["error"]), "plaintext connection refused")
	}); !ok {
		t.Fatalf("member %d did not log the refused plaintext peer %s", lead+1, local)
	}

	// The leader dies: the other two elect a new one over TLS.
	e.procs[lead].kill9()
	lead2 := e.leader()
	if lead2 == lead {
		t.Fatalf("member %d still leads", lead+1)
	}
	e.writeThrough(lead2, "/after-failover")
}

// TestProcessEnsembleQuorumSASL: three gokeeper members with quorum SASL
// required; two log in with the right password and serve, the third with
// the wrong one is refused (its address logged) and never serves.
func TestProcessEnsembleQuorumSASL(t *testing.T) {
	env := quorumJAAS(t)
	e := startSecuredEnsemble(t, 3, 0, nil, func(i int) []string {
		if i == 2 {
			return append(slices.Clone(quorumSASLKeys), "quorum.auth.learner.saslLoginContext=BadLearner")
		}
		return quorumSASLKeys
	}, env)
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := []string{e.mode(0), e.mode(1)}
		slices.Sort(m)
		if slices.Equal(m, []string{"follower", "leader"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("members 1 and 2 do not serve: modes %v", m)
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.create(0, "/sasl")
	c := e.connect(1)
	if _, err := c.Sync("/sasl"); err != nil {
		t.Fatal(err)
	}
	if data, _, err := c.Get("/sasl"); err != nil || string(data) != "/sasl" {
		t.Fatalf("get /sasl on member 2 = %q, %v", data, err)
	}
	c.Close()
	for _, i := range []int{0, 1} {
		if _, ok := e.procs[i].waitLog(20*time.Second, func(m map[string]any) bool {
			return m["message"] == "election connection refused" && strings.HasPrefix(fmt.Sprint(m["remote"]), "127.0.0.1:") &&
				strings.Contains(fmt.Sprint(m["error"]), "quorum SASL authentication failed")
		}); !ok {
			t.Fatalf("member %d did not log refusing member 3", i+1)
		}
	}
	if _, ok := e.procs[2].waitLog(20*time.Second, func(m map[string]any) bool {
		return strings.Contains(fmt.Sprint(m["error"]), "refused our credentials")
	}); !ok {
		t.Fatal("member 3 did not log that its credentials were refused")
	}
	if m := e.mode(2); m != "" {
		t.Fatalf("member 3 with the wrong password serves as %s", m)
	}
}

// testMixedSecured runs two ZooKeeper members and a gokeeper one with
// cfg(i) and env, and has the gokeeper member both follow a ZooKeeper
// leader and lead ZooKeeper followers: whichever leads first is killed
// (the gokeeper member, sid 3, wins an election of equals; a killed one
// is restarted after the ZooKeeper members elect one of them). Writes
// through it are seen everywhere each time. zkLog and gkLog are lines
// the ZooKeeper and gokeeper members must have logged, which show the
// links were secured.
func testMixedSecured(t *testing.T, cfg func(i int) []string, zkLog, gkLog *regexp.Regexp, env ...string) {
	requireZooKeeper(t)
	e := startSecuredEnsemble(t, 3, 0, []int{0, 1}, cfg, env...)
	t.Cleanup(func() {
		// NB: the members' last lines are mostly srvr polls; show
		// the warnings, where a refused peer would be.
		if t.Failed() {
			for i, p := range e.procs {
				for _, l := range strings.Split(p.log.String(), "\n") {
					if strings.Contains(l, " WARN ") || strings.Contains(l, " ERROR ") || strings.Contains(l, `"level":"warn"`) {
						t.Logf("member %d: %s", i+1, l)
					}
				}
			}
		}
	})
	const gk = 2
	lead := e.leader()
	e.writeThrough(gk, "/first")
	e.procs[lead].kill9()
	if lead == gk {
		e.leader() // NB: the ZooKeeper members elect one of them first
		e.start(gk)
		if lead = e.leader(); lead == gk {
			t.Fatal("the restarted gokeeper member leads again")
		}
	} else if lead = e.leader(); lead != gk {
		t.Fatalf("member %d leads, want the gokeeper member", lead+1)
	}
	e.writeThrough(gk, "/second")
	for i, p := range e.procs {
		want := gkLog
		if e.zk[i] {
			want = zkLog
		}
		if !want.MatchString(p.log.String()) {
			t.Fatalf("member %d never logged %q", i+1, want)
		}
	}
	if e.procs[gk].hasLog(func(m map[string]any) bool { return strings.HasSuffix(fmt.Sprint(m["message"]), "connection refused") }) {
		t.Fatal("the gokeeper member refused a ZooKeeper peer")
	}
}

// TestProcessMixedSSLQuorum: Apache ZooKeeper 3.8 and gokeeper members
// with sslQuorum and the same stores (ZooKeeper's in JKS and PKCS12,
// gokeeper's in PEM) form an ensemble either way round.
func TestProcessMixedSSLQuorum(t *testing.T) {
	pki := newTestPKI(t)
	formats := []string{"jks", "p12", "pem"}
	testMixedSecured(t, func(i int) []string { return pki.quorumKeys(formats[i]) },
		// NB: a handshake ZooKeeper gave up on logs NONE.
		regexp.MustCompile(`(SSL handshake complete with|Accepted TLS connection from) \S+ - TLSv1\.[23] `),
		regexp.MustCompile(`"sslQuorum":true`))
}

// TestProcessMixedQuorumSASL: Apache ZooKeeper 3.8 and gokeeper members
// with quorum SASL required, from one JAAS file, form an ensemble either
// way round.
func TestProcessMixedQuorumSASL(t *testing.T) {
	testMixedSecured(t, func(int) []string { return quorumSASLKeys },
		regexp.MustCompile("Successfully completed the authentication using SASL"),
		regexp.MustCompile("(quorum learner authenticated|authenticated to a quorum member) with SASL"), quorumJAAS(t))
}

// TestProcessMixedRollingSSLQuorum upgrades a running mixed ensemble (two
// ZooKeeper 3.8 members, a gokeeper one) from plaintext to sslQuorum the
// way ZooKeeper's guide says: every member runs with portUnification and
// its stores, then each in turn restarts with sslQuorum=true, dialling
// TLS to members that still dial plaintext. The ensemble serves writes
// through the gokeeper member after every step.
func TestProcessMixedRollingSSLQuorum(t *testing.T) {
	requireZooKeeper(t)
	pki := newTestPKI(t)
	formats := []string{"jks", "p12", "pem"}
	e := startSecuredEnsemble(t, 3, 0, []int{0, 1}, func(i int) []string {
		return append(pki.quorumKeys(formats[i])[1:], "portUnification=true")
	})
	const gk = 2
	e.leader()
	e.writeThrough(gk, "/plain")
	for _, i := range []int{gk, 0, 1} {
		e.procs[i].kill9()
		f, err := os.OpenFile(e.cfgs[i], os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString("sslQuorum=true\n"); err != nil {
			t.Fatal(err)
		}
		f.Close()
		e.start(i)
		e.leader()
		e.writeThrough(gk, fmt.Sprintf("/tls-on-%d", i+1))
	}
	if !e.procs[gk].hasLog(func(m map[string]any) bool { return m["message"] == "quorum links secured" && m["sslQuorum"] == true }) {
		t.Fatal("the gokeeper member did not restart with sslQuorum")
	}
}

// TestProcessQuorumSecurityBadConfig: an ensemble member whose quorum
// stores or JAAS sections will not do stops at start with an error naming
// the key, and no password in its log.
func TestProcessQuorumSecurityBadConfig(t *testing.T) {
	pki := newTestPKI(t)
	jaasEnv := quorumJAAS(t)
	for _, tc := range []struct {
		name  string
		lines []string
		env   string
		want  string
	}{
		{"wrong key store password", append(pki.quorumKeys("jks"), "ssl.quorum.keyStore.password=wrong"), "", "ssl.quorum.keyStore.location"},
		{"wrong trust store password", append(pki.quorumKeys("p12"), "ssl.quorum.trustStore.password=wrong"), "", "ssl.quorum.trustStore.location"},
		{"no key store", []string{"sslQuorum=true"}, "", "ssl.quorum.keyStore.location: not set"},
		{"no QuorumLearner section", append(slices.Clone(quorumSASLKeys), "quorum.auth.learner.saslLoginContext=Nope"), jaasEnv, "quorum.auth.learner.saslLoginContext"},
		{"no JAAS file", quorumSASLKeys, "", "quorum.auth.enableSasl: needs a JAAS file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			writeMyid(t, dir, 1)
			lines := append([]string{"initLimit=10", "syncLimit=5",
				fmt.Sprintf("server.1=127.0.0.1:%d:%d", freePort(t), freePort(t)),
				fmt.Sprintf("server.2=127.0.0.1:%d:%d", freePort(t), freePort(t)),
				fmt.Sprintf("server.3=127.0.0.1:%d:%d", freePort(t), freePort(t))}, tc.lines...)
			cfgPath := filepath.Join(t.TempDir(), "zoo.cfg")
			if err := os.WriteFile(cfgPath, []byte(gkZooCfg(dir, freePort(t), lines...)), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(gokeeperBinary(t), "serve", "--config", cfgPath, "--log-json")
			cmd.Env = append(os.Environ(), tc.env)
			p := spawnProc(t, cmd, cfgPath)
			select {
			case <-p.done:
			case <-time.After(gkStartTimeout):
				t.Fatal("gokeeper started with a bad quorum security setting")
			}
			log := p.log.String()
			if p.cmd.ProcessState.ExitCode() == 0 || !strings.Contains(log, tc.want) {
				t.Fatalf("exit %d, want an error naming %s:\n%s", p.cmd.ProcessState.ExitCode(), tc.want, log)
			}
			for _, pw := range []string{ksPass, tsPass, "mypassword"} {
				if strings.Contains(log, pw) {
					t.Fatalf("a password is in the log:\n%s", log)
				}
			}
		})
	}
}
