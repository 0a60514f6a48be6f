package chaos

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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gokeeper/gokeeper/chaos/diskfault"
	"github.com/gokeeper/gokeeper/internal/loopport"
)

// Target is what the ensemble runs.
type Target string

// The targets.
const (
	Gokeeper  Target = "gokeeper"
	ZooKeeper Target = "zookeeper"
)

// Timing of the ensemble: tickTime 200 ms, syncLimit 5 ticks (a member
// cut off from its leader notices within about a second) and client
// sessions of SessionTimeout, well above that.
const (
	tickTime       = 200
	initLimit      = 10
	syncLimit      = 5
	SessionTimeout = 4 * time.Second
)

// zkClasspath runs Debian's Apache ZooKeeper 3.8 with log4j logging to
// the console (see /work/shared/REFERENCE-ZK.md).
var zkClasspath = []string{
	"/usr/share/java/zookeeper.jar", "/usr/share/java/zookeeper-jute.jar", "/usr/share/java/slf4j-api.jar",
	"/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar",
}

// Cluster is an ensemble of N member processes on loopback whose quorum
// and election ports are reached through Net.
type Cluster struct {
	Target Target
	Dir    string
	Net    *Net
	N      int

	bin     string // the gokeeper binary (Target gokeeper)
	members []*member
}

type member struct {
	id         int
	dir        string // holds zoo.cfg, data/, the log and the disk control file
	cfg        string
	clientAddr string

	mu struct {
		sync.Mutex
		cmd     *exec.Cmd
		done    chan struct{} // closed when cmd exited
		paused  bool
		killing bool // Kill9 under way: the exit is expected
		starts  int
		exits   []string // exits nobody asked for
	}
}

// StartCluster writes the members' zoo.cfg files under dir and starts
// them. bin is the gokeeper binary (ignored for ZooKeeper).
func StartCluster(target Target, bin, dir string, n int) (*Cluster, error) {
	if target == ZooKeeper {
		for _, jar := range zkClasspath {
			if _, err := os.Stat(jar); err != nil {
				return nil, fmt.Errorf("chaos: Apache ZooKeeper is not installed (apt-get install -y zookeeper): %w", err)
			}
		}
	}
	c := &Cluster{Target: target, Dir: dir, N: n, bin: bin}
	real := make(map[[2]int]string)
	for i := 1; i <= n; i++ {
		m := &member{id: i, dir: filepath.Join(dir, fmt.Sprintf("n%d", i))}
		cp, err := loopport.Free()
		if err != nil {
			return nil, err
		}
		m.clientAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(cp))
		for _, p := range []Port{QuorumPort, ElectionPort} {
			pp, err := loopport.Free()
			if err != nil {
				return nil, err
			}
			real[[2]int{i, int(p)}] = net.JoinHostPort("127.0.0.1", strconv.Itoa(pp))
		}
		c.members = append(c.members, m)
	}
	nw, err := NewNet(n, func(i int, p Port) string { return real[[2]int{i, int(p)}] })
	if err != nil {
		return nil, err
	}
	c.Net = nw
	for _, m := range c.members {
		data := filepath.Join(m.dir, "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(data, "myid"), []byte(strconv.Itoa(m.id)+"\n"), 0o644); err != nil {
			return nil, err
		}
		_, port, _ := net.SplitHostPort(m.clientAddr)
		lines := []string{
			fmt.Sprintf("tickTime=%d", tickTime),
			fmt.Sprintf("initLimit=%d", initLimit),
			fmt.Sprintf("syncLimit=%d", syncLimit),
			"dataDir=" + data,
			"clientPort=" + port,
			"clientPortAddress=127.0.0.1",
			"maxClientCnxns=0",
			"admin.enableServer=false",
			"4lw.commands.whitelist=*",
			"forceSync=yes",
			"minSessionTimeout=1000",
			"maxSessionTimeout=20000",
			// NB: snapshots every few hundred txns, so that restarts
			// and syncs cross snapshots, not only logs.
			"snapCount=200",
		}
		for j := 1; j <= n; j++ {
			q, e := real[[2]int{j, int(QuorumPort)}], real[[2]int{j, int(ElectionPort)}]
			if j != m.id {
				q, e = nw.Addr(m.id, j, QuorumPort), nw.Addr(m.id, j, ElectionPort)
			}
			lines = append(lines, fmt.Sprintf("server.%d=%s:%s", j, q, portOf(e)))
		}
		m.cfg = filepath.Join(m.dir, "zoo.cfg")
		if err := os.WriteFile(m.cfg, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			return nil, err
		}
		if target == ZooKeeper {
			props := "log4j.rootLogger=INFO, C\nlog4j.appender.C=org.apache.log4j.ConsoleAppender\n" +
				"log4j.appender.C.layout=org.apache.log4j.PatternLayout\nlog4j.appender.C.layout.ConversionPattern=%d %p [%t] %c{1}: %m%n\n"
			if err := os.WriteFile(filepath.Join(m.dir, "log4j.properties"), []byte(props), 0o644); err != nil {
				return nil, err
			}
		}
	}
	for i := 1; i <= n; i++ {
		if err := c.Start(i); err != nil {
			c.Stop()
			return nil, err
		}
	}
	return c, nil
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// ClientAddr returns member i's client address.
func (c *Cluster) ClientAddr(i int) string { return c.members[i-1].clientAddr }

// ClientAddrs returns every member's client address.
func (c *Cluster) ClientAddrs() []string {
	var out []string
	for _, m := range c.members {
		out = append(out, m.clientAddr)
	}
	return out
}

