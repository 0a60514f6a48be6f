package main

// Real ZooKeeper clients against the gokeeper binary: the Java zkCli.sh
// (Debian package zookeeper) runs the scenario in
// testdata/process/zkcli.txt, kazoo (python3-kazoo) runs
// testdata/process/kazoo_recipes.py (lock, election, barrier, counter,
// queue and watcher recipes), and the C client cli_mt (zookeeper-bin)
// creates, reads and watches a node. Every check is a subtest, which
// `make compat` counts. Each skips with a message when its client is not
// installed. -realclients.target=ensemble runs them against a
// three-member ensemble instead of one server (make compat runs both).
// TestZkCliReference runs the zkCli.sh scenario against Apache ZooKeeper
// 3.8, to show the expectations are ZooKeeper's.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gokeeper/gokeeper/compat-tests/harness"
)

const (
	zkCliPath = "/usr/share/zookeeper/bin/zkCli.sh"
	cliMtPath = "/usr/lib/zookeeper/bin/cli_mt"
	// zkClientTimeout bounds one client process.
	zkClientTimeout = 60 * time.Second
)

// realClientsTarget is what TestZkCli, TestKazooRecipes and TestCliMt
// run against.
var realClientsTarget = flag.String("realclients.target", "standalone",
	"what the real-client tests run against: standalone (one gokeeper) or ensemble (three members, the clients given all three)")

// startRealClientsTarget starts the gokeeper the real clients connect to
// and returns the connect string they get: one server's address, or
// every member's of a three-member ensemble, as users write it (each
// client picks a member and moves on when it fails). The ensemble has the
// standalone server's tickTime and snapshot settings, so session timeouts
// negotiate alike.
func startRealClientsTarget(t *testing.T) string {
	t.Helper()
	switch *realClientsTarget {
	case "standalone":
		return startGokeeper(t, t.TempDir()).Addr
	case "ensemble":
		e := startMixedEnsemble(t, 3, 0, nil, []string{"tickTime=2000", "snapCount=100000", "snapSizeLimitInKb=4194304"})
		e.leader()
		t.Logf("a three-member ensemble: %s", strings.Join(e.addrs, ","))
		return strings.Join(e.addrs, ",")
	}
	t.Fatalf("-realclients.target=%q: want standalone or ensemble", *realClientsTarget)
	return ""
}

// zkCliStep is one zkCli.sh process of a scenario file.
type zkCliStep struct {
	// session is true for commands typed on stdin, false for one command
	// given on the command line (args).
	session bool
	name    string
	args    []string
	cmds    []string
	// want holds substrings the output must contain, in order.
	want []string
	line int
}

// parseZkCliScenario reads the format described at the top of
// testdata/process/zkcli.txt.
func parseZkCliScenario(text string) ([]zkCliStep, error) {
	var steps []zkCliStep
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimRight(raw, " \t\r")
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "== session "):
			steps = append(steps, zkCliStep{session: true, name: strings.TrimPrefix(line, "== session "), line: i + 1})
		case strings.HasPrefix(line, "== command "):
			args := strings.Fields(strings.TrimPrefix(line, "== command "))
			steps = append(steps, zkCliStep{name: strings.Join(args, " "), args: args, line: i + 1})
		case len(steps) == 0:
			return nil, fmt.Errorf("line %d: %q before the first == line", i+1, line)
		case strings.HasPrefix(line, "> "):
			s := &steps[len(steps)-1]
			if !s.session {
				return nil, fmt.Errorf("line %d: a typed command in a == command step", i+1)
			}
			s.cmds = append(s.cmds, strings.TrimPrefix(line, "> "))
		default:
			s := &steps[len(steps)-1]
			s.want = append(s.want, line)
		}
	}
	return steps, nil
}

// missingInOrder returns the first of want that out does not contain
// after the ones before it, and whether there is one.
func missingInOrder(out string, want []string) (string, bool) {
	rest := out
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			return w, true
		}
		rest = rest[i+len(w):]
	}
	return "", false
}

// zkCliAvailable skips the test when java or zkCli.sh is absent.
func zkCliAvailable(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("java"); err != nil {
		t.Skip("java not installed: skipping the Java client test (apt-get install zookeeper)")
	}
	if _, err := os.Stat(zkCliPath); err != nil {
		t.Skipf("%s missing: skipping the Java client test (apt-get install zookeeper)", zkCliPath)
	}
}

// runZkCli runs one scenario step against addr and returns its output.
func runZkCli(t *testing.T, addr string, s zkCliStep) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), zkClientTimeout)
	defer cancel()
	args := append([]string{"-server", addr}, s.args...)
	cmd := exec.CommandContext(ctx, zkCliPath, args...)
	cmd.Env = append(os.Environ(), "ZOO_LOG4J_PROP=ERROR,CONSOLE", "JVMFLAGS=-Xmx128m -Xshare:auto -XX:TieredStopAtLevel=1")
	if s.session {
		cmd.Stdin = strings.NewReader(strings.Join(s.cmds, "\n") + "\nquit\n")
	}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("zkCli.sh (%s, line %d) did not finish within %v:\n%s", s.name, s.line, zkClientTimeout, out)
	}
	// NB: zkCli.sh exits 1 when its last command met a ZooKeeper error;
	// the printed outcomes are what the scenario checks.
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("zkCli.sh: %v", err)
	}
	return string(out)
}

