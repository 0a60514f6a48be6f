package server

import (
	"fmt"
	"net"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/jute"
)

// TestConfigNodeHoldsMembership: an ensemble member's /zookeeper/config
// holds the membership (server.N lines and version), with dataVersion -1,
// mzxid the config version and mtime the start, as ZooKeeper's
// initConfigInZKDatabase sets it; a standalone server's stays empty.
func TestConfigNodeHoldsMembership(t *testing.T) {
	freePort := func() int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	cfg := testConfig("/data")
	var lines []string
	for range 3 {
		lines = append(lines, fmt.Sprintf("127.0.0.1:%d:%d", freePort(), freePort()))
	}
	cfg.Servers = ensembleCfg(t, lines...)
	cfg.ServerID = 1
	cfg.InitLimit, cfg.SyncLimit = 10, 5
	srv, err := newServer(cfg, zerolog.Nop(), vfs.NewMem())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	data, st, code := srv.tree.GetData("/zookeeper/config", 0)
	want := cfg.MembershipString()
	if code != jute.CodeOK || string(data) != want {
		t.Fatalf("/zookeeper/config = %q (%v), want %q", data, code, want)
	}
	if st.Version != -1 || st.Mzxid != cfg.ConfigVersion || st.Mtime == 0 || st.DataLength != int32(len(want)) {
		t.Errorf("/zookeeper/config stat = %+v, want version -1, mzxid %d, an mtime, dataLength %d", st, cfg.ConfigVersion, len(want))
	}

	alone, err := newServer(testConfig("/data"), zerolog.Nop(), vfs.NewMem())
	if err != nil {
		t.Fatal(err)
	}
	defer alone.Close()
	if data, st, _ := alone.tree.GetData("/zookeeper/config", 0); len(data) != 0 || st.Version != 0 || st.Mtime != 0 {
		t.Errorf("standalone /zookeeper/config = %q, stat %+v; want empty, version 0, mtime 0", data, st)
	}
}
