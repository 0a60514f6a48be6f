package main

// Client-port security end to end, through real clients over TCP: the
// secure client port (TLS with ZooKeeper's ssl.* keys and stores made here
// with Go's crypto) driven by go-zookeeper and by zkCli.sh, each run
// against gokeeper and, where the same files can be used, against Apache
// ZooKeeper 3.8 side by side.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/gokeeper/gokeeper/compat-tests/harness"
	"github.com/gokeeper/gokeeper/internal/zktls/zktlstest"
	"github.com/gokeeper/gokeeper/jute"
)

// testPKI is a CA, a server certificate for loopback and two client
// certificates, written as stores in dir.
type testPKI struct {
	dir                          string
	ca                           *zktlstest.CA
	server, client, admin, other *zktlstest.Cert
}

// Store passwords of the test PKI.
const (
	ksPass = "keystore-secret"
	tsPass = "truststore-secret"
)

// Subjects of the client certificates, as Java prints them (RFC 2253).
// NB: zkCli.sh splits an ACL on ',' and ':', so ACLs name one-RDN
// subjects; the formatting of longer ones is checked against Java in
// package server.
const (
	clientDN = "CN=client"
	adminDN  = "CN=admin"
	otherDN  = "CN=other,OU=apps,O=gokeeper tests"
)

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	ca, err := zktlstest.NewCA("gokeeper test CA")
	if err != nil {
		t.Fatal(err)
	}
	issue := func(o zktlstest.Options) *zktlstest.Cert {
		c, err := ca.Issue(o)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	p := &testPKI{dir: t.TempDir(), ca: ca}
	p.server = issue(zktlstest.Options{Subject: pkix.Name{CommonName: "localhost"},
		IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}})
	p.client = issue(zktlstest.Options{Subject: pkix.Name{CommonName: "client"}})
	p.admin = issue(zktlstest.Options{Subject: pkix.Name{CommonName: "admin"}})
	p.other = issue(zktlstest.Options{Subject: pkix.Name{CommonName: "other", OrganizationalUnit: []string{"apps"}, Organization: []string{"gokeeper tests"}}})
	for _, f := range []struct {
		name string
		b    []byte
	}{
		{"server.jks", zktlstest.Must(p.server.KeyStoreJKS(ksPass))},
		{"server.p12", zktlstest.Must(p.server.KeyStorePKCS12(ksPass))},
		{"server.pem", zktlstest.Must(p.server.KeyStorePEM())},
		{"trust.jks", zktlstest.Must(zktlstest.TrustStoreJKS(tsPass, ca.Cert))},
		{"trust.p12", zktlstest.Must(zktlstest.TrustStorePKCS12(tsPass, ca.Cert))},
		{"trust.pem", zktlstest.TrustStorePEM(ca.Cert)},
		{"client.jks", zktlstest.Must(p.client.KeyStoreJKS(ksPass))},
		{"admin.p12", zktlstest.Must(p.admin.KeyStorePKCS12(ksPass))},
		{"other.jks", zktlstest.Must(p.other.KeyStoreJKS(ksPass))},
	} {
		zktlstest.WriteFile(p.path(f.name), f.b)
	}
	return p
}

func (p *testPKI) path(name string) string { return filepath.Join(p.dir, name) }

// serverKeys returns the zoo.cfg lines of a secure client port on port
// with the server's stores in format (jks, p12 or pem) and clientAuth.
func (p *testPKI) serverKeys(port int, format, clientAuth string) []string {
	return []string{
		"secureClientPort=" + strconv.Itoa(port),
		"secureClientPortAddress=127.0.0.1",
		"serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
		"ssl.keyStore.location=" + p.path("server."+format),
		"ssl.keyStore.password=" + ksPass,
		"ssl.trustStore.location=" + p.path("trust."+format),
		"ssl.trustStore.password=" + tsPass,
		"ssl.clientAuth=" + clientAuth,
	}
}

// javaClientFlags returns the CLIENT_JVMFLAGS of a zkCli.sh over TLS, with
// keyStore (a file of the PKI, "" for none) as its certificate.
func (p *testPKI) javaClientFlags(keyStore string) string {
	f := []string{
		"-Dzookeeper.client.secure=true",
		"-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
		"-Dzookeeper.ssl.trustStore.location=" + p.path("trust.jks"),
		"-Dzookeeper.ssl.trustStore.password=" + tsPass,
	}
	if keyStore != "" {
		f = append(f, "-Dzookeeper.ssl.keyStore.location="+p.path(keyStore), "-Dzookeeper.ssl.keyStore.password="+ksPass)
	}
	return strings.Join(f, " ")
}