// runZkCliScenario runs every step of the scenario file against addr.
func runZkCliScenario(t *testing.T, addr string) {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("testdata", "process", "zkcli.txt"))
	if err != nil {
		t.Fatal(err)
	}
	steps, err := parseZkCliScenario(string(text))
	if err != nil {
		t.Fatal(err)
	}
	// Each step is a subtest (steps build on each other, so they run in
	// order), named without slashes so -run and check counts see one level.
	for _, s := range steps {
		kind := "command "
		if s.session {
			kind = "session "
		}
		t.Run(strings.ReplaceAll(kind+s.name, "/", ""), func(t *testing.T) {
			out := runZkCli(t, addr, s)
			if w, missing := missingInOrder(out, s.want); missing {
				t.Errorf("zkcli.txt:%d (%s): output lacks %q (after the lines before it):\n%s", s.line, s.name, w, out)
			}
		})
	}
}

// TestZkCli drives the Java command-line client against gokeeper.
func TestZkCli(t *testing.T) {
	zkCliAvailable(t)
	runZkCliScenario(t, startRealClientsTarget(t))
}

// TestZkCliReference runs the zkCli.sh scenario against Apache ZooKeeper
// 3.8, so its expectations are known to be ZooKeeper's. It runs whenever
// ZooKeeper is installed (make test in CI), and says why it is skipped
// when it is not.
func TestZkCliReference(t *testing.T) {
	zkCliAvailable(t)
	if err := harness.ZooKeeperInstalled(); err != nil {
		t.Skipf("no comparison with ZooKeeper: %v", err)
	}
	runZkCliScenario(t, harness.StartZooKeeperT(t, harness.DefaultSettings()).Addr)
}

// kazooChecks lists, for each recipe of testdata/process/kazoo_recipes.py,
// the "ok ..." lines it prints once each outcome is verified.
var kazooChecks = []struct {
	recipe string
	checks []string
}{
	{"lock", []string{"lock handover", "lock mutual exclusion"}},
	{"election", []string{"election one leader", "election takeover", "election order"}},
	{"barrier", []string{"barrier release", "double barrier"}},
	{"counter", []string{"counter sum"}},
	{"queue", []string{"queue order", "locking queue exactly once"}},
	{"watch", []string{"datawatch", "childrenwatch", "ephemeral cleanup"}},
}

// TestKazooRecipes runs kazoo's lock, election, barrier, counter, queue
// and watcher recipes against one gokeeper, one python process (and one
// subtest) per recipe, all at once. Each script checks the outcome
// (mutual exclusion, one leader then the next, waiters released, no lost
// increment, every item once and in order, every change seen) and the
// subtest fails unless it printed every "ok" line it owes.
func TestKazooRecipes(t *testing.T) {
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skip("/usr/bin/python3 missing: skipping the kazoo test (apt-get install python3-kazoo)")
	}
	if err := exec.Command(python, "-c", "import kazoo").Run(); err != nil {
		t.Skip("kazoo not importable by /usr/bin/python3: skipping (apt-get install python3-kazoo)")
	}
	script, err := filepath.Abs(filepath.Join("testdata", "process", "kazoo_recipes.py"))
	if err != nil {
		t.Fatal(err)
	}
	hosts := startRealClientsTarget(t)
	for _, kc := range kazooChecks {
		t.Run(kc.recipe, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), zkClientTimeout)
			defer cancel()
			out, err := exec.CommandContext(ctx, python, script, hosts, kc.recipe).CombinedOutput()
			if ctx.Err() != nil {
				t.Fatalf("kazoo %s recipe did not finish within %v:\n%s", kc.recipe, zkClientTimeout, out)
			}
			if err != nil {
				t.Errorf("kazoo %s recipe: %v\n%s", kc.recipe, err, out)
			}
			// One subtest per check, so each outcome is counted.
			lines := strings.Split(string(out), "\n")
			for _, c := range kc.checks {
				t.Run(c, func(t *testing.T) {
					if !slices.Contains(lines, "ok "+c) {
						t.Errorf("kazoo %s recipe did not report %q", kc.recipe, "ok "+c)
					}
				})
			}
			if t.Failed() && err == nil {
				t.Logf("kazoo %s recipe output:\n%s", kc.recipe, out)
			}
		})
	}
}

