package main

// Process-level tests: they build the real gokeeper binary once per test
// binary and run `gokeeper serve --config <temp zoo.cfg>` as a child
// process on a loopback port with a temp dataDir. This file holds the
// harness (build, start, wait for log lines, SIGTERM, kill -9), the clean
// shutdown test and the bad zoo.cfg tests; crash_test.go holds the kill -9
// crash-safety test and zkcli_test.go drives the real clients (zkCli.sh,
// kazoo, cli_st). All of them skip with -short.

import (
	"bytes"
	"context"
	"encoding/json"
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
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/gokeeper/gokeeper/compat-tests/rawclient"
	"github.com/gokeeper/gokeeper/jute"
)

// gkStartTimeout bounds how long a started server may take to log that it
// serves clients (it recovers its data dir first).
const gkStartTimeout = 30 * time.Second

var (
	// gkBinDir is the temp dir TestMain creates for the binary.
	gkBinDir string
	// gkBuildOnce builds the binary the first time a process test needs
	// it, so unit tests run alone (-run TestLoadConfig) build nothing.
	gkBuildOnce sync.Once
	gkBinPath   string
	gkBuildErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gokeeper-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "gokeeper tests:", err)
		os.Exit(1)
	}
	gkBinDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// gokeeperBinary returns the path of the gokeeper binary built from this
// package, building it on first use. It skips the test under -short.
func gokeeperBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("process test: builds and runs the gokeeper binary (skipped with -short)")
	}
	gkBuildOnce.Do(func() {
		p := filepath.Join(gkBinDir, "gokeeper")
		out, err := exec.Command("go", "build", "-o", p, ".").CombinedOutput()
		if err != nil {
			gkBuildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		gkBinPath = p
	})
	if gkBuildErr != nil {
		t.Fatal(gkBuildErr)
	}
	return gkBinPath
}

// lineLog collects a child's stderr line by line and wakes waiters on each
// new line.
type lineLog struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	wake    chan struct{} // closed and replaced when a line arrives
}

func newLineLog() *lineLog { return &lineLog{wake: make(chan struct{})} }

// Write implements io.Writer for exec.Cmd.Stderr.
func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, string(l.partial[:i]))
		l.partial = l.partial[i+1:]
		added = true
	}
	if added {
		close(l.wake)
		l.wake = make(chan struct{})
	}
	return len(p), nil
}

// snapshot returns the lines so far and a channel closed at the next one.
func (l *lineLog) snapshot() ([]string, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...), l.wake
}

// String returns everything written, the unterminated tail included.
func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n") + "\n" + string(l.partial)
}

// gkLogEntry decodes one --log-json line; it returns nil for other lines.
func gkLogEntry(line string) map[string]any {
	var m map[string]any
	if json.Unmarshal([]byte(line), &m) != nil {
		return nil
	}
	return m
}

// gkProc is one running (or exited) gokeeper serve process.
type gkProc struct {
	t       *testing.T
	cmd     *exec.Cmd
	cfgPath string
	// Addr is the client address from the "serving clients" log line.
	Addr string
	log  *lineLog
	done chan struct{} // closed when the process has exited
	// waitErr is cmd.Wait's result, set before done is closed.
	waitErr error
}

// gkZooCfg returns a standalone zoo.cfg on 127.0.0.1:port with its data in
// dataDir, forceSync on, and the extra key=value lines appended (later
// lines win).
func gkZooCfg(dataDir string, port int, extra ...string) string {
	lines := []string{
		"tickTime=2000",
		"dataDir=" + dataDir,
		"clientPort=" + strconv.Itoa(port),
		"clientPortAddress=127.0.0.1",
		"forceSync=yes",
		"maxClientCnxns=0",
		"admin.enableServer=false",
		"4lw.commands.whitelist=*",
	}
	return strings.Join(append(lines, extra...), "\n") + "\n"
}

// spawnGokeeper starts `gokeeper serve --config cfgPath --log-json` and
// returns at once.
func spawnGokeeper(t *testing.T, cfgPath string, extraArgs ...string) *gkProc {
	t.Helper()
	bin := gokeeperBinary(t)
	args := append([]string{"serve", "--config", cfgPath, "--log-json"}, extraArgs...)
	return spawnProc(t, exec.Command(bin, args...), cfgPath)
}

