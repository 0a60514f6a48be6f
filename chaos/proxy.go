package chaos

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/gokeeper/gokeeper/internal/loopport"
)

// Port names which of a member's peer ports a link reaches.
type Port int

const (
	// QuorumPort is the port a leader accepts its learners on.
	QuorumPort Port = iota
	// ElectionPort is the fast leader election port.
	ElectionPort
)

// Net is the fault proxy between the members of an ensemble. Every
// ordered pair of members (from, to) and each of to's peer ports has its
// own listener: member from's zoo.cfg names that listener as member to's
// address, so every connection from dials to goes through it, and the
// proxy knows both ends. Faults are per direction: bytes that member a
// sends to member b on any connection, whichever of them dialled it.
//
// NB: a member that dials a peer with a smaller sid on the election port
// is answered with a dial back to the address its handshake advertises,
// its own real one. The proxy rewrites that address to the listener of
// the reverse link, so that dial goes through the proxy too.
type Net struct {
	n     int
	links map[linkKey]*link

	mu struct {
		sync.Mutex
		blocked map[[2]int]bool          // bytes a→b are dropped
		delay   map[[2]int]time.Duration // bytes a→b wait this long
		conns   map[*pipe]struct{}
		closed  bool
	}
	wg sync.WaitGroup
}

type linkKey struct {
	from, to int
	port     Port
}

// link is one listener: member from's connections to member to's port.
type link struct {
	net    *Net
	key    linkKey
	ln     net.Listener
	target string // member to's real address for port
}

// pipe is one proxied connection.
type pipe struct {
	link     *link
	down, up net.Conn // down: the dialer (from); up: the member dialled (to)
	tainted  bool     // bytes were dropped: the stream is broken, close it at heal
	// holed are the directions (a→b) that lost bytes: they pass none
	// until Heal closes the connection.
	holed     map[[2]int]bool
	closeOnce sync.Once
}

// NewNet starts the listeners for n members (numbered 1..n) on loopback
// ports (internal/loopport); real(i, port) is member i's own address.
func NewNet(n int, real func(member int, port Port) string) (*Net, error) {
	nw := &Net{n: n, links: map[linkKey]*link{}}
	nw.mu.blocked = map[[2]int]bool{}
	nw.mu.delay = map[[2]int]time.Duration{}
	nw.mu.conns = map[*pipe]struct{}{}
	for from := 1; from <= n; from++ {
		for to := 1; to <= n; to++ {
			if from == to {
				continue
			}
			for _, port := range []Port{QuorumPort, ElectionPort} {
				ln, err := loopport.Listen()
				if err != nil {
					nw.Close()
					return nil, err
				}
				k := linkKey{from, to, port}
				l := &link{net: nw, key: k, ln: ln, target: real(to, port)}
				nw.links[k] = l
				nw.wg.Add(1)
				go l.accept()
			}
		}
	}
	return nw, nil
}

// Addr returns the address member from dials to reach member to's port.
func (nw *Net) Addr(from, to int, port Port) string {
	return nw.links[linkKey{from, to, port}].ln.Addr().String()
}

// Block drops the bytes a sends to b until Heal; the connections that
// lose bytes are closed at Heal, as a TCP stream never skips bytes.
func (nw *Net) Block(a, b int) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	nw.mu.blocked[[2]int{a, b}] = true
}

// Delay holds the bytes a sends to b for d before they are sent on.
func (nw *Net) Delay(a, b int, d time.Duration) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	nw.mu.delay[[2]int{a, b}] = d
}

// Partition blocks both directions between every member of one group
// and every member of another that is not also in the first (a bridge
// member in both groups keeps its links to both).
func (nw *Net) Partition(groups ...[]int) {
	for i, g := range groups {
		for j, h := range groups {
			if i == j {
				continue
			}
			for _, a := range g {
				for _, b := range h {
					if a != b && !slices.Contains(h, a) && !slices.Contains(g, b) {
						nw.Block(a, b)
					}
				}
			}
		}
	}
}

// DropConnections closes every proxied connection that touches one of
// members (all of them if none are given); new ones are accepted.
func (nw *Net) DropConnections(members ...int) int {
	nw.mu.Lock()
	var drop []*pipe
	for p := range nw.mu.conns {
		if len(members) == 0 || slices.Contains(members, p.link.key.from) || slices.Contains(members, p.link.key.to) {
			drop = append(drop, p)
		}
	}
	nw.mu.Unlock()
	for _, p := range drop {
		p.close()
	}
	return len(drop)
}

