// Command capture records the exact frames that a real Apache ZooKeeper
// server and real ZooKeeper clients exchange, for jute's golden tests.
//
// It starts a standalone Apache ZooKeeper (the Debian 3.8 package) on a
// free loopback port, puts a loopback TCP proxy in front of it, drives
// real clients through the proxy (go-zookeeper in process, kazoo through
// /usr/bin/python3, the Java zkCli.sh) and writes every frame, per
// connection and per direction, as hex text under -out. Run it from the
// repository root, only when the golden files should be replaced:
//
//	go run ./jute/internal/capture -out jute/testdata/golden
//
// Each output file is one client connection. Lines starting with '#' are
// comments; every frame is a header line
//
//	<c2s|s2c> <seq> <op> [xid=<xid>] [zxid=<hex>] [err=<code>] len=<n>
//
// followed by the whole frame (4-byte length prefix included) in hex,
// 32 bytes a line. The op of a reply is the op of the request with the
// same xid, or the meaning of a special xid (notification, ping, auth,
// setWatches). Only loopback addresses are ever used.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gokeeper/gokeeper/internal/loopport"
	"github.com/gokeeper/gokeeper/jute"
)

const zkClasspath = "/usr/share/java/zookeeper.jar:/usr/share/java/zookeeper-jute.jar:" +
	"/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar:/usr/share/java/servlet-api.jar"

func main() {
	out := flag.String("out", "jute/testdata/golden", "directory the golden frames are written to")
	quorumOut := flag.String("quorum-out", "jute/testdata/quorum", "directory the quorum streams of three voters and an observer are written to")
	persistOut := flag.String("persistence-out", "jute/testdata/persistence", "directory the server's txn log and snapshots are written to")
	java := flag.String("java", "java", "java binary that runs Apache ZooKeeper")
	classpath := flag.String("classpath", zkClasspath, "classpath of Apache ZooKeeper")
	python := flag.String("python", "/usr/bin/python3", "python with kazoo installed")
	zkCli := flag.String("zkcli", "/usr/share/zookeeper/bin/zkCli.sh", "the Java command-line client")
	cliMt := flag.String("climt", "/usr/lib/zookeeper/bin/cli_mt", "the C command-line client")
	keep := flag.Bool("keep", false, "keep the server's temporary directory")
	only := flag.String("only", "", "run only these comma-separated scenarios (for trying a change; the golden set needs them all)")
	flag.Parse()
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	if *only != "" && (*out == "jute/testdata/golden" || *persistOut == "jute/testdata/persistence" || *quorumOut == "jute/testdata/quorum") {
		// A partial run must not replace the golden set.
		log.Fatal("-only needs -out, -persistence-out and -quorum-out pointing away from jute/testdata")
	}
	if err := run(*out, *persistOut, *quorumOut, *java, *classpath, *python, *zkCli, *cliMt, *only, *keep); err != nil {
		log.Fatal(err)
	}
}

func run(out, persistOut, quorumOut, java, classpath, python, zkCli, cliMt, only string, keep bool) error {
	dir, err := os.MkdirTemp("", "gokeeper-capture-")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	srv, err := startZooKeeper(dir, java, classpath)
	if err != nil {
		return err
	}
	defer srv.stop()

	px, err := newProxy(srv.addr)
	if err != nil {
		return err
	}
	defer px.close()
	log.Printf("zookeeper on %s, proxy on %s", srv.addr, px.addr)

	scenarios := []struct {
		name string
		run  func(px *proxy) error
	}{
		{"go-zookeeper", func(px *proxy) error { return runGoZK(px) }},
		{"kazoo", func(px *proxy) error { return runKazoo(px, python) }},
		{"zkcli", func(px *proxy) error { return runZkCli(px, zkCli) }},
		{"zkcli-session", func(px *proxy) error { return runZkCliSession(px, zkCli) }},
		{"cli_mt", func(px *proxy) error { return runCliMt(px, cliMt) }},
	}
	for _, s := range scenarios {
		if only != "" && !slices.Contains(strings.Split(only, ","), s.name) {
			continue
		}
		px.setScenario(s.name)
		log.Printf("scenario %s", s.name)
		if err := s.run(px); err != nil {
			return fmt.Errorf("scenario %s: %w", s.name, err)
		}
		// Every connection of the scenario must be fully recorded before
		// the next starts.
		if err := px.waitIdle(10 * time.Second); err != nil {
			return fmt.Errorf("scenario %s: %w", s.name, err)
		}
	}
	if err := px.write(out, srv.version); err != nil {
		return err
	}
	// Restart the server on the same dataDir: loading the database ends
	// with a snapshot of the whole tree, sessions and ACL cache included.
	srv.stop()
	srv2, err := startZooKeeper(dir, java, classpath)
	if err != nil {
		return err
	}
	srv2.stop()
	if err := writePersistence(persistOut, filepath.Join(dir, "data", "version-2"), srv.version); err != nil {
		return err
	}
	if only != "" && !slices.Contains(strings.Split(only, ","), "quorum") {
		return nil
	}
	return captureQuorum(quorumOut, java, classpath)
}