// spawnProc starts cmd, a command that ends up running gokeeper serve
// with the config cfgPath, and returns at once. The process is killed when
// the test ends; its log is shown if the test failed.
func spawnProc(t *testing.T, cmd *exec.Cmd, cfgPath string) *gkProc {
	t.Helper()
	p := &gkProc{t: t, cmd: cmd, cfgPath: cfgPath, log: newLineLog(), done: make(chan struct{})}
	p.cmd.Stderr = p.log
	p.cmd.Stdout = p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if p.running() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			lines, _ := p.log.snapshot()
			t.Logf("gokeeper (%s) log, last %d lines:\n%s", cfgPath, min(len(lines), 40), strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	})
	return p
}

// startGokeeper writes a zoo.cfg (gkZooCfg with extra) into a temp dir and
// starts a server on a free loopback port, waiting until it serves
// clients. It retries with another port when the chosen one was taken in
// the meantime.
func startGokeeper(t *testing.T, dataDir string, extra ...string) *gkProc {
	t.Helper()
	for attempt := 0; ; attempt++ {
		p, ok := tryStartGokeeper(t, dataDir, freePort(t), extra...)
		if ok {
			return p
		}
		if strings.Contains(p.log.String(), "address already in use") && attempt < 3 {
			continue
		}
		t.Fatalf("gokeeper did not start serving within %v (exit: %v)\n%s", gkStartTimeout, p.waitErr, p.log.String())
	}
}

// startGokeeperPort is startGokeeper on a given port, for clients that
// reconnect to the address they know.
func startGokeeperPort(t *testing.T, dataDir string, port int, extra ...string) *gkProc {
	t.Helper()
	p, ok := tryStartGokeeper(t, dataDir, port, extra...)
	if !ok {
		t.Fatalf("gokeeper did not start serving on port %d within %v (exit: %v)\n%s", port, gkStartTimeout, p.waitErr, p.log.String())
	}
	return p
}

// tryStartGokeeper starts a server on port and waits until it serves
// clients; if it does not, it is killed and false returned.
func tryStartGokeeper(t *testing.T, dataDir string, port int, extra ...string) (*gkProc, bool) {
	t.Helper()
	cfgPath := filepath.Join(t.TempDir(), "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(gkZooCfg(dataDir, port, extra...)), 0o644); err != nil {
		t.Fatal(err)
	}
	p := spawnGokeeper(t, cfgPath)
	line, ok := p.waitLog(gkStartTimeout, func(m map[string]any) bool { return m["message"] == "serving clients" })
	if !ok {
		p.kill9()
		return p, false
	}
	p.Addr, _ = gkLogEntry(line)["addr"].(string)
	if p.Addr == "" {
		t.Fatalf("no addr in %q", line)
	}
	return p, true
}

// spawnGokeeperOn writes a zoo.cfg (gkZooCfg with extra) for dataDir on a
// free port and starts a server without waiting for it to serve.
func spawnGokeeperOn(t *testing.T, dataDir string, extra ...string) *gkProc {
	t.Helper()
	cfgPath := filepath.Join(t.TempDir(), "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(gkZooCfg(dataDir, freePort(t), extra...)), 0o644); err != nil {
		t.Fatal(err)
	}
	return spawnGokeeper(t, cfgPath)
}

// running reports whether the process has not exited yet.
func (p *gkProc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// waitLog waits up to timeout for a JSON log line that match accepts and
// returns it. It gives up early when the process exits without having
// written one.
func (p *gkProc) waitLog(timeout time.Duration, match func(map[string]any) bool) (string, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for {
		exited := !p.running()
		lines, wake := p.log.snapshot()
		for _, l := range lines[seen:] {
			if m := gkLogEntry(l); m != nil && match(m) {
				return l, true
			}
		}
		seen = len(lines)
		if exited {
			return "", false
		}
		select {
		case <-wake:
		case <-p.done:
		case <-deadline.C:
			return "", false
		}
	}
}

// hasLog reports whether a JSON log line already written matches.
func (p *gkProc) hasLog(match func(map[string]any) bool) bool {
	lines, _ := p.log.snapshot()
	for _, l := range lines {
		if m := gkLogEntry(l); m != nil && match(m) {
			return true
		}
	}
	return false
}

// kill9 sends SIGKILL and waits for the process to be gone.
func (p *gkProc) kill9() {
	p.t.Helper()
	if !p.running() {
		return
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.t.Fatal(err)
	}
	<-p.done
}

// terminate sends SIGTERM and waits up to timeout for the exit; it returns
// the exit code and how long the exit took, or fails the test.
func (p *gkProc) terminate(timeout time.Duration) (int, time.Duration) {
	p.t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.kill9()
		p.t.Fatalf("gokeeper did not exit within %v of SIGTERM", timeout)
	}
	return p.cmd.ProcessState.ExitCode(), time.Since(start)
}

