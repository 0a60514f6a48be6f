// Package mutproxy is a deliberately wrong ZooKeeper server: a TCP proxy
// in front of a real one that rewrites or drops reply frames. The compat
// suite points its scenarios at it to prove that the diff catches each
// kind of divergence (wrong error code, wrong cversion, missing event).
package mutproxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/gokeeper/gokeeper/jute"
)

// ErrFrame means a frame could not be parsed.
var ErrFrame = errors.New("mutproxy: bad frame")

// Reply is one server-to-client frame after the handshake, as seen by a
// Mutator.
type Reply struct {
	// Op is the op of the request this reply answers (by xid), or
	// OpNotification for watch events.
	Op jute.OpCode
	// Header is the reply header; a Mutator may change it.
	Header jute.ReplyHeader
	// Body is the rest of the frame; a Mutator may change it.
	Body []byte
}

// Mutator inspects a reply and may change it in place. It returns false to
// drop the frame.
type Mutator func(r *Reply) bool

// Proxy forwards client connections to an upstream ZooKeeper server,
// passing every reply through its Mutator.
type Proxy struct {
	// Addr is the address clients connect to.
	Addr string

	upstream string
	mutate   Mutator
	ln       net.Listener
	wg       sync.WaitGroup
	mu       struct {
		sync.Mutex
		conns []net.Conn
	}
}

// Start listens on a free loopback port and proxies to upstream.
func Start(upstream string, m Mutator) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{Addr: ln.Addr().String(), upstream: upstream, mutate: m, ln: ln}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.mu.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) track(c net.Conn) {
	p.mu.Lock()
	p.mu.conns = append(p.mu.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.upstream)
		if err != nil {
			client.Close()
			continue
		}
		p.track(client)
		p.track(server)
		ops := &xidOps{m: map[int32]jute.OpCode{}}
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			defer server.Close()
			_ = copyRequests(server, client, ops)
		}()
		go func() {
			defer p.wg.Done()
			defer client.Close()
			_ = p.copyReplies(client, server, ops)
		}()
	}
}

type xidOps struct {
	sync.Mutex
	m map[int32]jute.OpCode
}

func readFrame(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(hdr[:]))
	if n < 0 || n > 4*jute.DefaultMaxBuffer {
		return nil, fmt.Errorf("%w: length %d", ErrFrame, n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

func writeFrame(w io.Writer, b []byte) error {
	out := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(b)), uint32(len(b)))
	_, err := w.Write(append(out, b...))
	return err
}

// copyRequests forwards client frames unchanged, remembering each
// request's op by xid. The first frame is the handshake. Four-letter
// words (which are not framed) are forwarded raw.
func copyRequests(dst io.Writer, src io.Reader, ops *xidOps) error {
	first := true
	for {
		b, err := readFrame(src)
		if err != nil {
			return err
		}
		if !first && len(b) >= 8 {
			xid := int32(binary.BigEndian.Uint32(b[0:4]))
			op := jute.OpCode(int32(binary.BigEndian.Uint32(b[4:8])))
			ops.Lock()
			ops.m[xid] = op
			ops.Unlock()
		}
		first = false
		if err := writeFrame(dst, b); err != nil {
			return err
		}
	}
}

func (p *Proxy) copyReplies(dst io.Writer, src io.Reader, ops *xidOps) error {
	first := true
	for {
		b, err := readFrame(src)
		if err != nil {
			return err
		}
		if first || len(b) < 16 {
			first = false
			if err := writeFrame(dst, b); err != nil {
				return err
			}
			continue
		}
		r := Reply{Body: b[16:]}
		d := jute.NewDecoder(b, 0)
		r.Header.Decode(d)
		if r.Header.Xid == jute.XidNotification {
			r.Op = jute.OpNotification
		} else {
			ops.Lock()
			r.Op = ops.m[r.Header.Xid]
			delete(ops.m, r.Header.Xid)
			ops.Unlock()
		}
		if p.mutate != nil && !p.mutate(&r) {
			continue
		}
		out := r.Header.Encode(make([]byte, 0, 16+len(r.Body)))
		if err := writeFrame(dst, append(out, r.Body...)); err != nil {
			return err
		}
	}
}

// statSize is the encoded size of a jute Stat; cversionOffset is where
// cversion sits inside it.
const (
	statSize       = 68
	cversionOffset = 36
)

// opsEndingInStat are the ops whose successful reply body ends with a Stat.
var opsEndingInStat = map[jute.OpCode]bool{
	jute.OpExists: true, jute.OpGetData: true, jute.OpSetData: true, jute.OpSetACL: true,
	jute.OpGetChildren2: true, jute.OpCreate2: true, jute.OpGetACL: true,
}

// WrongErrorCode returns a Mutator that turns every reply with error from
// into error to (dropping any body, as an error reply has none).
func WrongErrorCode(from, to jute.Code) Mutator {
	return func(r *Reply) bool {
		if r.Op != jute.OpNotification && jute.Code(r.Header.Err) == from {
			r.Header.Err = int32(to)
			r.Body = nil
		}
		return true
	}
}

// WrongCversion returns a Mutator that adds delta to the cversion of every
// Stat at the end of a successful reply.
func WrongCversion(delta int32) Mutator {
	return func(r *Reply) bool {
		if r.Header.Err == 0 && opsEndingInStat[r.Op] && len(r.Body) >= statSize {
			off := len(r.Body) - statSize + cversionOffset
			body := append([]byte(nil), r.Body...)
			v := int32(binary.BigEndian.Uint32(body[off:]))
			binary.BigEndian.PutUint32(body[off:], uint32(v+delta))
			r.Body = body
		}
		return true
	}
}

// DropEvents returns a Mutator that drops every watch event of type t.
func DropEvents(t jute.EventType) Mutator {
	return func(r *Reply) bool {
		if r.Op != jute.OpNotification {
			return true
		}
		var ev jute.WatcherEvent
		if err := jute.Unmarshal(r.Body, &ev, 0); err != nil {
			return true
		}
		return jute.EventType(ev.Type) != t
	}
}