// Heal removes every fault and closes the connections that lost bytes.
func (nw *Net) Heal() {
	nw.mu.Lock()
	clear(nw.mu.blocked)
	clear(nw.mu.delay)
	var drop []*pipe
	for p := range nw.mu.conns {
		if p.tainted {
			drop = append(drop, p)
		}
	}
	nw.mu.Unlock()
	for _, p := range drop {
		p.close()
	}
}

// Close stops every listener and connection.
func (nw *Net) Close() {
	nw.mu.Lock()
	nw.mu.closed = true
	var all []*pipe
	for p := range nw.mu.conns {
		all = append(all, p)
	}
	nw.mu.Unlock()
	for _, l := range nw.links {
		l.ln.Close()
	}
	for _, p := range all {
		p.close()
	}
	nw.wg.Wait()
}

// rule returns what happens now to bytes a sends to b.
func (nw *Net) rule(p *pipe, a, b int) (blocked bool, delay time.Duration) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	// NB: a direction that lost bytes passes none until Heal closes the
	// connection, or the bytes after the hole would reach the other end: a
	// stream with a hole, which TCP never gives (Heal unblocks before it
	// closes).
	blocked = p.holed[[2]int{a, b}] || nw.mu.blocked[[2]int{a, b}]
	if blocked {
		p.tainted = true
		if p.holed == nil {
			p.holed = map[[2]int]bool{}
		}
		p.holed[[2]int{a, b}] = true
	}
	return blocked, nw.mu.delay[[2]int{a, b}]
}

func (l *link) accept() {
	defer l.net.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.DialTimeout("tcp", l.target, 2*time.Second)
		if err != nil {
			// NB: the member is down: the dialer sees its connection
			// close, as it would see a refused one.
			c.Close()
			continue
		}
		p := &pipe{link: l, down: c, up: up}
		l.net.mu.Lock()
		if l.net.mu.closed {
			l.net.mu.Unlock()
			p.close()
			return
		}
		l.net.mu.conns[p] = struct{}{}
		l.net.mu.Unlock()
		l.net.wg.Add(2)
		go p.pump(p.down, p.up, l.key.from, l.key.to, l.key.port == ElectionPort)
		go p.pump(p.up, p.down, l.key.to, l.key.from, false)
	}
}

func (p *pipe) close() {
	p.closeOnce.Do(func() {
		p.down.Close()
		p.up.Close()
		nw := p.link.net
		nw.mu.Lock()
		delete(nw.mu.conns, p)
		nw.mu.Unlock()
	})
}

// pump copies the bytes member a sends to member b from src to dst under
// the rules of the moment; handshake says src opens with an election
// handshake whose advertised address must be rewritten.
func (p *pipe) pump(src, dst net.Conn, a, b int, handshake bool) {
	defer p.link.net.wg.Done()
	defer p.close()
	if handshake {
		hs, err := p.rewriteHandshake(src)
		if err != nil {
			return
		}
		if !p.forward(dst, hs, a, b) {
			return
		}
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.forward(dst, buf[:n], a, b) {
			return
		}
		if err != nil {
			return
		}
	}
}

// forward writes chunk to dst unless a→b is blocked, after the delay.
func (p *pipe) forward(dst net.Conn, chunk []byte, a, b int) bool {
	blocked, delay := p.link.net.rule(p, a, b)
	if blocked {
		return true
	}
	if delay > 0 {
		// NB: a little jitter, so that delays do not line up.
		time.Sleep(delay + time.Duration(rand.Int64N(int64(delay)/4+1)))
	}
	_, err := dst.Write(chunk)
	return err == nil
}

// errHandshake means an election handshake could not be parsed.
var errHandshake = errors.New("chaos: bad election handshake")

// rewriteHandshake reads the election handshake a dialer sends first
// (int64 protocol version, int64 sid, int32 n, n bytes of host:port; a
// non-negative first int64 is a bare sid of the old protocol) and returns
// it with the address replaced by the reverse link's listener.
func (p *pipe) rewriteHandshake(src net.Conn) ([]byte, error) {
	var head [8]byte
	if _, err := io.ReadFull(src, head[:]); err != nil {
		return nil, err
	}
	if int64(binary.BigEndian.Uint64(head[:])) >= 0 {
		return head[:], nil
	}
	var rest [12]byte
	if _, err := io.ReadFull(src, rest[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(rest[8:]))
	if n <= 0 || n > 2048 {
		return nil, fmt.Errorf("%w: address length %d", errHandshake, n)
	}
	if _, err := io.CopyN(io.Discard, src, int64(n)); err != nil {
		return nil, err
	}
	k := p.link.key
	addr := p.link.net.Addr(k.to, k.from, ElectionPort)
	out := append(head[:], rest[:8]...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(addr)))
	return append(out, addr...), nil
}