// gkNopLogger silences go-zookeeper.
type gkNopLogger struct{}

func (gkNopLogger) Printf(string, ...any) {}

// gkConnect opens a go-zookeeper session to addr (one address, or a
// connect string listing several) and waits until it has one.
func gkConnect(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, ev, err := zk.Connect(strings.Split(addr, ","), 10*time.Second, zk.WithLogger(gkNopLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for c.State() != zk.StateHasSession {
		select {
		case <-ev:
		case <-deadline:
			c.Close()
			t.Fatalf("no session with %s within 10s", addr)
		}
	}
	return c
}

// TestProcessCleanShutdown writes through go-zookeeper from several
// goroutines, sends SIGTERM while they write, and checks that the server
// exits 0 promptly, logs why, and after a restart serves every write that
// was acknowledged.
func TestProcessCleanShutdown(t *testing.T) {
	dataDir := t.TempDir()
	p := startGokeeper(t, dataDir, "snapCount=100")
	recoveredZnodes := func(p *gkProc) int {
		t.Helper()
		line, ok := p.waitLog(time.Second, func(m map[string]any) bool { return m["message"] == "recovered" })
		if !ok {
			t.Fatal("no recovered line in the log")
		}
		n, _ := gkLogEntry(line)["znodes"].(float64)
		return int(n)
	}
	before := recoveredZnodes(p)

	// A raw session with an ephemeral: a clean shutdown does not close
	// sessions, so after the restart it reconnects with its id and
	// password and the ephemeral is still there.
	raw, res, err := rawclient.Connect(p.Addr, rawclient.ConnectOptions{TimeoutMs: 30000}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sessionID, passwd := res.Response.SessionId, res.Response.Passwd
	if f, _, err := raw.Call(jute.OpCreate, &jute.CreateRequest{Path: "/clean-eph", Acl: jute.OpenACLUnsafe(), Flags: int32(jute.ModeEphemeral)}); err != nil || f.Err() != 0 {
		t.Fatalf("create /clean-eph: %v %v", err, f.Err())
	}

	c := gkConnect(t, p.Addr)
	acl := zk.WorldACL(zk.PermAll)
	if _, err := c.Create("/clean", []byte("root"), 0, acl); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/clean/ctr", []byte("0"), 0, acl); err != nil {
		t.Fatal(err)
	}
	// Four writers create nodes; one sets the counter. The main goroutine
	// sends SIGTERM once enough writes are acknowledged.
	type ack struct {
		path string
		data string
	}
	var (
		mu      sync.Mutex
		acked   []ack
		lastCtr = 0
	)
	enough := make(chan struct{})
	var enoughOnce sync.Once
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				path := fmt.Sprintf("/clean/w%d-%d", w, i)
				data := fmt.Sprintf("%d/%d", w, i)
				if _, err := c.Create(path, []byte(data), 0, acl); err != nil {
					return
				}
				mu.Lock()
				acked = append(acked, ack{path, data})
				if len(acked) >= 200 {
					enoughOnce.Do(func() { close(enough) })
				}
				mu.Unlock()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; ; i++ {
			if _, err := c.Set("/clean/ctr", []byte(strconv.Itoa(i)), int32(i-1)); err != nil {
				return
			}
			mu.Lock()
			lastCtr = i
			mu.Unlock()
		}
	}()
	select {
	case <-enough:
	case <-time.After(30 * time.Second):
		t.Fatal("200 creates were not acknowledged within 30s")
	}
	code, took := p.terminate(10 * time.Second)
	wg.Wait()
	c.Close()
	raw.Close()
	if code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
	if took > 5*time.Second {
		t.Errorf("exit took %v after SIGTERM, want under 5s", took)
	}
	if !p.hasLog(func(m map[string]any) bool { return m["message"] == "shutting down" && m["signal"] == "terminated" }) {
		t.Errorf("no shutdown line naming the signal in the log:\n%s", p.log.String())
	}
	t.Logf("SIGTERM after %d acknowledged creates and %d counter sets; exit %d in %v", len(acked), lastCtr, code, took)

	p2 := startGokeeper(t, dataDir, "snapCount=100")
	after := recoveredZnodes(p2)
	c2 := gkConnect(t, p2.Addr)
	defer c2.Close()
	children, _, err := c2.Children("/clean")
	if err != nil {
		t.Fatal(err)
	}
	// Every create that reached the server was acknowledged or in flight;
	// at most one per writer can be in flight.
	if n := len(children) - 1; n < len(acked) || n > len(acked)+4 {
		t.Errorf("/clean has %d created children after restart, want %d acknowledged (+ at most 4 in flight)", n, len(acked))
	}
	if want := before + len(children) + 2; after != want {
		t.Errorf("recovered line says %d znodes, want %d (%d before + /clean-eph, /clean and its %d children)", after, want, before, len(children))
	}
	raw2, res2, err := rawclient.Connect(p2.Addr, rawclient.ConnectOptions{TimeoutMs: 30000, SessionID: sessionID, Passwd: passwd}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw2.Close()
	if res2.Response.SessionId != sessionID || res2.Response.TimeOut <= 0 {
		t.Errorf("session 0x%x not restored after a clean shutdown: %+v", sessionID, res2.Response)
	}
	_, st, err := c2.Exists("/clean-eph")
	if err != nil || st == nil || st.EphemeralOwner != sessionID {
		t.Errorf("/clean-eph after restart: stat %+v, %v; want an ephemeral of 0x%x", st, err, sessionID)
	}
	for _, a := range acked {
		data, _, err := c2.Get(a.path)
		if err != nil {
			t.Errorf("acknowledged %s: %v after restart", a.path, err)
			continue
		}
		if string(data) != a.data {
			t.Errorf("%s = %q after restart, want %q", a.path, data, a.data)
		}
	}
	data, st, err := c2.Get("/clean/ctr")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := strconv.Atoi(string(data))
	if v < lastCtr || v > lastCtr+1 || int(st.Version) != v {
		t.Errorf("/clean/ctr = %q version %d after restart; last acknowledged set was %d", data, st.Version, lastCtr)
	}
}

// TestProcessBadConfig checks that a zoo.cfg gokeeper cannot serve stops
// the start with a non-zero exit and a message naming the key (or the
// file) at fault, before anything listens.
func TestProcessBadConfig(t *testing.T) {
	bin := gokeeperBinary(t)
	good := func(dataDir string) []string {
		return []string{"tickTime=2000", "dataDir=" + dataDir, "clientPort=2181", "clientPortAddress=127.0.0.1"}
	}
	cases := []struct {
		name string
		// lines builds the zoo.cfg from a fresh data dir; nil means the
		// config file does not exist.
		lines func(dataDir string) []string
		want  []string
	}{
		{"tickTime not a number", func(d string) []string { return append(good(d), "tickTime=2s") }, []string{"tickTime", `"2s"`}},
		{"clientPort out of range", func(d string) []string { return append(good(d), "clientPort=99999") }, []string{"clientPort", "99999"}},
		{"forceSync not yes or no", func(d string) []string { return append(good(d), "forceSync=true") }, []string{"forceSync", "yes or no"}},
		{"no dataDir", func(d string) []string { return good(d)[0:1] }, []string{"dataDir"}},
		{"session timeouts crossed", func(d string) []string {
			return append(good(d), "minSessionTimeout=9000", "maxSessionTimeout=5000")
		}, []string{"minSessionTimeout", "maxSessionTimeout"}},
		{"maxClientCnxns negative", func(d string) []string { return append(good(d), "maxClientCnxns=-1") }, []string{"maxClientCnxns"}},
		{"unterminated unicode escape", func(d string) []string { return append(good(d), `dataLogDir=/tmp/\u12`) }, []string{"line 5", `\uxxxx`}},
		{"missing config file", nil, []string{"no such file"}},
		{"ensemble without initLimit", func(d string) []string {
			writeMyid(t, d, 1)
			return append(good(d), "syncLimit=2", "server.1=127.0.0.1:2888:3888", "server.2=127.0.0.1:2889:3889", "server.3=127.0.0.1:2890:3890")
		}, []string{"initLimit"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfgPath := filepath.Join(dir, "zoo.cfg")
			if tc.lines != nil {
				text := strings.Join(tc.lines(filepath.Join(dir, "data")), "\n") + "\n"
				if err := os.WriteFile(cfgPath, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "serve", "--config", cfgPath)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() <= 0 {
				t.Fatalf("exit = %v, want a non-zero exit code; output:\n%s", err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output does not mention %q:\n%s", w, out)
				}
			}
			if strings.Contains(string(out), "serving clients") {
				t.Errorf("server started serving despite the bad config:\n%s", out)
			}
		})
	}
	t.Run("client port taken", func(t *testing.T) {
		holder := startGokeeper(t, t.TempDir())
		_, port, _ := strings.Cut(holder.Addr, ":")
		dir := t.TempDir()
		cfgPath := filepath.Join(dir, "zoo.cfg")
		n, _ := strconv.Atoi(port)
		if err := os.WriteFile(cfgPath, []byte(gkZooCfg(filepath.Join(dir, "data"), n)), 0o644); err != nil {
			t.Fatal(err)
		}
		p := spawnGokeeper(t, cfgPath)
		select {
		case <-p.done:
		case <-time.After(gkStartTimeout):
			t.Fatalf("second server on %s did not exit", holder.Addr)
		}
		if code := p.cmd.ProcessState.ExitCode(); code <= 0 {
			t.Errorf("exit code = %d, want non-zero", code)
		}
		if out := p.log.String(); !strings.Contains(out, "client port") || !strings.Contains(out, "address already in use") {
			t.Errorf("output does not say the client port is in use:\n%s", out)
		}
		// The first server still serves.
		if got := fourLetterWordT(t, holder.Addr, "ruok"); got != "imok" {
			t.Errorf("ruok on the first server = %q, want imok", got)
		}
	})
}

// writeMyid writes id to dataDir/myid, creating dataDir.
func writeMyid(t *testing.T, dataDir string, id int) {
	t.Helper()
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "myid"), []byte(strconv.Itoa(id)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fourLetterWordT sends a four-letter word to addr and returns the answer.
func fourLetterWordT(t *testing.T, addr, word string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte(word)); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestProcessSIGINT checks that Ctrl-C (SIGINT) shuts down as cleanly as
// SIGTERM and keeps what was written.
func TestProcessSIGINT(t *testing.T) {
	dataDir := t.TempDir()
	p := startGokeeper(t, dataDir)
	c := gkConnect(t, p.Addr)
	if _, err := c.Create("/int", []byte("kept"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("gokeeper did not exit within 10s of SIGINT")
	}
	c.Close()
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code after SIGINT = %d, want 0", code)
	}
	if !p.hasLog(func(m map[string]any) bool { return m["message"] == "shutting down" && m["signal"] == "interrupt" }) {
		t.Errorf("no shutdown line naming the signal in the log:\n%s", p.log.String())
	}
	p2 := startGokeeper(t, dataDir)
	c2 := gkConnect(t, p2.Addr)
	defer c2.Close()
	if data, _, err := c2.Get("/int"); err != nil || string(data) != "kept" {
		t.Errorf("/int after restart = %q, %v; want kept", data, err)
	}
}

// TestProcessSessionExpiresAfterCrash checks the other side of session
// restoration: a session that does not come back after a kill -9 is
// restored with its ephemeral, then expires a session timeout after the
// restart, its ephemeral goes (with a watch event), and its id and
// password no longer reconnect.
func TestProcessSessionExpiresAfterCrash(t *testing.T) {
	dataDir := t.TempDir()
	// tickTime=200 allows session timeouts of 400ms to 4s.
	p := startGokeeper(t, dataDir, "tickTime=200")
	raw, res, err := rawclient.Connect(p.Addr, rawclient.ConnectOptions{TimeoutMs: 2000}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	sessionID, passwd := res.Response.SessionId, res.Response.Passwd
	if res.Response.TimeOut != 2000 {
		t.Fatalf("negotiated timeout %d, want 2000", res.Response.TimeOut)
	}
	if f, _, err := raw.Call(jute.OpCreate, &jute.CreateRequest{Path: "/gone", Acl: jute.OpenACLUnsafe(), Flags: int32(jute.ModeEphemeral)}); err != nil || f.Err() != 0 {
		t.Fatalf("create /gone: %v %v", err, f.Err())
	}
	p.kill9()
	raw.Close()

	p2 := startGokeeper(t, dataDir, "tickTime=200")
	restarted := time.Now()
	c := gkConnect(t, p2.Addr)
	defer c.Close()
	ok, st, ev, err := c.ExistsW("/gone")
	if err != nil {
		t.Fatal(err)
	}
	if !ok || st.EphemeralOwner != sessionID {
		t.Fatalf("right after the restart /gone exists=%v owner=0x%x; want the ephemeral of 0x%x, restored", ok, st.EphemeralOwner, sessionID)
	}
	select {
	case e := <-ev:
		if e.Type != zk.EventNodeDeleted {
			t.Fatalf("watch event %+v, want NodeDeleted", e)
		}
		t.Logf("session 0x%x expired %v after the restart (timeout 2s)", sessionID, time.Since(restarted).Round(time.Millisecond))
	case <-time.After(20 * time.Second):
		t.Fatal("the ephemeral of a session that never came back was still there 20s after the restart")
	}
	raw2, res2, err := rawclient.Connect(p2.Addr, rawclient.ConnectOptions{TimeoutMs: 2000, SessionID: sessionID, Passwd: passwd}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw2.Close()
	if res2.Response.TimeOut != 0 {
		t.Errorf("expired session 0x%x reconnected: %+v", sessionID, res2.Response)
	}
	if _, closed := raw2.WaitClosed(10 * time.Second); !closed {
		t.Error("the server kept the connection of an expired session open")
	}
}

// gkSnapshotFiles lists the snapshot.<zxid> files under dir.
func gkSnapshotFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), "snapshot.") {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestProcessAutopurge checks autopurge as ZooKeeper does it: with
// autopurge.purgeInterval set (hours), DatadirCleanupManager runs a
// purge at once at startup and then every interval, keeping the newest
// autopurge.snapRetainCount snapshots; nothing served is lost.
func TestProcessAutopurge(t *testing.T) {
	dataDir := t.TempDir()
	p := startGokeeper(t, dataDir, "snapCount=2")
	c := gkConnect(t, p.Addr)
	acl := zk.WorldACL(zk.PermAll)
	if _, err := c.Create("/purge", nil, 0, acl); err != nil {
		t.Fatal(err)
	}
	const nodes = 40
	for i := 0; i < nodes; i++ {
		if _, err := c.Create(fmt.Sprintf("/purge/n%02d", i), []byte{byte(i)}, 0, acl); err != nil {
			t.Fatal(err)
		}
	}
	// NB: a snapshot also waits for as many bytes logged as the last one
	// holds; 8 KB writes to a small tree pass that at every other txn.
	const sets = 10
	for i := 0; i < sets; i++ {
		if _, err := c.Set("/purge", bytes.Repeat([]byte{byte(i)}, 8<<10), -1); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	if code, _ := p.terminate(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	before := gkSnapshotFiles(t, dataDir)
	if len(before) <= 3 {
		t.Fatalf("only %d snapshots after %d txns with snapCount=2; the test needs more than 3", len(before), nodes+sets+1)
	}

	p2 := startGokeeper(t, dataDir, "snapCount=100000", "autopurge.snapRetainCount=3", "autopurge.purgeInterval=1")
	if _, ok := p2.waitLog(5*time.Second, func(m map[string]any) bool {
		return m["message"] == "persistence: purged snapshots and txn log before zxid"
	}); !ok {
		// NB: server.Server never calls persistence.Store.Purge; the
		// autopurge keys are parsed and validated but not acted on.
		t.Errorf("no purge within 5s of a start with autopurge.purgeInterval=1 and %d snapshots (ZooKeeper purges at startup, then every interval)", len(before))
	}
	if after := gkSnapshotFiles(t, dataDir); len(after) != 3 {
		t.Errorf("%d snapshot files after autopurge with snapRetainCount=3 (were %d)", len(after), len(before))
	}
	c2 := gkConnect(t, p2.Addr)
	defer c2.Close()
	children, _, err := c2.Children("/purge")
	if err != nil || len(children) != nodes {
		t.Errorf("/purge has %d children after the purge (%v), want %d", len(children), err, nodes)
	}
}
