package main

import (
	"context"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runKazooSuite runs kazoo's own test class module.class (from the test
// suite Debian's python3-kazoo ships) unchanged against e
// (testdata/process/kazoo_suite.py points kazoo's harness at it), and
// requires each of tests to have run and passed. A test that stops or
// runs a server of kazoo's cluster kills member i with SIGKILL or starts
// it again: the script asks this goroutine over a loopback HTTP server.
func runKazooSuite(t *testing.T, e *gkEnsemble, module, class string, tests ...string) {
	t.Helper()
	out, err := kazooSuite(t, e, module, class)
	if err != nil {
		t.Fatalf("kazoo's %s: %v\n%s", class, err, out)
	}
	// NB: the script exits 0 only if every test ran and passed.
	for _, name := range tests {
		if !strings.Contains(out, class+"."+name+")") {
			t.Errorf("kazoo's %s did not run:\n%s", name, out)
		}
	}
}

// kazooSuite runs kazoo's module.class against e as runKazooSuite does
// and returns its output, and an error if a test failed.
func kazooSuite(t *testing.T, e *gkEnsemble, module, class string) (string, error) {
	t.Helper()
	python := "/usr/bin/python3"
	probe := "import kazoo.tests, os; assert os.path.exists(os.path.join(os.path.dirname(kazoo.tests.__file__), 'test_client.py'))"
	if err := exec.Command(python, "-c", probe).Run(); err != nil {
		t.Skip("kazoo's tests missing for /usr/bin/python3: skipping (apt-get install python3-kazoo)")
	}
	script, err := filepath.Abs(filepath.Join("testdata", "process", "kazoo_suite.py"))
	if err != nil {
		t.Fatal(err)
	}
	type control struct {
		op   string
		i    int
		done chan struct{}
	}
	reqs := make(chan control)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(r.URL.Query().Get("i"))
		op := strings.TrimPrefix(r.URL.Path, "/")
		if err != nil || i < 0 || i >= len(e.procs) || (op != "stop" && op != "run") {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		c := control{op, i, make(chan struct{})}
		reqs <- c
		<-c.done
	})}
	go srv.Serve(ln)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, script, strings.Join(e.addrs, ","), "http://"+ln.Addr().String(), module, class)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for {
		select {
		case c := <-reqs:
			// NB: here, on the test's goroutine, which may fail the test.
			if c.op == "stop" {
				e.procs[c.i].kill9()
			} else {
				e.start(c.i)
			}
			close(c.done)
			continue
		case err = <-exited:
		}
		break
	}
	return out.String(), err
}

// TestKazooReadOnly runs kazoo's own TestReadOnlyMode against three
// gokeeper members and three Apache ZooKeeper 3.8 members, both with
// readonlymode.enabled, and requires the same outcome. It fails on both:
// with two members stopped, the client's session, a global one made in
// read-write mode, is refused by the read-only member ("Refusing global
// session reconnection in RO mode" in ZooKeeper 3.5+; kazoo's test dates
// from 3.4), so the client never reaches CONNECTED_RO.
func TestKazooReadOnly(t *testing.T) {
	requireZooKeeper(t)
	results := map[bool]string{}
	for _, zkMembers := range [][]int{nil, {0, 1, 2}} {
		e := startMixedEnsemble(t, 3, 0, zkMembers, nil, "SERVER_JVMFLAGS=-Dreadonlymode.enabled=true")
		e.leader()
		out, err := kazooSuite(t, e, "kazoo.tests.test_connection", "TestReadOnlyMode")
		if !strings.Contains(out, "TestReadOnlyMode.test_read_only)") {
			t.Fatalf("kazoo's test_read_only did not run:\n%s", out)
		}
		// The outcome: passed, or the line of the assertion that failed.
		outcome := "passed"
		if err != nil {
			outcome = "failed"
			const at = "test_connection.py\", line "
			if i := strings.Index(out, at); i >= 0 {
				line, _, _ := strings.Cut(out[i+len(at):], ",")
				outcome = "failed at test_connection.py:" + line
			}
		}
		results[zkMembers != nil] = outcome
		for _, p := range e.procs {
			p.kill9()
		}
	}
	if results[false] != results[true] {
		t.Errorf("kazoo's TestReadOnlyMode: %s against gokeeper, %s against Apache ZooKeeper 3.8", results[false], results[true])
	}
	t.Logf("kazoo's TestReadOnlyMode: %s against both", results[false])
}
