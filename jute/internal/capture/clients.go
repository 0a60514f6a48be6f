package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

// runGoZK drives go-zookeeper through the proxy: every client op it has,
// errors, a failing and a succeeding multi, watch notifications, pings,
// and a reconnect that makes it send setWatches.
func runGoZK(px *proxy) error {
	c, events, err := zk.Connect([]string{px.addr}, time.Second, zk.WithLogInfo(false))
	if err != nil {
		return err
	}
	defer c.Close()
	if err := waitState(events, zk.StateHasSession); err != nil {
		return err
	}
	acl := zk.WorldACL(zk.PermAll)
	steps := []struct {
		what string
		do   func() error
	}{
		{"create", func() error { _, err := c.Create("/g", []byte("hello"), 0, acl); return err }},
		{"create ephemeral sequential", func() error {
			_, err := c.Create("/g/seq-", []byte{}, zk.FlagEphemeralSequential, acl)
			return err
		}},
		{"create nil data", func() error { _, err := c.Create("/g/nil", nil, 0, acl); return err }},
		{"create NodeExists", func() error { return wantErr(c.Create("/g", nil, 0, acl)) }},
		{"create NoNode parent", func() error { return wantErr(c.Create("/missing/x", nil, 0, acl)) }},
		{"createContainer", func() error { _, err := c.CreateContainer("/gc", []byte("c"), zk.FlagContainer, acl); return err }},
		{"createTTL", func() error { _, err := c.CreateTTL("/gt", []byte("t"), zk.FlagTTL, acl, 10*time.Second); return err }},
		{"getData", func() error { _, _, err := c.Get("/g"); return err }},
		{"getData NoNode", func() error { _, _, err := c.Get("/missing"); return wantErr2(err) }},
		{"exists", func() error { _, _, err := c.Exists("/g"); return err }},
		{"exists missing", func() error { _, _, err := c.Exists("/missing"); return err }},
		{"getChildren2", func() error { _, _, err := c.Children("/g"); return err }},
		{"getChildren2 root", func() error { _, _, err := c.Children("/"); return err }},
		{"setData", func() error { _, err := c.Set("/g", []byte("world"), 0); return err }},
		{"setData BadVersion", func() error { _, err := c.Set("/g", []byte("x"), 42); return wantErr2(err) }},
		{"getACL", func() error { _, _, err := c.GetACL("/g"); return err }},
		{"setACL", func() error {
			_, err := c.SetACL("/g/nil", append(zk.WorldACL(zk.PermRead|zk.PermWrite), zk.DigestACL(zk.PermAll, "u", "p")...), 0)
			return err
		}},
		{"sync", func() error { _, err := c.Sync("/g"); return err }},
		{"auth", func() error { return c.AddAuth("digest", []byte("u:p")) }},
		{"multi ok", func() error {
			_, err := c.Multi(
				&zk.CreateRequest{Path: "/g/m", Data: []byte("m"), Acl: acl},
				&zk.SetDataRequest{Path: "/g/m", Data: []byte("m2"), Version: 0},
				&zk.CheckVersionRequest{Path: "/g", Version: 1},
				&zk.DeleteRequest{Path: "/g/m", Version: -1},
			)
			return err
		}},
		{"multi failing", func() error {
			_, err := c.Multi(
				&zk.CreateRequest{Path: "/g/m", Data: []byte("m"), Acl: acl},
				&zk.SetDataRequest{Path: "/missing", Data: []byte("x"), Version: -1},
				&zk.DeleteRequest{Path: "/g/nil", Version: -1},
			)
			return wantErr2(err)
		}},
		{"delete", func() error { return c.Delete("/gt", -1) }},
		{"delete NotEmpty", func() error { return wantErr2(c.Delete("/g", -1)) }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}

	// Watch notifications: data changed, children changed, created, deleted.
	_, _, dataW, err := c.GetW("/g")
	if err != nil {
		return err
	}
	_, _, childW, err := c.ChildrenW("/g")
	if err != nil {
		return err
	}
	_, _, createW, err := c.ExistsW("/gw")
	if err != nil {
		return err
	}
	if _, err := c.Set("/g", []byte("again"), -1); err != nil {
		return err
	}
	if _, err := c.Create("/g/child", nil, 0, acl); err != nil {
		return err
	}
	if _, err := c.Create("/gw", []byte("w"), 0, acl); err != nil {
		return err
	}
	for _, w := range []<-chan zk.Event{dataW, childW, createW} {
		if err := waitEvent(w); err != nil {
			return err
		}
	}
	_, _, delW, err := c.ExistsW("/gw")
	if err != nil {
		return err
	}
	if err := c.Delete("/gw", -1); err != nil {
		return err
	}
	if err := waitEvent(delW); err != nil {
		return err
	}

	// A ping, both ways.
	if err := px.waitFor("ping reply", 10*time.Second, hasFrame(false, "ping")); err != nil {
		return err
	}

	// Leave watches set, drop the connection: the client reconnects with
	// its session id and password and re-registers them with setWatches.
	if _, _, _, err := c.GetW("/g"); err != nil {
		return err
	}
	if _, _, _, err := c.ChildrenW("/g"); err != nil {
		return err
	}
	if _, _, _, err := c.ExistsW("/absent"); err != nil {
		return err
	}
	px.dropLatest()
	if err := px.waitFor("setWatches reply", 15*time.Second, hasFrame(false, "setWatches")); err != nil {
		return err
	}
	if _, _, err := c.Get("/g"); err != nil {
		return fmt.Errorf("getData after reconnect: %w", err)
	}
	c.Close()
	return px.waitFor("closeSession reply", 10*time.Second, hasFrame(false, "closeSession"))
}

func wantErr(_ string, err error) error { return wantErr2(err) }

func wantErr2(err error) error {
	if err == nil {
		return errors.New("expected an error, got none")
	}
	return nil
}

func waitState(events <-chan zk.Event, want zk.State) error {
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == want {
				return nil
			}
		case <-deadline:
			return fmt.Errorf("no %v within 10s", want)
		}
	}
}

