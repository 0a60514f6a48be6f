// Package harness starts the servers the compat suite compares: Apache
// ZooKeeper 3.8 from the Debian package and the gokeeper binary, each on
// free loopback ports with equivalent settings, and stops them again.
//
// Both servers get the same zoo.cfg keys. The JVM-only settings that Apache
// ZooKeeper reads as system properties (extended types, container
// manager intervals) are passed to it with -D and written to gokeeper's
// zoo.cfg under the same names.
package harness

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Errors returned by the harness.
var (
	// ErrZooKeeperMissing means the Debian zookeeper package is not
	// installed.
	ErrZooKeeperMissing = errors.New("harness: Apache ZooKeeper is not installed: run `apt-get install -y zookeeper` (make compat does this)")
	// ErrNotReady means a server did not answer ruok with imok in time.
	ErrNotReady = errors.New("harness: server not ready")
	// ErrGokeeperUnavailable means the gokeeper binary could not be built
	// or does not serve yet.
	ErrGokeeperUnavailable = errors.New("harness: gokeeper unavailable")
)

// ZooKeeperJars is the classpath that runs Apache ZooKeeper with logging
// and the AdminServer, as installed by the Debian package.
var ZooKeeperJars = []string{
	"/usr/share/java/zookeeper.jar",
	"/usr/share/java/zookeeper-jute.jar",
	"/usr/share/java/slf4j-api.jar",
	"/usr/share/java/slf4j-log4j12.jar",
	"/usr/share/java/log4j-1.2.jar",
	"/usr/share/java/servlet-api.jar",
	"/usr/share/java/jetty9-server.jar",
	"/usr/share/java/jetty9-servlet.jar",
	"/usr/share/java/jetty9-http.jar",
	"/usr/share/java/jetty9-io.jar",
	"/usr/share/java/jetty9-util.jar",
	"/usr/share/java/jetty9-security.jar",
	"/usr/share/java/jackson-databind.jar",
	"/usr/share/java/jackson-core.jar",
	"/usr/share/java/jackson-annotations.jar",
	"/usr/share/java/commons-cli.jar",
	"/usr/share/java/metrics-core.jar",
	"/usr/share/java/snappy-java.jar",
	"/usr/share/java/netty-all.jar",
}

// Settings are the server settings shared by both servers. Every field maps
// to one zoo.cfg key of the same meaning.
type Settings struct {
	// TickTimeMs is tickTime.
	TickTimeMs int
	// MinSessionTimeoutMs is minSessionTimeout.
	MinSessionTimeoutMs int
	// MaxSessionTimeoutMs is maxSessionTimeout.
	MaxSessionTimeoutMs int
	// ContainerCheckIntervalMs is znode.container.checkIntervalMs.
	ContainerCheckIntervalMs int
	// ContainerMaxPerMinute is znode.container.maxPerMinute.
	ContainerMaxPerMinute int
	// ExtendedTypes is zookeeper.extendedTypesEnabled (TTL nodes).
	ExtendedTypes bool
	// ForceSync is forceSync: fsync the txn log before a write is
	// acknowledged.
	ForceSync bool
}

// DefaultSettings returns the settings the compat suite uses: a short tick
// so session expiry is quick, session timeouts from 1 s to 20 s, and a
// container manager that checks every 100 ms.
func DefaultSettings() Settings {
	return Settings{
		TickTimeMs:               500,
		MinSessionTimeoutMs:      1000,
		MaxSessionTimeoutMs:      20000,
		ContainerCheckIntervalMs: 100,
		ContainerMaxPerMinute:    100000,
		ExtendedTypes:            true,
		ForceSync:                true,
	}
}

// SystemProperties returns the JVM system properties Apache ZooKeeper
// needs for s, by name. gokeeper reads the same names from zoo.cfg.
func (s Settings) SystemProperties() map[string]string {
	return map[string]string{
		"zookeeper.extendedTypesEnabled":         strconv.FormatBool(s.ExtendedTypes),
		"znode.container.checkIntervalMs":        strconv.Itoa(s.ContainerCheckIntervalMs),
		"znode.container.maxPerMinute":           strconv.Itoa(s.ContainerMaxPerMinute),
		"znode.container.maxNeverUsedIntervalMs": "0",
	}
}

// Ports are the loopback ports one server listens on.
type Ports struct {
	Client int
	Admin  int
}

