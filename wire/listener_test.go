package wire_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/admin"
	"github.com/gokeeper/gokeeper/compat-tests/rawclient"
	"github.com/gokeeper/gokeeper/jute"
	"github.com/gokeeper/gokeeper/server"
	"github.com/gokeeper/gokeeper/wire"
	"github.com/gokeeper/gokeeper/wire/wiretest"
)

// acceptChildEnv makes the test binary run acceptChild instead of the test.
const acceptChildEnv = "GOKEEPER_TEST_ACCEPT_CHILD"

// TestAcceptErrorsKeepServing: a client port that runs out of file
// descriptors (EMFILE on accept) keeps accepting once descriptors are
// free again, and counts the refusals in zk_connection_rejected. The
// server runs in a child process with a low RLIMIT_NOFILE, so that the
// test's own descriptors are not limited.
func TestAcceptErrorsKeepServing(t *testing.T) {
	if os.Getenv(acceptChildEnv) != "" {
		acceptChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcceptErrorsKeepServing$")
	cmd.Env = append(os.Environ(), acceptChildEnv+"=1")
	cmd.Dir = t.TempDir()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	t.Cleanup(func() {
		stdin.Close() // the child exits when its stdin closes
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	})
	out := bufio.NewScanner(stdout)
	if !out.Scan() || !strings.HasPrefix(out.Text(), "addr ") {
		t.Fatalf("child did not report its address: %q", out.Text())
	}
	addr := strings.TrimPrefix(out.Text(), "addr ")
	rest := make(chan string, 1)
	go func() { b, _ := io.ReadAll(stdout); rest <- string(b) }()
	acceptErr := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			if !signalled && strings.Contains(sc.Text(), "error accepting a connection") {
				close(acceptErr)
				signalled = true
			}
		}
	}()
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	stopped := func() {
		t.Helper()
		t.Fatalf("the server stopped serving after an accept error (%v): %s", waitErr, <-rest)
	}

	// More connections than the child has descriptors for.
	var conns []net.Conn
	for range 50 {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			select {
			case <-exited:
				stopped()
			case <-time.After(5 * time.Second):
				t.Fatal(err)
			}
		}
		conns = append(conns, c)
	}
	select {
	case <-acceptErr:
	case <-exited:
		stopped()
	case <-time.After(10 * time.Second):
		t.Fatal("the child never ran out of descriptors")
	}
	for _, c := range conns {
		c.Close()
	}

	zc, ev, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogger(nopLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	defer zc.Close()
	deadline := time.After(10 * time.Second)
	for zc.State() != zk.StateHasSession {
		select {
		case <-ev:
		case <-exited:
			stopped()
		case <-deadline:
			t.Fatal("no session after the descriptors were freed")
		}
	}
	if _, err := zc.Create("/after", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create after the accept errors: %v", err)
	}
	var rejected int64 = -1
	for _, l := range strings.Split(wiretest.FourLetter(t, addr, "mntr"), "\n") {
		if v, ok := strings.CutPrefix(l, "zk_connection_rejected\t"); ok {
			rejected, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if rejected < 1 {
		t.Fatalf("zk_connection_rejected = %d, want the accept errors counted", rejected)
	}
}

// acceptChild serves a client port under a file-descriptor limit a few
// above what it holds once started, prints "addr host:port", and exits
// when its stdin closes or, with status 3, if Serve returns.
func acceptChild(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.DataDir = "data"
	cfg.ClientPort = 2181
	cfg.ForceSync = false
	cfg.FourLetterWordsWhitelist = "*"
	cfg.MaxClientCnxns = 0
	log := zerolog.New(os.Stderr).Level(zerolog.WarnLevel)
	srv, err := server.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	wo := wire.DefaultOptions()
	wo.Logger = log
	wo.MaxClientCnxns = 0
	ln, err := wire.Listen("127.0.0.1:0", srv, wo)
	if err != nil {
		t.Fatal(err)
	}
	ln.SetFourLetter(admin.NewFourLetter(srv, ln).Answer)
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = uint64(len(fds) + 8)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("addr %s\n", ln.Addr())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	err = ln.Serve()
	fmt.Printf("serve returned: %v\n", err)
	os.Exit(3)
}

// TestConnectionLimitTotal: connections past maxCnxns, from any address,
// are closed at once and counted as rejected; the earlier ones keep
// working.
func TestConnectionLimitTotal(t *testing.T) {
	ts := startServerOpts(t, t.TempDir(), nil, func(o *wire.Options) { o.MaxClientCnxns = 0; o.MaxCnxns = 2 })
	var keep []*rawclient.Client
	for range 2 {
		keep = append(keep, rawConnect(t, ts.Addr, rawclient.ConnectOptions{TimeoutMs: 4000}))
	}
	extra, err := rawclient.Dial(ts.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	if _, err := extra.Handshake(rawclient.ConnectOptions{TimeoutMs: 4000}); err == nil {
		t.Fatal("third connection was served; maxCnxns is 2")
	}
	for _, rc := range keep {
		if f := mustCall(t, rc, jute.OpExists, &jute.ExistsRequest{Path: "/"}); f.Err() != jute.CodeOK {
			t.Fatal(f.Err())
		}
	}
	if n := ts.Listener.Stats().ConnectionRejected.Get(); n != 1 {
		t.Fatalf("connection_rejected = %d, want 1", n)
	}
}