// goTLSDialer returns a go-zookeeper dialer that speaks TLS with cert as
// the client's certificate (nil: none).
func (p *testPKI) goTLSDialer(cert *zktlstest.Cert) zk.Dialer {
	roots := x509.NewCertPool()
	roots.AddCert(p.ca.Cert)
	cfg := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{{Certificate: [][]byte{cert.Cert.Raw, p.ca.Cert.Raw}, PrivateKey: cert.Key}}
	}
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		d := &net.Dialer{Timeout: timeout}
		c, err := tls.DialWithDialer(d, network, address, cfg)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

// startSecureGokeeper starts gokeeper with a plaintext and a secure client
// port and returns it and the secure port's address.
func startSecureGokeeper(t *testing.T, extra ...string) (*gkProc, string) {
	t.Helper()
	p := startGokeeper(t, t.TempDir(), extra...)
	line, ok := p.waitLog(5*time.Second, func(m map[string]any) bool { return m["message"] == "serving TLS clients" })
	if !ok {
		t.Fatalf("no secure client port:\n%s", p.log.String())
	}
	return p, gkLogEntry(line)["addr"].(string)
}

// zkTry connects go-zookeeper through dialer and creates path; it returns
// the error, or nil once the node exists.
func zkTry(addr string, dialer zk.Dialer, path string) error {
	c, ev, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogger(gkNopLogger{}), zk.WithDialer(dialer))
	if err != nil {
		return err
	}
	defer c.Close()
	deadline := time.After(4 * time.Second)
	for c.State() != zk.StateHasSession {
		select {
		case <-ev:
		case <-deadline:
			return errors.New("no session")
		}
	}
	if _, err := c.Create(path, []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return err
	}
	return nil
}

// TestSecureClientPortGoClient serves TLS with each store format and each
// ssl.clientAuth, and connects go-zookeeper with and without a client
// certificate: need refuses the client without one, want and none let it
// in; a refused handshake is logged with the address and counted.
func TestSecureClientPortGoClient(t *testing.T) {
	pki := newTestPKI(t)
	for _, format := range []string{"jks", "p12", "pem"} {
		for _, auth := range []string{"need", "want", "none"} {
			t.Run(format+"/"+auth, func(t *testing.T) {
				p, secure := startSecureGokeeper(t, pki.serverKeys(freePort(t), format, auth)...)
				if err := zkTry(secure, pki.goTLSDialer(pki.client), "/with-cert"); err != nil {
					t.Fatalf("client with a certificate: %v", err)
				}
				err := zkTry(secure, pki.goTLSDialer(nil), "/without-cert")
				if auth == "need" {
					if err == nil {
						t.Fatal("clientAuth=need let a client without a certificate in")
					}
					if _, ok := p.waitLog(5*time.Second, func(m map[string]any) bool {
						c, _ := m["client"].(string)
						return m["message"] == "TLS handshake failed, closing connection" && strings.HasPrefix(c, "127.0.0.1:")
					}); !ok {
						t.Error("the refused handshake was not logged with the client's address")
					}
					mntr := fourLetterWordT(t, p.Addr, "mntr")
					if !strings.Contains(mntr, "zk_auth_failed_count\t") || strings.Contains(mntr, "zk_auth_failed_count\t0\n") ||
						strings.Contains(mntr, "zk_unsuccessful_handshake\t0\n") {
						t.Errorf("failed handshake not counted:\n%s", mntr)
					}
				} else if err != nil {
					t.Fatalf("clientAuth=%s refused a client without a certificate: %v", auth, err)
				}
				// The plaintext port serves alongside.
				c := gkConnect(t, p.Addr)
				if ok, _, err := c.Exists("/with-cert"); err != nil || !ok {
					t.Errorf("plaintext port: exists /with-cert = %v, %v", ok, err)
				}
				c.Close()
			})
		}
	}
}

