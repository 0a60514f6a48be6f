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
		"znode.container.maxPerMinute=100000",
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