// ZooCfg renders the zoo.cfg both servers read: the standard keys plus, for
// gokeeper, the system properties under their own names.
func (s Settings) ZooCfg(dataDir string, p Ports) string {
	var b strings.Builder
	fmt.Fprintf(&b, "tickTime=%d\n", s.TickTimeMs)
	fmt.Fprintf(&b, "initLimit=10\nsyncLimit=5\n")
	fmt.Fprintf(&b, "dataDir=%s\n", dataDir)
	fmt.Fprintf(&b, "clientPort=%d\n", p.Client)
	fmt.Fprintf(&b, "clientPortAddress=127.0.0.1\n")
	fmt.Fprintf(&b, "maxClientCnxns=0\n")
	fmt.Fprintf(&b, "minSessionTimeout=%d\n", s.MinSessionTimeoutMs)
	fmt.Fprintf(&b, "maxSessionTimeout=%d\n", s.MaxSessionTimeoutMs)
	fmt.Fprintf(&b, "4lw.commands.whitelist=*\n")
	fmt.Fprintf(&b, "admin.enableServer=true\n")
	fmt.Fprintf(&b, "admin.serverAddress=127.0.0.1\n")
	fmt.Fprintf(&b, "admin.serverPort=%d\n", p.Admin)
	fmt.Fprintf(&b, "autopurge.purgeInterval=0\n")
	fmt.Fprintf(&b, "forceSync=%s\n", map[bool]string{true: "yes", false: "no"}[s.ForceSync])
	props := s.SystemProperties()
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, props[k])
	}
	return b.String()
}

// Server is one running server process.
type Server struct {
	// Name is "zookeeper" or "gokeeper"; an ensemble member's adds its
	// myid ("zookeeper.2").
	Name string
	// Addr is the client address, 127.0.0.1:port.
	Addr string
	// AdminAddr is the AdminServer address, 127.0.0.1:port.
	AdminAddr string
	// Dir holds zoo.cfg, the data dir and the server's log.
	Dir string

	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func freePorts() (Ports, error) {
	p, err := freeDistinctPorts(2)
	if err != nil {
		return Ports{}, err
	}
	return Ports{Client: p[0], Admin: p[1]}, nil
}

// handedOut holds every port freeDistinctPorts returned in this process,
// so that servers started one after another (or at once) never get the
// same port even when the kernel offers it again.
var handedOut struct {
	sync.Mutex
	ports map[int]bool
}

// freeDistinctPorts returns n loopback TCP ports that were free a moment
// ago and that it has not returned before.
func freeDistinctPorts(n int) ([]int, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports == nil {
		handedOut.ports = map[int]bool{}
	}
	var out []int
	for tries := 0; len(out) < n; tries++ {
		if tries > 100*n {
			return nil, fmt.Errorf("harness: no %d distinct free ports", n)
		}
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		if handedOut.ports[p] {
			continue
		}
		handedOut.ports[p] = true
		out = append(out, p)
	}
	return out, nil
}

// ZooKeeperInstalled reports whether the Debian zookeeper jars are present.
func ZooKeeperInstalled() error {
	for _, j := range ZooKeeperJars[:2] {
		if _, err := os.Stat(j); err != nil {
			return ErrZooKeeperMissing
		}
	}
	if _, err := exec.LookPath("java"); err != nil {
		return fmt.Errorf("%w (java not found)", ErrZooKeeperMissing)
	}
	return nil
}

// StartZooKeeper starts Apache ZooKeeper in a new directory under dir and
// waits until it answers ruok.
func StartZooKeeper(dir string, s Settings, ready time.Duration) (*Server, error) {
	if err := ZooKeeperInstalled(); err != nil {
		return nil, err
	}
	srvDir, err := os.MkdirTemp(dir, "zookeeper-")
	if err != nil {
		return nil, err
	}
	mk, err := zooKeeperCommand(srvDir, s)
	if err != nil {
		return nil, err
	}
	return startProcess("zookeeper", srvDir, s, ready, mk)
}

// zooKeeperCommand writes srvDir/log4j.properties (the server logs to
// srvDir/server.log) and returns what starts Apache ZooKeeper on a zoo.cfg
// with the JVM flags and system properties of s.
func zooKeeperCommand(srvDir string, s Settings) (func(cfg string) *exec.Cmd, error) {
	var cp []string
	for _, j := range ZooKeeperJars {
		if _, err := os.Stat(j); err == nil {
			cp = append(cp, j)
		}
	}
	cp = append(cp, srvDir)
	log4j := "log4j.rootLogger=WARN, F\nlog4j.appender.F=org.apache.log4j.FileAppender\n" +
		"log4j.appender.F.File=" + filepath.Join(srvDir, "server.log") + "\n" +
		"log4j.appender.F.layout=org.apache.log4j.PatternLayout\n" +
		"log4j.appender.F.layout.ConversionPattern=%d %p [%t] %c{1}: %m%n\n"
	if err := os.WriteFile(filepath.Join(srvDir, "log4j.properties"), []byte(log4j), 0o644); err != nil {
		return nil, err
	}
	args := []string{"-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto"}
	props := s.SystemProperties()
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-D"+k+"="+props[k])
	}
	args = append(args, "-cp", strings.Join(cp, ":"), "org.apache.zookeeper.server.quorum.QuorumPeerMain")
	return func(cfg string) *exec.Cmd {
		return exec.Command("java", append(args, cfg)...)
	}, nil
}