// TestSecureClientPortBadStores checks that a start with a store that does
// not open stops, naming the key.
func TestSecureClientPortBadStores(t *testing.T) {
	pki := newTestPKI(t)
	for _, tc := range []struct {
		name, line, want string
	}{
		{"wrong key store password", "ssl.keyStore.password=wrong", "ssl.keyStore.location"},
		{"wrong trust store password", "ssl.trustStore.password=wrong", "ssl.trustStore.location"},
		{"missing key store", "ssl.keyStore.location=/nonexistent.jks", "ssl.keyStore.location"},
		{"unknown clientAuth", "ssl.clientAuth=sometimes", "ssl.clientAuth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := spawnGokeeperOn(t, t.TempDir(), append(pki.serverKeys(freePort(t), "jks", "need"), tc.line)...)
			select {
			case <-p.done:
			case <-time.After(gkStartTimeout):
				t.Fatal("gokeeper started with a bad store")
			}
			if p.cmd.ProcessState.ExitCode() == 0 || !strings.Contains(p.log.String(), tc.want) {
				t.Fatalf("exit %d, want an error naming %s:\n%s", p.cmd.ProcessState.ExitCode(), tc.want, p.log.String())
			}
			if strings.Contains(p.log.String(), ksPass) || strings.Contains(p.log.String(), tsPass) {
				t.Fatalf("a password is in the log:\n%s", p.log.String())
			}
		})
	}
}

// runZkCliTLS runs zkCli.sh against addr with CLIENT_JVMFLAGS flags, types
// cmds, and returns the output; it gives up after timeout (a client that
// cannot connect retries for ever).
func runZkCliTLS(t *testing.T, addr, flags string, timeout time.Duration, cmds ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// NB: -waitforconnection: commands typed before the TLS handshake is
	// done would meet ConnectionLoss; a client that cannot connect gives
	// up after -timeout.
	// NB: the connection wait is half the run's bound: a loaded machine
	// (make test under -race) can take many seconds to start the JVM
	// and shake hands.
	cmd := exec.CommandContext(ctx, zkCliPath, "-waitforconnection", "-timeout", strconv.Itoa(int(timeout.Milliseconds()/2)), "-server", addr)
	cmd.Env = append(os.Environ(), "ZOO_LOG4J_PROP=ERROR,CONSOLE",
		"JVMFLAGS=-Xmx128m -Xshare:auto -XX:TieredStopAtLevel=1", "CLIENT_JVMFLAGS="+debianNettyClasspath+" "+flags)
	cmd.Stdin = strings.NewReader(strings.Join(cmds, "\n") + "\nquit\n")
	start := time.Now()
	out, _ := cmd.CombinedOutput()
	t.Logf("zkCli.sh %v took %v", cmds, time.Since(start).Round(time.Millisecond))
	return string(out)
}

// debianNettyClasspath completes the classpath of Debian's zkCli.sh for
// ClientCnxnSocketNetty: zookeeper.jar's manifest lists Netty's buffer,
// common, handler and transport jars but not codec and resolver, without
// which the Netty client (and server) fail with ClassNotFoundException
// (io.netty.handler.codec.ByteToMessageDecoder). zkCli.sh puts
// CLIENT_JVMFLAGS after its own -cp, so this one wins.
const debianNettyClasspath = "-cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar:" +
	"/usr/share/java/netty-codec.jar:/usr/share/java/netty-resolver.jar:/usr/share/java/netty-transport-native-unix-common.jar"

// zkCliTLSTargets are the servers a zkCli.sh TLS scenario runs against:
// gokeeper, and Apache ZooKeeper with the same zoo.cfg lines when it is
// installed. start returns the secure port's address.
func zkCliTLSTargets(t *testing.T) []struct {
	name  string
	start func(t *testing.T, lines []string, jvm ...string) string
} {
	targets := []struct {
		name  string
		start func(t *testing.T, lines []string, jvm ...string) string
	}{{"gokeeper", func(t *testing.T, lines []string, jvm ...string) string {
		t.Helper()
		_, secure := startSecureGokeeperEnv(t, lines, jvm)
		return secure
	}}}
	if harness.ZooKeeperInstalled() == nil {
		targets = append(targets, struct {
			name  string
			start func(t *testing.T, lines []string, jvm ...string) string
		}{"zookeeper", startSecureZooKeeper})
	} else {
		t.Log("Apache ZooKeeper not installed: gokeeper only (apt-get install zookeeper)")
	}
	return targets
}

