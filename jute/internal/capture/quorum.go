package main

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/gokeeper/gokeeper/jute"
)

// captureQuorum runs a three-server Apache ZooKeeper ensemble on loopback
// in which every server reaches every other server's quorum (learner) and
// election ports through recording proxies: server i binds its own ports,
// but the others' configs name the proxies in front of them. The election
// connections go to out/election. A go-zookeeper
// client then writes through a follower, so the streams hold the whole
// learner handshake, proposals, acks, commits, forwarded requests, syncs
// and pings. The quorum streams carry QuorumPacket records back to back
// with no length prefix; the proxy splits them record by record.
func captureQuorum(out, java, classpath string) error {
	dir, err := os.MkdirTemp("", "gokeeper-capture-quorum-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	const n = 3
	var client, quorum, election [n + 1]int
	var proxies [n + 1]*quorumProxy
	var eproxies []*electionProxy // by sid - 1
	for i := 1; i <= n; i++ {
		for _, p := range []*int{&client[i], &quorum[i], &election[i]} {
			if *p, err = freePort(); err != nil {
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
	var servers []*zkServer
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	for i := 1; i <= n; i++ {
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
			fmt.Fprintf(&members, "server.%d=%s:%d\n", j, qaddr, eport)
		}
		s, err := startServer(sdir, java, classpath, client[i], "initLimit=10\nsyncLimit=5\n"+members.String())
		if err != nil {
			return fmt.Errorf("server %d: %w", i, err)
		}
		servers = append(servers, s)
	}
	for _, s := range servers {
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
	// Write through a follower, so requests are forwarded to the leader.
	var follower *zkServer
	for _, s := range servers {
		if out, err := fourLetter(s.addr, "srvr"); err == nil && strings.Contains(out, "Mode: follower") {
			follower = s
			break
		}
	}
	if follower == nil {
		return errors.New("no follower in the ensemble")
	}
	version := servers[0].version
	log.Printf("quorum: writing through follower %s", follower.addr)
	c, events, err := zk.Connect([]string{follower.addr}, 2*time.Second, zk.WithLogInfo(false))
	if err != nil {
		return err
	}
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
	c.Close()
	// Wait for the learners' pings to carry the closed session.
	deadline := time.Now().Add(20 * time.Second)
	for {
		pings := 0
		for i := 1; i <= n; i++ {
			pings += proxies[i].count("PING")
		}
		if pings >= 8 {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("quorum: no pings within 20s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, s := range servers {
		s.stop()
	}
	servers = nil
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
	return writeElection(filepath.Join(out, "election"), version, eproxies)
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
// packet. After a SNAP packet the leader streams a raw snapshot, which is
// no QuorumPacket: from then on the rest is copied unrecorded.
func (qc *quorumConn) pump(src, dst net.Conn, toLeader bool) {
	defer func() { _ = src.Close(); _ = dst.Close() }()
	r := bufio.NewReader(src)
	for {
		pkt, err := readQuorumPacket(r)
		if err != nil {
			return
		}
		typ := jute.PacketType(int32(binary.BigEndian.Uint32(pkt)))
		zxid := int64(binary.BigEndian.Uint64(pkt[4:]))
		qc.mu.Lock()
		qc.packets = append(qc.packets, frame{c2s: toLeader, data: pkt, note: fmt.Sprintf("%s zxid=0x%x", typ, zxid)})
		qc.mu.Unlock()
		if _, err := dst.Write(pkt); err != nil {
			return
		}
		if typ == jute.PacketSnap {
			_, _ = io.Copy(dst, r)
			return
		}
	}
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
		fmt.Fprintf(&b, "# Server: %s (Debian package), a three-server ensemble on loopback, tickTime=500.\n", version)
		fmt.Fprintf(&b, "# Each packet: <l2L|L2l> <seq> <type> zxid=<hex> len=<n>, then the QuorumPacket record in hex (no length prefix on this stream).\n")
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