func waitEvent(w <-chan zk.Event) error {
	select {
	case ev := <-w:
		if ev.Err != nil {
			return ev.Err
		}
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("no watch event within 10s")
	}
}

// kazooScript drives kazoo, which sends the readOnly byte, uses create2,
// getChildren (8) as well as getChildren2, and its own multi encoding.
const kazooScript = `
import sys, threading
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError, NodeExistsError, BadVersionError
from kazoo.security import make_digest_acl, OPEN_ACL_UNSAFE
zk = KazooClient(hosts=sys.argv[1], timeout=2.0)
zk.start(timeout=10)
zk.create("/k", b"kazoo")
zk.create("/k/e", b"", ephemeral=True)
zk.create("/k/c2", b"two", include_data=True)
zk.create("/k/s-", b"seq", sequence=True, include_data=True)
try:
    zk.create("/k", b"")
    raise SystemExit("create should fail")
except NodeExistsError:
    pass
zk.get("/k")
try:
    zk.get("/nope")
    raise SystemExit("get should fail")
except NoNodeError:
    pass
zk.get_children("/k")
zk.get_children("/k", include_data=True)
zk.exists("/k")
zk.exists("/nope")
zk.set("/k", b"v2")
zk.get_acls("/k")
zk.set_acls("/k/c2", [make_digest_acl("u", "p", all=True)] + list(OPEN_ACL_UNSAFE))
zk.add_auth("digest", "u:p")
zk.sync("/k")
t = zk.transaction()
t.create("/k/t", b"t")
t.check("/k", 1)
t.set_data("/k/t", b"t2")
t.delete("/k/t")
print("multi ok", t.commit())
t = zk.transaction()
t.create("/k/t", b"t")
t.check("/k", 99)
t.delete("/k/e")
print("multi failing", t.commit())
ev = threading.Event()
zk.get("/k", watch=lambda e: ev.set())
zk.set("/k", b"v3")
if not ev.wait(10):
    raise SystemExit("no watch event")
zk.delete("/k/c2")
try:
    zk.delete("/k", version=77)
    raise SystemExit("delete should fail")
except BadVersionError:
    pass
zk.stop()
zk.close()
`

func runKazoo(px *proxy, python string) error {
	cmd := exec.Command(python, "-c", kazooScript, px.addr)
	out, err := cmd.CombinedOutput()
	log.Printf("kazoo: %s", strings.TrimSpace(string(out)))
	return err
}

// runZkCli runs the Java client once per command, as a user would from a
// shell; each run is one connection.
func runZkCli(px *proxy, zkCli string) error {
	cmds := [][]string{
		{"create", "/j", "java"},
		{"get", "-s", "/j"},
		{"ls", "-s", "/"},
		{"stat", "/nope"},
		{"setquota", "-n", "5", "/j"},
		{"getAcl", "/j"},
		{"getAllChildrenNumber", "/"},
		{"getEphemerals", "/"},
		{"addWatch", "-m", "PERSISTENT_RECURSIVE", "/j"},
		{"whoami"},
		{"delete", "/j"},
	}
	for _, c := range cmds {
		cmd := exec.Command(zkCli, append([]string{"-server", px.addr}, c...)...)
		cmd.Env = append(os.Environ(), "ZOO_LOG4J_PROP=ERROR,CONSOLE", "JVMFLAGS=-Xmx128m")
		out, err := cmd.CombinedOutput()
		log.Printf("zkCli %s: %s", strings.Join(c, " "), strings.TrimSpace(string(out)))
		if err != nil {
			// zkCli exits non-zero when the command meets a ZooKeeper
			// error (stat of a missing node); the frames are what matter.
			log.Printf("zkCli %s: %v", strings.Join(c, " "), err)
		}
	}
	return nil
}