// StartGokeeper starts the gokeeper binary at bin in a new directory under
// dir and waits until it answers ruok. Any failure wraps
// ErrGokeeperUnavailable.
func StartGokeeper(bin, dir string, s Settings, ready time.Duration) (*Server, error) {
	srvDir, err := os.MkdirTemp(dir, "gokeeper-")
	if err != nil {
		return nil, err
	}
	srv, err := startProcess("gokeeper", srvDir, s, ready, func(cfg string) *exec.Cmd {
		return exec.Command(bin, "serve", "--config", cfg)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrGokeeperUnavailable, err)
	}
	return srv, nil
}

// BuildGokeeper builds ./cmd/gokeeper of the module rooted at moduleDir
// into dir and returns the binary's path.
func BuildGokeeper(moduleDir, dir string) (string, error) {
	bin := filepath.Join(dir, "gokeeper")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/gokeeper")
	cmd.Dir = moduleDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%w: go build ./cmd/gokeeper: %v\n%s", ErrGokeeperUnavailable, err, out)
	}
	return bin, nil
}

func startProcess(name, srvDir string, s Settings, ready time.Duration, mk func(cfg string) *exec.Cmd) (*Server, error) {
	ports, err := freePorts()
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(srvDir, "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	srv, err := spawn(name, srvDir, s.ZooCfg(dataDir, ports), ports, mk)
	if err != nil {
		return nil, err
	}
	if err := srv.waitReady(ready); err != nil {
		srv.Stop()
		return nil, fmt.Errorf("%w: %s: %v\n%s", ErrNotReady, name, err, srv.LogTail(2000))
	}
	return srv, nil
}

// spawn writes cfg to srvDir/zoo.cfg and starts the server in its own
// process group, its output in srvDir/stdout.log. It does not wait for
// the server to serve.
func spawn(name, srvDir, cfgText string, ports Ports, mk func(cfg string) *exec.Cmd) (*Server, error) {
	cfg := filepath.Join(srvDir, "zoo.cfg")
	if err := os.WriteFile(cfg, []byte(cfgText), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(srvDir, "stdout.log"))
	if err != nil {
		return nil, err
	}
	cmd := mk(cfg)
	cmd.Dir = srvDir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("harness: start %s: %w", name, err)
	}
	srv := &Server{
		Name:      name,
		Addr:      net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.Client)),
		AdminAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.Admin)),
		Dir:       srvDir,
		cmd:       cmd,
		done:      make(chan struct{}),
		log:       logf,
	}
	go func() {
		_ = cmd.Wait()
		close(srv.done)
	}()
	return srv, nil
}

// waitReady polls ruok until imok, the process exits, or the deadline.
func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		out, err := FourLetter(s.Addr, "ruok", time.Second)
		if err == nil && out == "imok" {
			return nil
		}
		last = err
		if err == nil {
			last = fmt.Errorf("ruok answered %q", out)
		}
		select {
		case <-s.done:
			return fmt.Errorf("process exited: %s", s.cmd.ProcessState)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no imok after %v: %v", timeout, last)
		}
	}
}

// Exited reports whether the process has exited.
func (s *Server) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Stop kills the server's process group and waits for it to exit (at most
// a few seconds). It is safe to call more than once.
func (s *Server) Stop() {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return
	}
	pgid := s.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
		}
	}
	// Kill anything left in the group, even after the leader exited.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	s.log.Close()
}

// LogTail returns up to n bytes from the end of the server's logs.
func (s *Server) LogTail(n int) string {
	var out bytes.Buffer
	for _, f := range []string{"stdout.log", "server.log"} {
		b, err := os.ReadFile(filepath.Join(s.Dir, f))
		if err != nil || len(b) == 0 {
			continue
		}
		if len(b) > n {
			b = b[len(b)-n:]
		}
		fmt.Fprintf(&out, "--- %s\n%s\n", f, b)
	}
	return out.String()
}

// FourLetter sends a four-letter word to addr and returns everything the
// server wrote before closing the connection.
func FourLetter(addr, word string, timeout time.Duration) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte(word)); err != nil {
		return "", err
	}
	b, err := io.ReadAll(bufio.NewReader(conn))
	if err != nil && len(b) == 0 {
		return "", err
	}
	return string(b), nil
}