// TestCliMt has the C client (cli_mt; Debian's zookeeper-bin ships no
// cli_st) create a node, read it, see its data watch fire on a change and
// get NoNode for a missing one; a Go client then reads the node back.
func TestCliMt(t *testing.T) {
	if _, err := os.Stat(cliMtPath); err != nil {
		t.Skipf("%s missing: skipping the C client test (apt-get install zookeeper-bin)", cliMtPath)
	}
	hosts := startRealClientsTarget(t)
	cmd := exec.Command(cliMtPath, hosts)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := newLineLog()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	defer func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("cli_mt output:\n%s", out.String())
		}
	}()
	// waitOut waits for a line after the first from that match accepts.
	waitOut := func(t *testing.T, from int, what string, match func(string) bool) {
		t.Helper()
		deadline := time.NewTimer(zkClientTimeout)
		defer deadline.Stop()
		for {
			lines, wake := out.snapshot()
			for _, l := range lines[min(from, len(lines)):] {
				if match(l) {
					return
				}
			}
			select {
			case <-wake:
			case <-done:
				t.Fatalf("cli_mt exited before %s", what)
			case <-deadline.C:
				t.Fatalf("no %s from cli_mt within %v", what, zkClientTimeout)
			}
		}
	}
	// send types a command and returns how many lines were printed before.
	send := func(t *testing.T, line string) int {
		t.Helper()
		lines, _ := out.snapshot()
		if _, err := io.WriteString(stdin, line+"\n"); err != nil {
			t.Fatalf("writing %q to cli_mt: %v", line, err)
		}
		return len(lines)
	}
	has := func(s string) func(string) bool { return func(l string) bool { return strings.Contains(l, s) } }
	// Each check is a subtest; they share the one cli_mt session, so they
	// run in order and the first that fails stops the rest.
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		// cli_mt reads commands only once connected.
		{"session", func(t *testing.T) { waitOut(t, 0, "session", has("Got a new session id")) }},
		// Its create writes the data "new"; its get leaves a watch.
		{"create", func(t *testing.T) { waitOut(t, send(t, "create /cst"), "create reply", has("[/cst]: rc = 0")) }},
		{"get", func(t *testing.T) {
			from := send(t, "get /cst")
			waitOut(t, from, "get reply", has("/cst: rc = 0"))
			waitOut(t, from, "the data", func(l string) bool { return l == "new" })
		}},
		{"data watch", func(t *testing.T) {
			from := send(t, "set /cst hello-c")
			waitOut(t, from, "data watch event", has("Watcher CHANGED_EVENT state = CONNECTED_STATE for path /cst"))
		}},
		{"get after set", func(t *testing.T) {
			waitOut(t, send(t, "get /cst"), "the new data", func(l string) bool { return l == "hello-c" })
		}},
		{"no node", func(t *testing.T) {
			waitOut(t, send(t, "get /cst-missing"), "NoNode for a missing node", has("/cst-missing: rc = -101"))
		}},
		{"quit", func(t *testing.T) {
			send(t, "quit")
			select {
			case <-done:
			case <-time.After(zkClientTimeout):
				t.Fatal("cli_mt did not exit after quit")
			}
			lines, _ := out.snapshot()
			for _, l := range lines {
				if strings.Contains(l, "rc = -") && !strings.Contains(l, "/cst-missing: rc = -101") {
					t.Errorf("unexpected error from cli_mt: %s", l)
				}
			}
		}},
		// The node is really there: read it through a second, Go client
		// (after a sync: on an ensemble it may talk to another member).
		{"go client reads", func(t *testing.T) {
			c := gkConnect(t, hosts)
			defer c.Close()
			if _, err := c.Sync("/cst"); err != nil {
				t.Errorf("sync /cst: %v", err)
			}
			data, _, err := c.Get("/cst")
			if err != nil || string(data) != "hello-c" {
				t.Errorf("/cst = %q, %v; want hello-c", data, err)
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			break
		}
	}
}

// TestZkCliScenarioFormat checks the scenario parser and the in-order
// matcher the zkCli.sh tests rely on.
func TestZkCliScenarioFormat(t *testing.T) {
	steps, err := parseZkCliScenario("# c\n== session a\n> create /x 1\nCreated /x\n\n== command get /x\n1\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 2 || !steps[0].session || steps[0].name != "a" || len(steps[0].cmds) != 1 || steps[0].want[0] != "Created /x" ||
		steps[1].session || strings.Join(steps[1].args, " ") != "get /x" || steps[1].line != 6 || steps[1].want[0] != "1" {
		t.Errorf("parsed %+v", steps)
	}
	for _, bad := range []string{"> ls /\n", "Created /x\n", "== command ls /\n> ls /\n"} {
		if _, err := parseZkCliScenario(bad); err == nil {
			t.Errorf("parseZkCliScenario(%q) = nil error", bad)
		}
	}
	cases := []struct {
		out     string
		want    []string
		missing string
	}{
		{"a\nb\nc\n", []string{"a", "c"}, ""},
		{"a\nb\nc\n", []string{"c", "a"}, "a"},
		{"abc", []string{"abc", "c"}, "c"},
		{"", nil, ""},
	}
	for _, tc := range cases {
		w, missing := missingInOrder(tc.out, tc.want)
		if missing != (tc.missing != "") || w != tc.missing {
			t.Errorf("missingInOrder(%q, %q) = %q, %v; want %q", tc.out, tc.want, w, missing, tc.missing)
		}
	}
}
