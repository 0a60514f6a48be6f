package harness

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestZooCfgHasEveryKey(t *testing.T) {
	cfg := DefaultSettings().ZooCfg("/tmp/d", Ports{Client: 1234, Admin: 5678})
	for _, want := range []string{
		"tickTime=500", "dataDir=/tmp/d", "clientPort=1234", "clientPortAddress=127.0.0.1",
		"maxClientCnxns=0", "minSessionTimeout=1000", "maxSessionTimeout=20000",
		"4lw.commands.whitelist=*", "admin.serverAddress=127.0.0.1", "admin.serverPort=5678",
		"zookeeper.extendedTypesEnabled=true", "znode.container.checkIntervalMs=100",
		"znode.container.maxPerMinute=100000", "forceSync=yes",
	} {
		if !strings.Contains(cfg, want+"\n") {
			t.Errorf("zoo.cfg lacks %q:\n%s", want, cfg)
		}
	}
}

func TestStartZooKeeper(t *testing.T) {
	if os.Getenv("GOKEEPER_COMPAT") == "" {
		t.Skip("set GOKEEPER_COMPAT=1 to start Apache ZooKeeper")
	}
	srv := StartZooKeeperT(t, DefaultSettings())
	out, err := FourLetter(srv.Addr, "ruok", time.Second)
	if err != nil || out != "imok" {
		t.Fatalf("ruok = %q, %v", out, err)
	}
	srv.Stop()
	if !srv.Exited() {
		t.Fatal("server still running after Stop")
	}
}

func TestStopKillsProcessGroup(t *testing.T) {
	srv, err := startProcess("sleeper", t.TempDir(), DefaultSettings(), 200*time.Millisecond, func(string) *exec.Cmd {
		return exec.Command("sh", "-c", "sleep 60 & sleep 60")
	})
	if err == nil {
		srv.Stop()
		t.Fatal("a process that never answers ruok was reported ready")
	}
	if !errors.Is(err, ErrNotReady) {
		t.Fatalf("err = %v, want ErrNotReady", err)
	}
}

func TestServerLines(t *testing.T) {
	got := ServerLines([]MemberPorts{{Quorum: 11, Election: 12}, {Quorum: 21, Election: 22}, {Quorum: 31, Election: 32}})
	want := "server.1=127.0.0.1:11:12\nserver.2=127.0.0.1:21:22\nserver.3=127.0.0.1:31:32\n"
	if got != want {
		t.Errorf("ServerLines = %q, want %q", got, want)
	}
}

func TestFreeDistinctPorts(t *testing.T) {
	a, err := freeDistinctPorts(12)
	if err != nil {
		t.Fatal(err)
	}
	b, err := freeDistinctPorts(12)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range append(a, b...) {
		if seen[p] {
			t.Fatalf("port %d handed out twice in %v %v", p, a, b)
		}
		seen[p] = true
	}
}