// Start starts member i (which must not be running).
func (c *Cluster) Start(i int) error {
	m := c.members[i-1]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.cmd != nil && !closed(m.mu.done) {
		return fmt.Errorf("chaos: member %d is running", i)
	}
	var cmd *exec.Cmd
	switch c.Target {
	case ZooKeeper:
		cp := strings.Join(append(append([]string(nil), zkClasspath...), m.dir), ":")
		cmd = exec.Command("java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", cp,
			"org.apache.zookeeper.server.quorum.QuorumPeerMain", m.cfg)
	default:
		cmd = exec.Command(c.bin, "serve", "--config", m.cfg, "--log-json")
		cmd.Env = append(os.Environ(), diskfault.EnvControl+"="+m.diskControl())
	}
	log, err := os.OpenFile(filepath.Join(m.dir, "member.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "==== chaos: start %d at %s\n", m.mu.starts+1, time.Now().Format(time.RFC3339Nano))
	cmd.Stdout, cmd.Stderr = log, log
	// NB: its own process group, so that a terminal's Ctrl-C reaches the
	// harness, which stops the members itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		return err
	}
	done := make(chan struct{})
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(log, "==== chaos: exit at %s: %v\n", time.Now().Format(time.RFC3339Nano), err)
		log.Close()
		m.mu.Lock()
		if !m.mu.killing {
			m.mu.exits = append(m.mu.exits, fmt.Sprint(err))
		}
		m.mu.Unlock()
		close(done)
	}()
	m.mu.cmd, m.mu.done, m.mu.paused, m.mu.killing = cmd, done, false, false
	m.mu.starts++
	return nil
}

// Running reports whether member i's process is alive.
func (c *Cluster) Running(i int) bool {
	m := c.members[i-1]
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.cmd != nil && !closed(m.mu.done)
}

// Kill9 kills member i with SIGKILL and waits until it is gone.
func (c *Cluster) Kill9(i int) {
	m := c.members[i-1]
	m.mu.Lock()
	cmd, done := m.mu.cmd, m.mu.done
	m.mu.paused = false
	m.mu.killing = true
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// Exits returns how member i's processes exited without Kill9 (or Stop).
func (c *Cluster) Exits(i int) []string {
	m := c.members[i-1]
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.mu.exits...)
}

// LostPort reports whether member i's log says a port it needed was
// taken (by another process, while it was down): a harness failure, not
// the member's.
func (c *Cluster) LostPort(i int) bool {
	b, _ := os.ReadFile(filepath.Join(c.members[i-1].dir, "member.log"))
	return bytes.Contains(bytes.ToLower(b), []byte("address already in use"))
}

// Pause stops member i with SIGSTOP; Resume continues it.
func (c *Cluster) Pause(i int) { c.signal(i, syscall.SIGSTOP, true) }

// Resume continues member i after Pause.
func (c *Cluster) Resume(i int) { c.signal(i, syscall.SIGCONT, false) }

func (c *Cluster) signal(i int, sig syscall.Signal, paused bool) {
	m := c.members[i-1]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.cmd == nil || closed(m.mu.done) {
		return
	}
	_ = m.mu.cmd.Process.Signal(sig)
	m.mu.paused = paused
}

// Paused reports whether member i is stopped by Pause.
func (c *Cluster) Paused(i int) bool {
	m := c.members[i-1]
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.paused
}

func (m *member) diskControl() string { return filepath.Join(m.dir, "disk-fault") }

// SetDisk puts member i's disk in mode (gokeeper only).
func (c *Cluster) SetDisk(i int, mode diskfault.Mode) error {
	return os.WriteFile(c.members[i-1].diskControl(), []byte(mode), 0o644)
}

// Stop kills every member and closes the proxy.
func (c *Cluster) Stop() {
	for i := 1; i <= c.N; i++ {
		c.Resume(i)
		c.Kill9(i)
	}
	if c.Net != nil {
		c.Net.Close()
	}
}

// Status is what srvr says of a member.
type Status struct {
	Mode      string // leader, follower, standalone; "" when not serving
	Zxid      int64
	NodeCount int
}

// Srvr asks member i for srvr.
func (c *Cluster) Srvr(i int) (Status, error) {
	out, err := FourLetter(c.ClientAddr(i), "srvr", 2*time.Second)
	if err != nil {
		return Status{}, err
	}
	var st Status
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Mode":
			st.Mode = v
		case "Zxid":
			st.Zxid, _ = strconv.ParseInt(strings.TrimPrefix(v, "0x"), 16, 64)
		case "Node count":
			st.NodeCount, _ = strconv.Atoi(v)
		}
	}
	if st.Mode == "" {
		return st, errors.New("chaos: not serving")
	}
	return st, nil
}

// Leader returns the member that srvr says leads, or 0.
func (c *Cluster) Leader() int {
	for i := 1; i <= c.N; i++ {
		if c.Running(i) && !c.Paused(i) {
			if st, err := c.Srvr(i); err == nil && st.Mode == "leader" {
				return i
			}
		}
	}
	return 0
}

// WaitServing waits until one member leads and every other running
// member follows it.
func (c *Cluster) WaitServing(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var modes []string
	for {
		modes = modes[:0]
		leaders, serving, live := 0, 0, 0
		for i := 1; i <= c.N; i++ {
			if !c.Running(i) {
				modes = append(modes, "down")
				continue
			}
			live++
			st, _ := c.Srvr(i)
			modes = append(modes, st.Mode)
			switch st.Mode {
			case "leader":
				leaders++
				serving++
			case "follower":
				serving++
			}
		}
		if leaders == 1 && serving == live {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("chaos: no serving ensemble within %v: modes %q", timeout, modes)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// FourLetter sends a four-letter word to addr and returns the answer.
func FourLetter(addr, word string, timeout time.Duration) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(conn, word); err != nil {
		return "", err
	}
	var out bytes.Buffer
	_, err = io.Copy(&out, conn)
	return out.String(), err
}