// zkCliSessionA and zkCliSessionB are typed into one interactive zkCli.sh
// session; between them the proxy drops the connection, so the Java
// client reconnects and re-registers its watches (setWatches2, as it holds
// persistent watches). The last command of A is a marker the capture
// waits for.
const (
	zkCliSessionA = `addauth digest u:p
create /zj java
create -e /zj/eph e
create -s /zj/seq- s
create -c /zjc c
create -t 60000 /zjt t
get -s /zj
get -w /zj
set /zj java2
ls -w /zj
create /zj/child x
stat -w /zj/none
create /zj/none n
ls -s /zj
getAcl /zj
setAcl /zj/child world:anyone:cdrwa,auth::cdrwa
sync /zj
config
reconfig -add server.5=127.0.0.1:1234:1235;127.0.0.1:1236
addWatch -m PERSISTENT /zj
addWatch /zj/child
getEphemerals /zj
getAllChildrenNumber /zj
whoami
removewatches /zj/none -a
get /zj/marker-a
`
	zkCliSessionB = `set /zj java3
deleteall /zj
delete /zjt
delete /zjc
quit
`
)

// runZkCliSession types zkCliSessionA, drops the connection, waits for
// the reconnect's setWatches2, types zkCliSessionB and waits for the
// session to close.
func runZkCliSession(px *proxy, zkCli string) error {
	cmd := exec.Command(zkCli, "-server", px.addr)
	cmd.Env = append(os.Environ(), "ZOO_LOG4J_PROP=ERROR,CONSOLE", "JVMFLAGS=-Xmx128m")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		log.Printf("zkCli session output:\n%s", out.String())
	}()
	if _, err := io.WriteString(stdin, zkCliSessionA); err != nil {
		return err
	}
	if err := px.waitFor("reply to the marker", 60*time.Second, hasReplyTo("/zj/marker-a")); err != nil {
		return err
	}
	px.dropLatest()
	if err := px.waitFor("setWatches2 reply", 30*time.Second, hasFrame(false, "setWatches2")); err != nil {
		return err
	}
	if _, err := io.WriteString(stdin, zkCliSessionB); err != nil {
		return err
	}
	if err := px.waitFor("closeSession reply", 60*time.Second, hasFrame(false, "closeSession")); err != nil {
		return err
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		return errors.New("zkCli did not exit after quit")
	}
	return nil
}

// cliMtSession is typed into the C client's cli_mt, started with -r so
// its ConnectRequest says readOnly=true. Its commands are asynchronous;
// the last is a marker the capture waits for before typing quit.
const cliMtSession = `create /cst
create2 /cst/two
create +e /cst/eph
create2 +s /cst/seq-
create +c /cst/container
create +t=60000 /cst/ttl
get /cst
ls /cst
ls2 /cst
set /cst c2
exists /cst/none
wexists /cst/later
create /cst/later
sync /cst
addauth digest u:p
delete /cst/two
get /cst/marker
`

// runCliMt drives the C client (zookeeper-bin's cli_mt) through the proxy.
func runCliMt(px *proxy, cliMt string) error {
	cmd := exec.Command(cliMt, "-r", px.addr)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		log.Printf("cli_mt output:\n%s", out.String())
	}()
	// cli_mt reads commands only once connected.
	if err := px.waitFor("connect reply", 30*time.Second, hasFrame(false, "connect")); err != nil {
		return err
	}
	if _, err := io.WriteString(stdin, cliMtSession); err != nil {
		return err
	}
	if err := px.waitFor("reply to the marker", 30*time.Second, hasReplyTo("/cst/marker")); err != nil {
		return err
	}
	if err := px.waitFor("a ping", 30*time.Second, hasFrame(false, "ping")); err != nil {
		return err
	}
	if _, err := io.WriteString(stdin, "quit\n"); err != nil {
		return err
	}
	if err := px.waitFor("closeSession reply", 30*time.Second, hasFrame(false, "closeSession")); err != nil {
		return err
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		return errors.New("cli_mt did not exit after quit")
	}
	return nil
}