// startSecureGokeeperEnv is startSecureGokeeper with SERVER_JVMFLAGS.
func startSecureGokeeperEnv(t *testing.T, lines, jvm []string) (*gkProc, string) {
	t.Helper()
	p := startGokeeperJVM(t, lines, jvm)
	line, ok := p.waitLog(5*time.Second, func(m map[string]any) bool { return m["message"] == "serving TLS clients" })
	if !ok {
		t.Fatalf("gokeeper did not serve TLS clients:\n%s", p.log.String())
	}
	return p, gkLogEntry(line)["addr"].(string)
}

// startGokeeperJVM starts gokeeper with the zoo.cfg lines and the -D
// flags jvm in SERVER_JVMFLAGS, as zkServer.sh users give them, and
// waits until it serves clients.
func startGokeeperJVM(t *testing.T, lines, jvm []string) *gkProc {
	t.Helper()
	cfgPath := filepath.Join(t.TempDir(), "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(gkZooCfg(t.TempDir(), freePort(t), lines...)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gokeeperBinary(t), "serve", "--config", cfgPath, "--log-json")
	cmd.Env = append(os.Environ(), "SERVER_JVMFLAGS="+strings.Join(jvm, " "))
	p := spawnProc(t, cmd, cfgPath)
	line, ok := p.waitLog(gkStartTimeout, func(m map[string]any) bool { return m["message"] == "serving clients" })
	if !ok {
		t.Fatalf("gokeeper did not serve clients:\n%s", p.log.String())
	}
	p.Addr = gkLogEntry(line)["addr"].(string)
	return p
}

// startSecureZooKeeper starts Apache ZooKeeper 3.8 with a plaintext client
// port and the zoo.cfg lines (a secure client port among them) and the
// JVM flags, and returns the secure port's address once it serves.
func startSecureZooKeeper(t *testing.T, lines []string, jvm ...string) string {
	t.Helper()
	_, secure := startZooKeeperCfg(t, lines, jvm...)
	return secure
}

// startZooKeeperCfg starts Apache ZooKeeper 3.8 with a plaintext client
// port, the zoo.cfg lines and the JVM flags, and returns the plaintext
// and secure (if any) client addresses once it serves.
func startZooKeeperCfg(t *testing.T, lines []string, jvm ...string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	plain := freePort(t)
	secure := ""
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, "secureClientPort="); ok {
			secure = "127.0.0.1:" + v
		}
	}
	cfg := append([]string{"tickTime=2000", "dataDir=" + filepath.Join(dir, "data"), "clientPort=" + strconv.Itoa(plain),
		"clientPortAddress=127.0.0.1", "maxClientCnxns=0", "admin.enableServer=false", "4lw.commands.whitelist=*"}, lines...)
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(strings.Join(cfg, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	log4j := "log4j.rootLogger=INFO, F\nlog4j.appender.F=org.apache.log4j.FileAppender\nlog4j.appender.F.File=" +
		filepath.Join(dir, "server.log") + "\nlog4j.appender.F.layout=org.apache.log4j.PatternLayout\n" +
		"log4j.appender.F.layout.ConversionPattern=%d %p [%t] %c{1}: %m%n\n"
	if err := os.WriteFile(filepath.Join(dir, "log4j.properties"), []byte(log4j), 0o644); err != nil {
		t.Fatal(err)
	}
	var cp []string
	for _, j := range append(harness.ZooKeeperJars, "/usr/share/java/netty-codec.jar", "/usr/share/java/netty-resolver.jar",
		"/usr/share/java/netty-transport-native-unix-common.jar", "/usr/share/java/netty-transport-native-epoll.jar") {
		if _, err := os.Stat(j); err == nil {
			cp = append(cp, j)
		}
	}
	args := append([]string{"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto"}, jvm...)
	args = append(args, "-cp", strings.Join(append(cp, dir), ":"), "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfgPath)
	cmd := exec.Command("java", args...)
	out := newLineLog()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			t.Logf("Apache ZooKeeper output:\n%s\nserver.log (tail):\n%s", out.String(), tail(string(b), 4000))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		if r, err := harness.FourLetter("127.0.0.1:"+strconv.Itoa(plain), "ruok", time.Second); err == nil && r == "imok" {
			return "127.0.0.1:" + strconv.Itoa(plain), secure
		}
		select {
		case <-done:
			b, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			t.Fatalf("Apache ZooKeeper exited:\n%s\n%s", out.String(), tail(string(b), 4000))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("Apache ZooKeeper did not start within 60s")
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestZkCliTLS drives zkCli.sh over TLS (ClientCnxnSocketNetty) with and
// without a client certificate under each ssl.clientAuth, against
// gokeeper and Apache ZooKeeper with the same stores.
func TestZkCliTLS(t *testing.T) {
	zkCliAvailable(t)
	pki := newTestPKI(t)
	for _, target := range zkCliTLSTargets(t) {
		for _, auth := range []string{"need", "want", "none"} {
			t.Run(target.name+"/"+auth, func(t *testing.T) {
				secure := target.start(t, pki.serverKeys(freePort(t), "jks", auth))
				out := runZkCliTLS(t, secure, pki.javaClientFlags("client.jks"), zkClientTimeout,
					"create /tls hello", "get /tls")
				if w, missing := missingInOrder(out, []string{"Created /tls", "hello"}); missing {
					t.Fatalf("with a client certificate: output lacks %q:\n%s", w, out)
				}
				out = runZkCliTLS(t, secure, pki.javaClientFlags(""), 30*time.Second, "ls /")
				ok := strings.Contains(out, "[tls, zookeeper]") || strings.Contains(out, "[zookeeper, tls]")
				if auth == "need" && ok {
					t.Fatalf("clientAuth=need served a client without a certificate:\n%s", out)
				}
				if auth != "need" && !ok {
					t.Fatalf("clientAuth=%s refused a client without a certificate:\n%s", auth, out)
				}
			})
		}
	}
}

// openSessions opens n sessions to addr through dial, each with a raw
// ConnectRequest, and returns the connections once every one has its
// ConnectResponse.
func openSessions(t *testing.T, n int, dial func() (net.Conn, error)) []net.Conn {
	t.Helper()
	req := jute.AppendInt(make([]byte, 4), 0)
	req = jute.AppendLong(req, 0)
	req = jute.AppendInt(req, 30000)
	req = jute.AppendLong(req, 0)
	req = jute.AppendBuffer(req, make([]byte, 16))
	req = jute.AppendBool(req, false)
	binary.BigEndian.PutUint32(req, uint32(len(req)-4))
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range n {
		c, err := dial()
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		var head [4]byte
		if _, err := io.ReadFull(c, head[:]); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, binary.BigEndian.Uint32(head[:]))); err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Time{})
	}
	return conns
}

// mntrValue returns one numeric value of mntr.
func mntrValue(t *testing.T, addr, key string) int64 {
	t.Helper()
	for _, l := range strings.Split(fourLetterWordT(t, addr, "mntr"), "\n") {
		if v, ok := strings.CutPrefix(l, "zk_"+key+"\t"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in mntr", key)
	return 0
}

// TestIdleTLSConnectionCost measures what an idle session costs the
// server on each port: a plaintext one hands its socket to the idle
// poller and keeps no goroutine and no buffer; a TLS one cannot (its
// reader's state is inside crypto/tls) and keeps its reader goroutine,
// its 16 KiB read buffer and crypto/tls's buffers. It logs the cost per
// connection and checks the plaintext one stays near zero.
func TestIdleTLSConnectionCost(t *testing.T) {
	const n = 500
	pki := newTestPKI(t)
	p, secure := startSecureGokeeper(t, pki.serverKeys(freePort(t), "pem", "none")...)
	roots := x509.NewCertPool()
	roots.AddCert(pki.ca.Cert)
	// settle waits until the server runs at most want goroutines (idle
	// plaintext connections hand theirs over after IdleAfter).
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	settle := func(want int64) (goroutines, heap int64) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			g := mntrValue(t, p.Addr, "go_goroutines")
			if g <= want || time.Now().After(deadline) {
				return g, mntrValue(t, p.Addr, "go_heap_alloc_bytes")
			}
			<-tick.C
		}
	}
	g0, h0 := settle(1 << 30)
	plain := openSessions(t, n, func() (net.Conn, error) { return net.Dial("tcp", p.Addr) })
	g1, h1 := settle(g0 + n/20)
	openSessions(t, n, func() (net.Conn, error) {
		return tls.Dial("tcp", secure, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	})
	g2, h2 := settle(g1 + n)
	t.Logf("per idle plaintext session: %.2f goroutines, %d bytes of heap", float64(g1-g0)/n, (h1-h0)/n)
	t.Logf("per idle TLS session: %.2f goroutines, %d bytes of heap", float64(g2-g1)/n, (h2-h1)/n)
	if g1-g0 > n/10 {
		t.Errorf("%d goroutines for %d idle plaintext sessions, want next to none", g1-g0, n)
	}
	if g2-g1 > 2*n {
		t.Errorf("%d goroutines for %d idle TLS sessions, want one each", g2-g1, n)
	}
	_ = plain
}

// TestZkCliX509ACL checks x509 authentication end to end with zkCli.sh,
// on gokeeper and Apache ZooKeeper alike: a client's certificate subject
// is its x509 id (whoami prints it as Java does, longer subjects
// included), an x509 ACL lets that client in and keeps another out, and
// the subject named by X509AuthenticationProvider.superUser passes every
// ACL.
func TestZkCliX509ACL(t *testing.T) {
	zkCliAvailable(t)
	pki := newTestPKI(t)
	for _, target := range zkCliTLSTargets(t) {
		t.Run(target.name, func(t *testing.T) {
			lines := append(pki.serverKeys(freePort(t), "jks", "need"), "X509AuthenticationProvider.superUser="+adminDN)
			secure := target.start(t, lines)
			out := runZkCliTLS(t, secure, pki.javaClientFlags("client.jks"), zkClientTimeout,
				"create /x509 secret x509:"+clientDN+":cdrwa", "get /x509", "getAcl /x509", "whoami")
			if w, missing := missingInOrder(out, []string{"Created /x509", "secret", "'x509,'" + clientDN, ": cdrwa",
				"Auth scheme: User", "x509: " + clientDN}); missing {
				t.Fatalf("owner: output lacks %q:\n%s", w, out)
			}
			out = runZkCliTLS(t, secure, pki.javaClientFlags("other.jks"), zkClientTimeout, "whoami", "get /x509")
			if w, missing := missingInOrder(out, []string{"x509: " + otherDN, "Insufficient permission : /x509"}); missing {
				t.Fatalf("another client: output lacks %q:\n%s", w, out)
			}
			if strings.Contains(out, "secret") {
				t.Fatalf("another client read the node:\n%s", out)
			}
			out = runZkCliTLS(t, secure, pki.javaClientFlags("admin.p12"), zkClientTimeout, "get /x509")
			if !strings.Contains(out, "secret") {
				t.Fatalf("the x509 superuser could not read the node:\n%s", out)
			}
		})
	}
}

// Users of the JAAS Server section, as in kazoo's SASL tests.
const serverJAAS = `Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_super="super_secret"
    user_jaasuser="jaas_password";
};
`

// saslTargets are the servers the SASL scenarios run against: gokeeper
// and Apache ZooKeeper, each started with zoo.cfg lines and a JAAS file
// given by -Djava.security.auth.login.config; start returns the client
// address.
func saslTargets(t *testing.T) []struct {
	name  string
	start func(t *testing.T, lines []string, jvm ...string) string
} {
	type target = struct {
		name  string
		start func(t *testing.T, lines []string, jvm ...string) string
	}
	targets := []target{{"gokeeper", func(t *testing.T, lines []string, jvm ...string) string {
		return startGokeeperJVM(t, lines, jvm).Addr
	}}}
	if harness.ZooKeeperInstalled() == nil {
		targets = append(targets, target{"zookeeper", func(t *testing.T, lines []string, jvm ...string) string {
			plain, _ := startZooKeeperCfg(t, lines, jvm...)
			return plain
		}})
	} else {
		t.Log("Apache ZooKeeper not installed: gokeeper only (apt-get install zookeeper)")
	}
	return targets
}

// saslServer returns the zoo.cfg lines and JVM flags of a server with the
// JAAS users, the SASL provider and super as the SASL superuser.
func saslServer(t *testing.T, extra ...string) ([]string, []string) {
	jaas := filepath.Join(t.TempDir(), "jaas.conf")
	if err := os.WriteFile(jaas, []byte(serverJAAS), 0o644); err != nil {
		t.Fatal(err)
	}
	lines := append([]string{"authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider", "superUser=super"}, extra...)
	return lines, []string{"-Djava.security.auth.login.config=" + jaas}
}

// kazooPython returns /usr/bin/python3 or skips without kazoo and puresasl.
func kazooPython(t *testing.T) string {
	t.Helper()
	python := "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import kazoo, puresasl").Run(); err != nil {
		t.Skip("kazoo with puresasl not importable by /usr/bin/python3: skipping (apt-get install python3-kazoo python3-pure-sasl)")
	}
	return python
}

// runKazooSASL runs testdata/process/kazoo_sasl.py and checks its ok lines.
func runKazooSASL(t *testing.T, python, addr, mode string, checks []string) {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", "process", "kazoo_sasl.py"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), zkClientTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, script, addr, mode).CombinedOutput()
	if err != nil {
		t.Errorf("kazoo_sasl.py: %v", err)
	}
	for _, c := range checks {
		if !strings.Contains(string(out), "ok "+c) {
			t.Errorf("kazoo_sasl.py did not report %q", "ok "+c)
		}
	}
	if t.Failed() {
		t.Logf("kazoo_sasl.py output:\n%s", out)
	}
}

// TestKazooSASL runs kazoo's SASL DIGEST-MD5 tests against gokeeper and
// Apache ZooKeeper: a sasl: ACL lets its user in and keeps an anonymous
// client out, the SASL superuser passes it, the legacy auth_data form
// works, an unknown user and a wrong password are refused; the refusals
// are counted in auth_failed_count. Then, with
// sessionRequireClientSASLAuth, an anonymous client is refused and a SASL
// one served.
func TestKazooSASL(t *testing.T) {
	python := kazooPython(t)
	for _, target := range saslTargets(t) {
		t.Run(target.name, func(t *testing.T) {
			lines, jvm := saslServer(t)
			addr := target.start(t, lines, jvm...)
			runKazooSASL(t, python, addr, "", []string{"sasl acl", "sasl owner reads", "sasl superuser",
				"legacy sasl acl", "unknown user refused", "wrong password refused"})
			// NB: ZooKeeper 3.8 does not count failed SASL exchanges;
			// gokeeper does, as issue 17 asks (DIVERGENCES.md).
			if n := mntrValue(t, addr, "auth_failed_count"); target.name == "gokeeper" && n < 2 {
				t.Errorf("auth_failed_count = %d after two refused SASL clients", n)
			}
		})
		t.Run(target.name+"/enforce", func(t *testing.T) {
			lines, jvm := saslServer(t, "sessionRequireClientSASLAuth=true")
			addr := target.start(t, lines, jvm...)
			runKazooSASL(t, python, addr, "enforce", []string{"enforce serves sasl"})
			c, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogger(gkNopLogger{}))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, _, err := c.Get("/"); err == nil {
				t.Error("sessionRequireClientSASLAuth served a client without SASL")
			}
		})
	}
}

