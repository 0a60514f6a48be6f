package main

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/gokeeper/gokeeper/internal/loopport"

	"github.com/gokeeper/gokeeper/jute"
)

// captureQuorum runs a three-server Apache ZooKeeper ensemble and an
// observer on loopback in which every server reaches every other
// server's quorum (learner) and election ports through recording proxies:
// server i binds its own ports, but the others' configs name the proxies
// in front of them. The election connections go to out/election. The
// quorum streams carry QuorumPacket records back to back with no length
// prefix; the proxy splits them record by record, and records the
// snapshot a leader streams after SNAP as one block. Then, in turn:
//
//   - a go-zookeeper client writes through a follower: the learner
//     handshakes (FOLLOWERINFO, and OBSERVERINFO from the observer),
//     proposals, acks, commits, INFORMs to the observer, forwarded
//     requests, syncs and pings;
//   - its session moves to the other follower, which asks the leader
//     (REVALIDATE);
//   - that follower is wiped and restarted: the leader sends it SNAP
//     and the snapshot (txn log sync is off, snapshotSizeFactor=-1);
//   - with that follower stopped, a write commits, the leader's links
//     to its learners are cut (the proxy drops what they carry), a
//     client write makes the leader log a proposal no one else sees, and
//     the leader is killed; the other two voters elect the follower that
//     has the most, and the old leader, restarted, is sent TRUNC.
func captureQuorum(out, java, classpath string) (err error) {
	dir, err := os.MkdirTemp("", "gokeeper-capture-quorum-")
	if err != nil {
		return err
	}
	defer func() {
		if err == nil {
			_ = os.RemoveAll(dir)
		} else {
			err = fmt.Errorf("%w (the servers' logs are in %s)", err, dir)
		}
	}()
	const voters, n = 3, 4 // server 4 is an observer
	var client, quorum, election [n + 1]int
	var proxies [n + 1]*quorumProxy
	var eproxies []*electionProxy // by sid - 1
	for i := 1; i <= n; i++ {
		for _, p := range []*int{&client[i], &quorum[i], &election[i]} {
			if *p, err = loopport.Free(); err != nil {
				return err
			}
		}
	}
	for i := 1; i <= n; i++ {
		if proxies[i], err = newQuorumProxy(i, fmt.Sprintf("127.0.0.1:%d", quorum[i])); err != nil {
			return err
		}
		defer proxies[i].close()
		ep, err := newElectionProxy(i, fmt.Sprintf("127.0.0.1:%d", election[i]))
		if err != nil {
			return err
		}
		defer ep.close()
		eproxies = append(eproxies, ep)
	}
	var servers [n + 1]*zkServer
	defer func() {
		for _, s := range servers {
			if s != nil {
				s.stop()
			}
		}
	}()
	start := func(i int) error {
		sdir := filepath.Join(dir, fmt.Sprint(i))
		if err := os.MkdirAll(filepath.Join(sdir, "data"), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(sdir, "data", "myid"), []byte(fmt.Sprintf("%d\n", i)), 0o644); err != nil {
			return err
		}
		var members strings.Builder
		for j := 1; j <= n; j++ {
			qaddr, eport := proxies[j].addr, eproxies[j-1].ln.Addr().(*net.TCPAddr).Port
			if j == i {
				qaddr, eport = fmt.Sprintf("127.0.0.1:%d", quorum[j]), election[j]
			}
			fmt.Fprintf(&members, "server.%d=%s:%d", j, qaddr, eport)
			if j > voters {
				members.WriteString(":observer")
			}
			members.WriteByte('\n')
		}
		if i > voters {
			members.WriteString("peerType=observer\n")
		}
		s, err := startServer(sdir, java, classpath, client[i], "initLimit=10\nsyncLimit=5\nsnapshotSizeFactor=-1\n"+members.String())
		if err != nil {
			return fmt.Errorf("server %d: %w", i, err)
		}
		servers[i] = s
		return nil
	}
	for i := 1; i <= n; i++ {
		if err := start(i); err != nil {
			return err
		}
	}
	for _, s := range servers[1:] {
		if err := s.waitServing(60 * time.Second); err != nil {
			return err
		}
	}
	handshakes, notifications := 0, 0
	for _, ep := range eproxies {
		handshakes += ep.count("HANDSHAKE")
		notifications += ep.count("NOTIFICATION")
	}
	if handshakes == 0 || notifications == 0 {
		return fmt.Errorf("election: %d handshakes and %d notifications passed the proxies", handshakes, notifications)
	}
	mode := func(i int) string {
		out, _ := fourLetter(servers[i].addr, "srvr")
		for _, l := range strings.Split(out, "\n") {
			if m, ok := strings.CutPrefix(l, "Mode: "); ok {
				return m
			}
		}
		return ""
	}
	leader := 0
	var followers []int
	for i := 1; i <= voters; i++ {
		switch mode(i) {
		case "leader":
			leader = i
		case "follower":
			followers = append(followers, i)
		}
	}
	if leader == 0 || len(followers) != 2 {
		return fmt.Errorf("no leader and two followers: leader %d, followers %v", leader, followers)
	}
	version := servers[1].version
	count := func(typ string) int {
		c := 0
		for i := 1; i <= n; i++ {
			c += proxies[i].count(typ)
		}
		return c
	}
	// waitCount waits for want packets of a type; when they do not come
	// it logs what each connection carried.
	waitCount := func(typ string, want int) error {
		for deadline := time.Now().Add(30 * time.Second); count(typ) < want; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				for i := 1; i <= n; i++ {
					proxies[i].mu.Lock()
					for _, qc := range proxies[i].conns {
						qc.mu.Lock()
						var notes []string
						for _, f := range qc.packets {
							notes = append(notes, f.note)
						}
						qc.mu.Unlock()
						log.Printf("%s: %s", qc.name, strings.Join(notes, ", "))
					}
					proxies[i].mu.Unlock()
				}
				return fmt.Errorf("quorum: %d %s packets within 30s, want %d", count(typ), typ, want)
			}
		}
		return nil
	}

	// Writes through a follower, so requests are forwarded to the leader.
	log.Printf("quorum: writing through follower %s", servers[followers[0]].addr)
	var target atomic.Pointer[string]
	target.Store(&servers[followers[0]].addr)
	var cur atomic.Pointer[net.Conn]
	dialer := func(network, _ string, timeout time.Duration) (net.Conn, error) {
		c, err := net.DialTimeout(network, *target.Load(), timeout)
		if err == nil {
			cur.Store(&c)
		}
		return c, err
	}
	c, events, err := zk.Connect([]string{servers[followers[0]].addr}, 2*time.Second, zk.WithLogInfo(false), zk.WithDialer(dialer))
	if err != nil {
		return err
	}
	defer c.Close()
	if err := waitState(events, zk.StateHasSession); err != nil {
		return err
	}
	acl := zk.WorldACL(zk.PermAll)
	if _, err := c.Create("/q", []byte("quorum"), 0, acl); err != nil {
		return err
	}
	if _, err := c.Create("/q/e", nil, zk.FlagEphemeral, acl); err != nil {
		return err
	}
	if _, err := c.Set("/q", []byte("again"), -1); err != nil {
		return err
	}
	if _, err := c.Sync("/q"); err != nil {
		return err
	}
	if _, err := c.Multi(&zk.CreateRequest{Path: "/q/m", Data: []byte("m"), Acl: acl}, &zk.DeleteRequest{Path: "/q/m", Version: -1}); err != nil {
		return err
	}
	if err := c.Delete("/q/e", -1); err != nil {
		return err
	}
	if err := waitCount("INFORM", 5); err != nil {
		return err
	}

	// The session moves to the other follower, which revalidates it with
	// the leader.
	log.Printf("quorum: moving the session to follower %s", servers[followers[1]].addr)
	target.Store(&servers[followers[1]].addr)
	_ = (*cur.Load()).Close()
	if err := waitState(events, zk.StateHasSession); err != nil {
		return err
	}
	if _, err := c.Create("/q/moved", nil, 0, acl); err != nil {
		return err
	}
	if err := waitCount("REVALIDATE", 2); err != nil {
		return err
	}
	c.Close()
	// Wait for the learners' pings to carry the closed session.
	if err := waitCount("PING", 8); err != nil {
		return err
	}

	// A wiped follower is sent the leader's snapshot.
	wiped := followers[1]
	log.Printf("quorum: wiping follower %d", wiped)
	servers[wiped].stop()
	if err := os.RemoveAll(filepath.Join(dir, fmt.Sprint(wiped), "data")); err != nil {
		return err
	}
	if err := start(wiped); err != nil {
		return err
	}
	if err := servers[wiped].waitServing(60 * time.Second); err != nil {
		return err
	}
	if err := waitCount("SNAPSTREAM", 1); err != nil {
		return err
	}

	// A leader with a proposal no one else logged is truncated when it
	// comes back under a new leader.
	// NB: the wiped follower misses a committed write first, so that
	// the other one, whose log holds the old epoch, leads next (a
	// restarted leader has only its new epoch in memory and would send
	// SNAP, not TRUNC).
	log.Printf("quorum: leader %d logs a proposal alone, then dies", leader)
	servers[wiped].stop()
	lc, events, err := zk.Connect([]string{servers[leader].addr}, 2*time.Second, zk.WithLogInfo(false))
	if err != nil {
		return err
	}
	if err := waitState(events, zk.StateHasSession); err != nil {
		return err
	}
	if _, err := lc.Create("/q/committed", nil, 0, acl); err != nil {
		return err
	}
	proxies[leader].cut()
	go func() { _, _ = lc.Create("/q/lost", nil, 0, acl) }()
	// NB: the leader logs the proposal at once; nothing else tells.
	time.Sleep(2 * time.Second)
	servers[leader].stop()
	lc.Close()
	if err := start(wiped); err != nil {
		return err
	}
	if err := servers[wiped].waitServing(60 * time.Second); err != nil {
		return err
	}
	// NB: before the new leader logs a txn of its own: the old leader's
	// zxid is then beyond the new leader's last, which is what ZooKeeper
	// 3.8 answers with TRUNC (a zxid it has a later txn of the same
	// epoch after would get TRUNC too; one of an older epoch, a SNAP).
	if err := start(leader); err != nil {
		return err
	}
	if err := servers[leader].waitServing(60 * time.Second); err != nil {
		return err
	}
	if err := waitCount("TRUNC", 1); err != nil {
		return err
	}
	nc, events, err := zk.Connect([]string{servers[leader].addr}, 2*time.Second, zk.WithLogInfo(false))
	if err != nil {
		return err
	}
	if err := waitState(events, zk.StateHasSession); err != nil {
		return err
	}
	if _, err := nc.Create("/q/new-epoch", nil, 0, acl); err != nil {
		return err
	}
	nc.Close()

	for _, s := range servers[1:] {
		s.stop()
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	old, _ := filepath.Glob(filepath.Join(out, "*.txt"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	for i := 1; i <= n; i++ {
		if err := proxies[i].write(out, version); err != nil {
			return err
		}
	}
	return writeElection(filepath.Join(out, "election"), version, eproxies[:n])
}

// quorumProxy records the learner connections to one server's quorum
// port.
type quorumProxy struct {
	sid    int
	ln     net.Listener
	addr   string
	target string

	mu    sync.Mutex
	conns []*quorumConn
}

type quorumConn struct {
	name    string
	mu      sync.Mutex
	packets []frame
	// dropped is set by cut: the packets read are neither recorded nor
	// passed on, as if the link were down.
	dropped atomic.Bool
}

func newQuorumProxy(sid int, target string) (*quorumProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &quorumProxy{sid: sid, ln: ln, addr: ln.Addr().String(), target: target}
	go p.accept()
	return p, nil
}

func (p *quorumProxy) close() { _ = p.ln.Close() }

// cut drops, from now on, what the connections open now carry either way.
func (p *quorumProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, qc := range p.conns {
		qc.dropped.Store(true)
	}
}

func (p *quorumProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		qc := &quorumConn{name: fmt.Sprintf("quorum-leader%d-%d", p.sid, len(p.conns)+1)}
		p.conns = append(p.conns, qc)
		p.mu.Unlock()
		go qc.pump(c, s, true)
		go qc.pump(s, c, false)
	}
}

// count returns how many packets of the named type were recorded.
func (p *quorumProxy) count(typ string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, qc := range p.conns {
		qc.mu.Lock()
		for _, f := range qc.packets {
			if strings.HasPrefix(f.note, typ+" ") {
				n++
			}
		}
		qc.mu.Unlock()
	}
	return n
}

// pump copies one direction (toLeader: learner to leader) packet by
// packet. After a SNAP packet the leader streams its database, which is no
// QuorumPacket: it is recorded as one SNAPSTREAM block.
func (qc *quorumConn) pump(src, dst net.Conn, toLeader bool) {
	defer func() { _ = src.Close(); _ = dst.Close() }()
	r := bufio.NewReader(src)
	for {
		pkt, err := readQuorumPacket(r)
		if err != nil {
			return
		}
		if qc.dropped.Load() {
			continue
		}
		typ := jute.PacketType(int32(binary.BigEndian.Uint32(pkt)))
		zxid := int64(binary.BigEndian.Uint64(pkt[4:]))
		qc.mu.Lock()
		qc.packets = append(qc.packets, frame{c2s: toLeader, data: pkt, note: fmt.Sprintf("%s zxid=0x%x", typ, zxid)})
		qc.mu.Unlock()
		if _, err := dst.Write(pkt); err != nil {
			return
		}
		if typ == jute.PacketSnap && !toLeader {
			snap, note, err := readSnapStream(r)
			if err != nil {
				log.Printf("%s: snapshot stream: %v", qc.name, err)
				return
			}
			qc.mu.Lock()
			qc.packets = append(qc.packets, frame{data: snap, note: note})
			qc.mu.Unlock()
			if _, err := dst.Write(snap); err != nil {
				return
			}
		}
	}
}

// readSnapStream reads the database a leader streams after SNAP
// (ZKDatabase.serializeSnapshot, then the "BenWasHere" signature): the
// sessions, the ACL cache, the nodes up to the "/" that ends them, and
// the signature. It returns its bytes and a note naming its sizes.
func readSnapStream(r *bufio.Reader) ([]byte, string, error) {
	var out []byte
	read := func(n int) ([]byte, error) {
		if n < 0 || n > 64<<20 {
			return nil, fmt.Errorf("length %d", n)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		out = append(out, b...)
		return b, nil
	}
	readInt := func() (int, error) {
		b, err := read(4)
		if err != nil {
			return 0, err
		}
		return int(int32(binary.BigEndian.Uint32(b))), nil
	}
	readBuf := func() ([]byte, error) {
		n, err := readInt()
		if err != nil || n < 0 {
			return nil, err
		}
		return read(n)
	}
	sessions, err := readInt()
	if err != nil {
		return nil, "", err
	}
	if _, err := read(12 * sessions); err != nil { // id long, timeout int
		return nil, "", err
	}
	lists, err := readInt()
	if err != nil {
		return nil, "", err
	}
	for range lists {
		if _, err := read(8); err != nil { // the list's reference
			return nil, "", err
		}
		acls, err := readInt()
		if err != nil {
			return nil, "", err
		}
		for range acls {
			if _, err := read(4); err != nil { // perms
				return nil, "", err
			}
			for range 2 { // scheme, id
				if _, err := readBuf(); err != nil {
					return nil, "", err
				}
			}
		}
	}
	nodes := 0
	for {
		path, err := readBuf()
		if err != nil {
			return nil, "", err
		}
		if string(path) == "/" {
			break
		}
		if _, err := readBuf(); err != nil { // data
			return nil, "", err
		}
		if _, err := read(8 + 60); err != nil { // ACL reference, StatPersisted
			return nil, "", err
		}
		nodes++
	}
	sig, err := readBuf()
	if err != nil {
		return nil, "", err
	}
	if string(sig) != "BenWasHere" {
		return nil, "", fmt.Errorf("signature %q", sig)
	}
	return out, fmt.Sprintf("SNAPSTREAM sessions=%d acls=%d nodes=%d", sessions, lists, nodes), nil
}

// readQuorumPacket reads the bytes of one QuorumPacket record: type,
// zxid, data buffer, vector<Id> authinfo.
func readQuorumPacket(r *bufio.Reader) ([]byte, error) {
	var pkt []byte
	read := func(n int) ([]byte, error) {
		if n < 0 || n > 64<<20 {
			return nil, fmt.Errorf("length %d", n)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		pkt = append(pkt, b...)
		return b, nil
	}
	readLen := func() (int, error) {
		b, err := read(4)
		if err != nil {
			return 0, err
		}
		return int(int32(binary.BigEndian.Uint32(b))), nil
	}
	if _, err := read(12); err != nil { // type, zxid
		return nil, err
	}
	if n, err := readLen(); err != nil {
		return nil, err
	} else if n > 0 {
		if _, err := read(n); err != nil {
			return nil, err
		}
	}
	ids, err := readLen()
	if err != nil {
		return nil, err
	}
	for i := 0; i < ids; i++ {
		for range 2 { // scheme, id
			n, err := readLen()
			if err != nil {
				return nil, err
			}
			if n > 0 {
				if _, err := read(n); err != nil {
					return nil, err
				}
			}
		}
	}
	return pkt, nil
}

func (p *quorumProxy) write(dir, version string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, qc := range p.conns {
		qc.mu.Lock()
		var b strings.Builder
		fmt.Fprintf(&b, "# Quorum connection %s: a learner's connection to server %d's quorum port, captured by `go run ./jute/internal/capture`.\n", qc.name, p.sid)
		fmt.Fprintf(&b, "# Server: %s (Debian package), three voters and an observer on loopback, tickTime=500.\n", version)
		fmt.Fprintf(&b, "# Each packet: <l2L|L2l> <seq> <type> zxid=<hex> len=<n>, then the QuorumPacket record in hex (no length prefix on this stream);\n")
		fmt.Fprintf(&b, "# after SNAP, <L2l> <seq> SNAPSTREAM sessions=<n> acls=<n> nodes=<n> len=<n>, then the database the leader streams.\n")
		fmt.Fprintf(&b, "# l2L is learner to leader.\n")
		for i, f := range qc.packets {
			dirn := "L2l"
			if f.c2s {
				dirn = "l2L"
			}
			fmt.Fprintf(&b, "\n%s %d %s len=%d\n", dirn, i, f.note, len(f.data))
			for off := 0; off < len(f.data); off += 32 {
				b.WriteString(hex.EncodeToString(f.data[off:min(off+32, len(f.data))]))
				b.WriteByte('\n')
			}
		}
		n := len(qc.packets)
		qc.mu.Unlock()
		if n == 0 {
			continue // a connection to a server that was not leading
		}
		name := filepath.Join(dir, qc.name+".txt")
		if err := os.WriteFile(name, []byte(b.String()), 0o644); err != nil {
			return err
		}
		log.Printf("wrote %s (%d packets)", name, n)
	}
	return nil
}
