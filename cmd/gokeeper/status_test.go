package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gokeeper/gokeeper/internal/loopport"
	"github.com/gokeeper/gokeeper/server"
)

// freePort returns a loopback port for a server the test starts
// (internal/loopport: below the ephemeral range, never handed out twice).
func freePort(t *testing.T) int {
	t.Helper()
	p, err := loopport.Free()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeServer answers every connection with reply after reading the
// four-letter word, and records the words it received.
func fakeServer(t *testing.T, reply string) (port int, words chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	words = make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4)
			if _, err := io.ReadFull(c, buf); err == nil {
				words <- string(buf)
				io.WriteString(c, reply)
			}
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, words
}

func statusConfig(port int) server.Config {
	c := server.DefaultConfig()
	c.DataDir = "/nonexistent"
	c.ClientPort = port
	c.ClientPortAddress = "127.0.0.1"
	return c
}

func TestStatusClosedPort(t *testing.T) {
	port := freePort(t)
	var out bytes.Buffer
	code := status(statusConfig(port), &out, 2*time.Second)
	want := fmt.Sprintf("Client port found: %d. Client address: 127.0.0.1. Client SSL: false.\n"+
		"Error contacting service. It is probably not running.\n", port)
	if code != 1 || out.String() != want {
		t.Errorf("status = %d, %q; want 1, %q", code, out.String(), want)
	}
}

func TestStatusFakeServer(t *testing.T) {
	for _, tc := range []struct {
		name, reply, want string
		code              int
	}{
		{"follower", "Zookeeper version: 3.9.2\nLatency min/avg/max: 0/0.0/0\nMode: follower\nNode count: 5\n", "Mode: follower\n", 0},
		{"observer", "Mode:   observer\n", "Mode: observer\n", 0},
		{"srvr refused", "srvr is not executed because it is not in the whitelist.\n", "Error contacting service. It is probably not running.\n", 1},
		{"empty answer", "", "Error contacting service. It is probably not running.\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port, words := fakeServer(t, tc.reply)
			var out bytes.Buffer
			code := status(statusConfig(port), &out, 5*time.Second)
			if w := <-words; w != "srvr" {
				t.Errorf("server received %q, want srvr", w)
			}
			lines := strings.SplitAfterN(out.String(), "\n", 2)
			if code != tc.code || len(lines) != 2 || lines[1] != tc.want ||
				lines[0] != fmt.Sprintf("Client port found: %d. Client address: 127.0.0.1. Client SSL: false.\n", port) {
				t.Errorf("status = %d, %q; want %d and %q", code, out.String(), tc.code, tc.want)
			}
		})
	}
}

func TestStatusNoClientPort(t *testing.T) {
	c := server.DefaultConfig()
	c.DataDir = "/nonexistent"
	var out bytes.Buffer
	if code := Status(c, &out); code != 1 || !strings.Contains(out.String(), "Unable to find either secure or unsecure client port in any configs. Terminating.") {
		t.Errorf("Status = %d, %q", code, out.String())
	}
}

// zkClasspath is the classpath that runs Debian's Apache ZooKeeper 3.8
// without logging or AdminServer (see /work/shared/REFERENCE-ZK.md).
var zkClasspath = []string{"/usr/share/java/zookeeper.jar", "/usr/share/java/zookeeper-jute.jar", "/usr/share/java/slf4j-api.jar"}

// startZooKeeper starts Apache ZooKeeper on a free loopback port with the
// given extra zoo.cfg lines ($PORT is replaced with the client port) and
// a myid of 1, waits until it answers srvr with a mode, and returns the
// zoo.cfg path and the port. It skips the test when java or ZooKeeper's
// jars are missing.
func startZooKeeper(t *testing.T, extra string) (string, int) {
	t.Helper()
	java, err := exec.LookPath("java")
	if err != nil {
		t.Skip("java not installed; skipping the test against Apache ZooKeeper (apt-get install zookeeper)")
	}
	for _, jar := range zkClasspath {
		if _, err := os.Stat(jar); err != nil {
			t.Skipf("%s missing; skipping the test against Apache ZooKeeper (apt-get install zookeeper)", jar)
		}
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "myid"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cfgText := fmt.Sprintf("tickTime=2000\ninitLimit=5\nsyncLimit=2\ndataDir=%s\nadmin.enableServer=false\n%s\n",
		data, strings.ReplaceAll(extra, "$PORT", strconv.Itoa(port)))
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, java, "-Xmx128m", "-cp", strings.Join(zkClasspath, ":"),
		"org.apache.zookeeper.server.quorum.QuorumPeerMain", cfgPath)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-exited:
			t.Fatalf("ZooKeeper exited:\n%s", logs.String())
		case <-deadline:
			t.Fatalf("ZooKeeper did not answer srvr on port %d within 30s", port)
		case <-tick.C:
			if r, err := fourLetterWord(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), "srvr", false, time.Second); err == nil && strings.Contains(r, "Mode: ") {
				return cfgPath, port
			}
		}
	}
}

// TestStatusAgainstZooKeeper runs Status against the real Apache
// ZooKeeper, standalone and as a one-member ensemble (standaloneEnabled=
// false, so it leads), and, where Debian's zkServer.sh is installed,
// checks that `zkServer.sh status` prints the same lines.
func TestStatusAgainstZooKeeper(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Apache ZooKeeper")
	}
	for _, tc := range []struct {
		name, extra, mode string
	}{
		{"standalone", "clientPort=$PORT\nclientPortAddress=127.0.0.1", "standalone"},
		{"leader", "standaloneEnabled=false\nserver.1=127.0.0.1:0:0;127.0.0.1:$PORT", "leader"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			extra := tc.extra
			if tc.mode == "leader" {
				// Quorum and election ports must differ and be free.
				extra = strings.Replace(extra, "127.0.0.1:0:0", fmt.Sprintf("127.0.0.1:%d:%d", freePort(t), freePort(t)), 1)
			}
			cfgPath, port := startZooKeeper(t, extra)
			cfg, err := LoadConfig(cfgPath, nil)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			code := Status(cfg, &out)
			want := fmt.Sprintf("Client port found: %d. Client address: 127.0.0.1. Client SSL: false.\nMode: %s\n", port, tc.mode)
			if code != 0 || out.String() != want {
				t.Fatalf("Status = %d, %q; want 0, %q", code, out.String(), want)
			}
			const script = "/usr/share/zookeeper/bin/zkServer.sh"
			if _, err := os.Stat(script); err != nil {
				t.Logf("%s missing; not comparing with it", script)
				return
			}
			zk := exec.Command(script, "status", cfgPath)
			zkOut, err := zk.Output()
			if err != nil {
				t.Fatalf("zkServer.sh status: %v\n%s", err, zkOut)
			}
			if string(zkOut) != out.String() {
				t.Errorf("zkServer.sh status printed %q, gokeeper %q", zkOut, out.String())
			}
		})
	}
}
