package wire_test

import (
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/gokeeper/gokeeper/admin"
	"github.com/gokeeper/gokeeper/server"
	"github.com/gokeeper/gokeeper/wire"
	"github.com/gokeeper/gokeeper/wire/wiretest"
)

func startServer(t *testing.T, dir string, mutate func(*server.Config)) *wiretest.Server {
	t.Helper()
	return startServerOpts(t, dir, mutate, nil)
}

// startServerOpts starts a server whose client port also answers
// four-letter words.
func startServerOpts(t *testing.T, dir string, mutate func(*server.Config), mutateWire func(*wire.Options)) *wiretest.Server {
	t.Helper()
	ts := wiretest.Start(t, dir, mutate, mutateWire)
	ts.Listener.SetFourLetter(admin.NewFourLetter(ts.Server, ts.Listener).Answer)
	return ts
}

func connect(t *testing.T, addr string) (*zk.Conn, <-chan zk.Event) {
	t.Helper()
	c, ev, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogger(nopLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for c.State() != zk.StateHasSession {
		select {
		case <-ev:
		case <-deadline:
			t.Fatal("no session")
		}
	}
	t.Cleanup(c.Close)
	return c, ev
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...interface{}) {}

func fourLetter(t *testing.T, addr, word string) string {
	t.Helper()
	return wiretest.FourLetter(t, addr, word)
}

func TestSmoke(t *testing.T) {
	ts := startServer(t, t.TempDir(), nil)
	if got := fourLetter(t, ts.Addr, "ruok"); got != "imok" {
		t.Fatalf("ruok = %q", got)
	}
	c, _ := connect(t, ts.Addr)
	p, err := c.Create("/a", []byte("hello"), 0, zk.WorldACL(zk.PermAll))
	if err != nil || p != "/a" {
		t.Fatalf("create = %q, %v", p, err)
	}
	data, st, err := c.Get("/a")
	if err != nil || string(data) != "hello" || st.Version != 0 {
		t.Fatalf("get = %q %+v %v", data, st, err)
	}
	if _, err := c.Set("/a", []byte("x"), 5); err != zk.ErrBadVersion {
		t.Fatalf("set with bad version: %v", err)
	}
	st, err = c.Set("/a", []byte("x"), 0)
	if err != nil || st.Version != 1 {
		t.Fatalf("set: %+v %v", st, err)
	}
	if _, err := c.Create("/a", nil, 0, zk.WorldACL(zk.PermAll)); err != zk.ErrNodeExists {
		t.Fatalf("create again: %v", err)
	}
	_, _, ch, err := c.GetW("/a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set("/a", []byte("y"), -1); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-ch:
		if ev.Type != zk.EventNodeDataChanged || ev.Path != "/a" {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no watch event")
	}
	kids, _, err := c.Children("/")
	if err != nil || !strings.Contains(strings.Join(kids, ","), "a") {
		t.Fatalf("children %v %v", kids, err)
	}
	if err := c.Delete("/a", -1); err != nil {
		t.Fatal(err)
	}
	t.Log(fourLetter(t, ts.Addr, "srvr"))
	t.Log(fourLetter(t, ts.Addr, "mntr"))
}