// zkServer is a running Apache ZooKeeper.
type zkServer struct {
	cmd     *exec.Cmd
	addr    string
	dir     string
	version string
}

func startZooKeeper(dir, java, classpath string) (*zkServer, error) {
	port, err := loopport.Free()
	if err != nil {
		return nil, err
	}
	s, err := startServer(dir, java, classpath, port, "")
	if err != nil {
		return nil, err
	}
	if err := s.waitServing(30 * time.Second); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// startServer starts an Apache ZooKeeper whose zoo.cfg, log and dataDir
// (dir/data) live in dir; extraCfg adds lines (an ensemble's members).
func startServer(dir, java, classpath string, port int, extraCfg string) (*zkServer, error) {
	// tickTime 500 lets a client negotiate a 1 s session, so pings come
	// quickly.
	cfg := fmt.Sprintf("tickTime=500\ndataDir=%s\nclientPort=%d\n"+
		"clientPortAddress=127.0.0.1\nmaxClientCnxns=0\n4lw.commands.whitelist=*\nadmin.enableServer=false\n%s",
		filepath.Join(dir, "data"), port, extraCfg)
	if err := os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	l4j := fmt.Sprintf("log4j.rootLogger=INFO, F\nlog4j.appender.F=org.apache.log4j.FileAppender\n"+
		"log4j.appender.F.File=%s\nlog4j.appender.F.layout=org.apache.log4j.PatternLayout\n"+
		"log4j.appender.F.layout.ConversionPattern=%%d %%p [%%t] %%c{1}: %%m%%n\n", filepath.Join(dir, "zookeeper.log"))
	if err := os.WriteFile(filepath.Join(dir, "log4j.properties"), []byte(l4j), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(java, "-Xmx256m", "-Dzookeeper.extendedTypesEnabled=true",
		"-cp", classpath+":"+dir, "org.apache.zookeeper.server.quorum.QuorumPeerMain", filepath.Join(dir, "zoo.cfg"))
	logf, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	// The server dies with this process, however it ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &zkServer{cmd: cmd, addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir}, nil
}

// waitServing waits until the server serves clients and records its
// version. ruok answers imok before the server serves; srvr tells.
func (s *zkServer) waitServing(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if out, err := fourLetter(s.addr, "srvr"); err == nil && strings.HasPrefix(out, "Zookeeper version") {
			first, _, _ := strings.Cut(out, "\n")
			s.version = strings.TrimSpace(first)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("zookeeper on %s did not start serving within %v; see %s", s.addr, timeout, s.dir)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func fourLetter(addr, word string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(word)); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

func (s *zkServer) stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

// frame is one captured frame.
type frame struct {
	c2s  bool
	data []byte // length prefix included
	note string // op, xid, zxid, err
}

// conn is one proxied client connection.
type conn struct {
	name   string
	mu     sync.Mutex
	frames []frame
	xidOp  map[int32]jute.OpCode
	nC2S   int
	nS2C   int
	closed chan struct{}
	client net.Conn
	server net.Conn
}

// proxy forwards loopback client connections to the server and records
// every frame.
type proxy struct {
	ln   net.Listener
	addr string
	zk   string

	mu       sync.Mutex
	scenario string
	conns    []*conn
	perScen  map[string]int
	changed  chan struct{} // closed and replaced whenever a frame is recorded
}

func newProxy(zk string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, addr: ln.Addr().String(), zk: zk, perScen: map[string]int{}, changed: make(chan struct{})}
	go p.accept()
	return p, nil
}

func (p *proxy) close() { _ = p.ln.Close() }

func (p *proxy) setScenario(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.scenario = name
}

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.zk)
		if err != nil {
			log.Printf("dial zookeeper: %v", err)
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.perScen[p.scenario]++
		cn := &conn{
			name:   fmt.Sprintf("%s-%d", p.scenario, p.perScen[p.scenario]),
			xidOp:  map[int32]jute.OpCode{},
			closed: make(chan struct{}),
			client: c, server: s,
		}
		p.conns = append(p.conns, cn)
		p.mu.Unlock()
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); p.pump(cn, true) }()
		go func() { defer wg.Done(); p.pump(cn, false) }()
		go func() { wg.Wait(); close(cn.closed); p.notify() }()
	}
}