// TestZkCliSASL has the Java client authenticate with the JAAS file's
// Client section (DIGEST-MD5), against gokeeper and Apache ZooKeeper:
// whoami shows the sasl id, a sasl: ACL is enforced against a client
// without SASL, and a wrong password fails authentication.
func TestZkCliSASL(t *testing.T) {
	zkCliAvailable(t)
	clientJAAS := func(user, password string) string {
		path := filepath.Join(t.TempDir(), "client-jaas.conf")
		text := "Client {\n    org.apache.zookeeper.server.auth.DigestLoginModule required\n    username=\"" + user +
			"\"\n    password=\"" + password + "\";\n};\n"
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return "-Djava.security.auth.login.config=" + path
	}
	for _, target := range saslTargets(t) {
		t.Run(target.name, func(t *testing.T) {
			lines, jvm := saslServer(t)
			addr := target.start(t, lines, jvm...)
			out := runZkCliTLS(t, addr, clientJAAS("jaasuser", "jaas_password"), zkClientTimeout,
				"create /sasl secret sasl:jaasuser:cdrwa", "get /sasl", "whoami")
			if w, missing := missingInOrder(out, []string{"Created /sasl", "secret", "sasl: jaasuser"}); missing {
				t.Fatalf("with the JAAS Client section: output lacks %q:\n%s", w, out)
			}
			out = runZkCliTLS(t, addr, "", zkClientTimeout, "get /sasl")
			if !strings.Contains(out, "Insufficient permission : /sasl") {
				t.Fatalf("a client without SASL was not refused:\n%s", out)
			}
			out = runZkCliTLS(t, addr, clientJAAS("jaasuser", "wrong"), zkClientTimeout, "get /sasl")
			if !strings.Contains(out, "AuthFailed") || strings.Contains(out, "secret") {
				t.Fatalf("a wrong password was not refused:\n%s", out)
			}
		})
	}
}
