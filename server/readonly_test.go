package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/admin"
	"github.com/gokeeper/gokeeper/compat-tests/rawclient"
	"github.com/gokeeper/gokeeper/jute"
	"github.com/gokeeper/gokeeper/server"
	"github.com/gokeeper/gokeeper/wire"
	"github.com/gokeeper/gokeeper/wire/wiretest"
)

// TestLogFailureReportsReadOnly: once the txn log failed and writes get
// NotReadOnly, the server says it is read-only wherever ZooKeeper's
// ReadOnlyZooKeeperServer does: isro answers "ro", srvr and stat print
// the READ-ONLY line and "Mode: read-only", mntr's server_state and the
// AdminServer's read_only follow, and a client that can be read-only is
// told so in its ConnectResponse.
func TestLogFailureReportsReadOnly(t *testing.T) {
	fs := &server.SyncFailFS{FS: vfs.NewMem()}
	cfg := server.DefaultConfig()
	cfg.DataDir = "/data"
	cfg.ClientPort = 2181
	cfg.TickTime = 200
	cfg.FourLetterWordsWhitelist = "*"
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.Disabled)
	srv, err := server.NewWithFS(cfg, log, fs)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	ln, err := wire.Listen("127.0.0.1:0", srv, wire.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	adm := admin.New(srv, ln, log)
	ln.SetFourLetter(adm.FourLetter().Answer)
	go ln.Serve()
	defer srv.Close()
	defer ln.Close()
	addr := ln.Addr().String()

	readOnly := func(t *testing.T, want bool) {
		t.Helper()
		isro, mode := "rw", "standalone"
		if want {
			isro, mode = "ro", "read-only"
		}
		if got := wiretest.FourLetter(t, addr, "isro"); got != isro {
			t.Errorf("isro = %q, want %q", got, isro)
		}
		for _, word := range []string{"srvr", "stat"} {
			out := wiretest.FourLetter(t, addr, word)
			lines := strings.Split(out, "\n")
			hasLine := len(lines) > 1 && lines[1] == "READ-ONLY mode; serving only read-only clients"
			if hasLine != want || !strings.Contains(out, "\nMode: "+mode+"\n") {
				t.Errorf("%s with read-only %v:\n%s", word, want, out)
			}
		}
		if out := wiretest.FourLetter(t, addr, "mntr"); !strings.Contains(out, "zk_server_state\t"+mode+"\n") {
			t.Errorf("mntr with read-only %v:\n%s", want, out)
		}
		for _, cmd := range []string{"is_read_only", "server_stats"} {
			body, _ := adm.Run(cmd, nil)
			var got struct {
				ReadOnly *bool `json:"read_only"`
			}
			if err := json.Unmarshal(body, &got); err != nil || got.ReadOnly == nil || *got.ReadOnly != want {
				t.Errorf("%s: %s, want read_only %v", cmd, body, want)
			}
		}
	}
	readOnly(t, false)

	rc, res, err := rawclient.Connect(addr, rawclient.ConnectOptions{TimeoutMs: 4000, ReadOnly: true}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if res.Response.ReadOnly {
		t.Fatal("a writable server answered a connect with readOnly set")
	}
	create := &jute.CreateRequest{Path: "/a", Acl: jute.OpenACLUnsafe()}
	if f, _, err := rc.Call(jute.OpCreate, create); err != nil || f.Err() != jute.CodeOK {
		t.Fatalf("create before the failure: %v %v", f.Err(), err)
	}
	fs.Arm()
	create.Path = "/b"
	if _, err := rc.Send(jute.OpCreate, create); err != nil {
		t.Fatal(err)
	}
	if _, closed := rc.WaitClosed(5 * time.Second); !closed {
		t.Fatal("the connection of a write of unknown outcome stayed open")
	}
	readOnly(t, true)

	// NB: a new session needs a createSession txn, which the failed log
	// refuses; the session of the first connection comes back.
	s := rc.Session().Response
	rc2, res, err := rawclient.Connect(addr, rawclient.ConnectOptions{TimeoutMs: 4000, ReadOnly: true, SessionID: s.SessionId, Passwd: s.Passwd}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer rc2.Close()
	if !res.ReadOnlyPresent || !res.Response.ReadOnly {
		t.Fatalf("connect to a read-only server answered %+v", res)
	}
	if f, _, err := rc2.Call(jute.OpExists, &jute.ExistsRequest{Path: "/a"}); err != nil || f.Err() != jute.CodeOK {
		t.Fatalf("read on the read-only server: %v %v", f.Err(), err)
	}
	create.Path = "/c"
	if f, _, err := rc2.Call(jute.OpCreate, create); err != nil || f.Err() != jute.CodeNotReadOnly {
		t.Fatalf("write on the read-only server: %v %v, want NotReadOnly", f.Err(), err)
	}
}