func (p *proxy) notify() {
	p.mu.Lock()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// pump copies frames one way, recording each before forwarding it, so a
// request is always recorded before its reply.
func (p *proxy) pump(cn *conn, c2s bool) {
	src, dst := cn.server, cn.client
	if c2s {
		src, dst = cn.client, cn.server
	}
	defer func() { _ = cn.client.Close(); _ = cn.server.Close() }()
	r := bufio.NewReader(src)
	for {
		var lenb [4]byte
		if _, err := io.ReadFull(r, lenb[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(lenb[:])
		if n > 16<<20 {
			log.Printf("%s: frame of %d bytes, giving up", cn.name, n)
			return
		}
		data := make([]byte, 4+n)
		copy(data, lenb[:])
		if _, err := io.ReadFull(r, data[4:]); err != nil {
			return
		}
		cn.record(c2s, data)
		p.notify()
		if _, err := dst.Write(data); err != nil {
			return
		}
	}
}

func (cn *conn) record(c2s bool, data []byte) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	body := data[4:]
	var note string
	switch {
	case c2s && cn.nC2S == 0:
		note = "connect"
	case !c2s && cn.nS2C == 0:
		note = "connect"
	case c2s:
		var h jute.RequestHeader
		d := jute.NewDecoder(body, 0)
		h.Decode(d)
		op := jute.OpCode(h.Type)
		cn.xidOp[h.Xid] = op
		note = fmt.Sprintf("%s xid=%d", op, h.Xid)
	default:
		var h jute.ReplyHeader
		d := jute.NewDecoder(body, 0)
		h.Decode(d)
		var op string
		switch h.Xid {
		case jute.XidNotification:
			op = "notification"
		case jute.XidPing:
			op = "ping"
		case jute.XidAuth:
			op = "auth"
		case jute.XidSetWatches:
			op = "setWatches"
		default:
			if o, ok := cn.xidOp[h.Xid]; ok {
				op = o.String()
			} else {
				op = "unknown"
			}
		}
		note = fmt.Sprintf("%s xid=%d zxid=0x%x err=%d", op, h.Xid, h.Zxid, h.Err)
	}
	if c2s {
		cn.nC2S++
	} else {
		cn.nS2C++
	}
	cn.frames = append(cn.frames, frame{c2s: c2s, data: data, note: note})
}

// waitFor waits until cond holds for the frames of the scenario's
// connections, or the timeout passes.
func (p *proxy) waitFor(what string, timeout time.Duration, cond func(frames []frame) bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		ch := p.changed
		var all []frame
		for _, cn := range p.conns {
			if strings.HasPrefix(cn.name, p.scenario+"-") {
				cn.mu.Lock()
				all = append(all, cn.frames...)
				cn.mu.Unlock()
			}
		}
		p.mu.Unlock()
		if cond(all) {
			return nil
		}
		select {
		case <-ch:
		case <-deadline.C:
			return fmt.Errorf("timed out waiting for %s", what)
		}
	}
}

// waitIdle waits until every connection has closed.
func (p *proxy) waitIdle(timeout time.Duration) error {
	p.mu.Lock()
	conns := append([]*conn(nil), p.conns...)
	p.mu.Unlock()
	deadline := time.After(timeout)
	for _, cn := range conns {
		select {
		case <-cn.closed:
		case <-deadline:
			return fmt.Errorf("connection %s still open", cn.name)
		}
	}
	return nil
}

// dropLatest closes the newest connection of the current scenario, so the
// client reconnects.
func (p *proxy) dropLatest() {
	p.mu.Lock()
	cn := p.conns[len(p.conns)-1]
	p.mu.Unlock()
	_ = cn.client.Close()
	_ = cn.server.Close()
}

func hasFrame(c2s bool, prefix string) func([]frame) bool {
	return func(fs []frame) bool {
		for _, f := range fs {
			if f.c2s == c2s && strings.HasPrefix(f.note, prefix) {
				return true
			}
		}
		return false
	}
}

// hasReplyTo reports whether a request whose bytes contain marker has
// been answered.
func hasReplyTo(marker string) func([]frame) bool {
	return func(fs []frame) bool {
		xid := ""
		for _, f := range fs {
			words := strings.Fields(f.note)
			if len(words) < 2 {
				continue // connect
			}
			if f.c2s && strings.Contains(string(f.data), marker) {
				xid = words[1]
			}
			if !f.c2s && xid != "" && words[1] == xid {
				return true
			}
		}
		return false
	}
}

func (p *proxy) write(dir, version string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, cn := range p.conns {
		var b strings.Builder
		fmt.Fprintf(&b, "# Connection %s, captured by `go run ./jute/internal/capture` on %s.\n", cn.name, time.Now().UTC().Format("2006-01-02"))
		fmt.Fprintf(&b, "# Server: %s (Debian package), standalone, tickTime=500, extendedTypesEnabled.\n", version)
		fmt.Fprintf(&b, "# Client: %s.\n", clientOf(cn.name))
		fmt.Fprintf(&b, "# Each frame: <c2s|s2c> <seq> <op> [xid zxid err] len=<n>, then the frame in hex (length prefix included).\n")
		for i, f := range cn.frames {
			dir := "s2c"
			if f.c2s {
				dir = "c2s"
			}
			fmt.Fprintf(&b, "\n%s %d %s len=%d\n", dir, i, f.note, len(f.data))
			for off := 0; off < len(f.data); off += 32 {
				end := min(off+32, len(f.data))
				b.WriteString(hex.EncodeToString(f.data[off:end]))
				b.WriteByte('\n')
			}
		}
		name := filepath.Join(dir, cn.name+".txt")
		if err := os.WriteFile(name, []byte(b.String()), 0o644); err != nil {
			return err
		}
		log.Printf("wrote %s (%d frames)", name, len(cn.frames))
	}
	return nil
}

func clientOf(name string) string {
	switch {
	case strings.HasPrefix(name, "go-zookeeper"):
		return "github.com/go-zookeeper/zk v1.0.4 (sends no readOnly byte in its ConnectRequest)"
	case strings.HasPrefix(name, "kazoo"):
		return "kazoo 2.8.0 (Debian python3-kazoo) on /usr/bin/python3"
	case strings.HasPrefix(name, "cli_mt"):
		return "the C client of Apache ZooKeeper 3.8.0, cli_mt -r (read-only allowed) fed on stdin (Debian package zookeeper-bin, which ships no cli_st)"
	case strings.HasPrefix(name, "zkcli-session"):
		return "the Java client of Apache ZooKeeper 3.8.0, one interactive zkCli.sh session fed on stdin (Debian package zookeeper)"
	case strings.HasPrefix(name, "zkcli"):
		return "the Java client of Apache ZooKeeper 3.8.0, zkCli.sh (Debian package zookeeper)"
	}
	return "unknown"
}
