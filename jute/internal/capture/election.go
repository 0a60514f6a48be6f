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
)

// electionProxy records the connections made to one server's election
// port. Only what a dialer sends to the address in its config passes
// through it: a server dialled back after losing the tie-break is reached
// at the address its handshake names, which is its own port. The servers
// start one after the other, so each pair's first connection is usually
// dialled by the later (larger) sid through the proxy and survives.
type electionProxy struct {
	sid    int
	ln     net.Listener
	addr   string
	target string

	mu    sync.Mutex
	conns []*quorumConn
}

func newElectionProxy(sid int, target string) (*electionProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &electionProxy{sid: sid, ln: ln, addr: ln.Addr().String(), target: target}
	go p.accept()
	return p, nil
}

func (p *electionProxy) close() { _ = p.ln.Close() }

func (p *electionProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close() // the server is not up yet; its peers retry
			continue
		}
		p.mu.Lock()
		ec := &quorumConn{name: fmt.Sprintf("election-to%d-%d", p.sid, len(p.conns)+1)}
		p.conns = append(p.conns, ec)
		p.mu.Unlock()
		go ec.pumpElection(c, s, true)
		go ec.pumpElection(s, c, false)
	}
}

// count returns how many frames of the named kind were recorded.
func (p *electionProxy) count(kind string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, ec := range p.conns {
		ec.mu.Lock()
		for _, f := range ec.packets {
			if strings.HasPrefix(f.note, kind+" ") {
				n++
			}
		}
		ec.mu.Unlock()
	}
	return n
}

// pumpElection copies one direction of an election connection: from the
// dialer, the handshake and then length-prefixed notifications; from the
// receiver, notifications only.
func (ec *quorumConn) pumpElection(src, dst net.Conn, fromDialer bool) {
	defer func() { _ = src.Close(); _ = dst.Close() }()
	r := bufio.NewReader(src)
	if fromDialer {
		b, note, err := readElectionHandshake(r)
		if err != nil || !ec.forward(dst, frame{c2s: true, data: b, note: note}) {
			return
		}
	}
	for {
		b, note, err := readElectionFrame(r)
		if err != nil || !ec.forward(dst, frame{c2s: fromDialer, data: b, note: note}) {
			return
		}
	}
}

func (ec *quorumConn) forward(dst net.Conn, f frame) bool {
	ec.mu.Lock()
	ec.packets = append(ec.packets, f)
	ec.mu.Unlock()
	_, err := dst.Write(f.data)
	return err == nil
}

// readElectionHandshake reads the bytes of a dialer's handshake: a
// protocol version (-65536 or -65535) with sid and address, or a bare sid.
func readElectionHandshake(r *bufio.Reader) ([]byte, string, error) {
	b := make([]byte, 8)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, "", err
	}
	version := int64(binary.BigEndian.Uint64(b))
	if version >= 0 {
		return b, fmt.Sprintf("HANDSHAKE sid=%d", version), nil
	}
	b = append(b, make([]byte, 12)...)
	if _, err := io.ReadFull(r, b[8:]); err != nil {
		return nil, "", err
	}
	n := int(int32(binary.BigEndian.Uint32(b[16:])))
	if n <= 0 || n > 2048 {
		return nil, "", fmt.Errorf("handshake address length %d", n)
	}
	b = append(b, make([]byte, n)...)
	if _, err := io.ReadFull(r, b[20:]); err != nil {
		return nil, "", err
	}
	return b, fmt.Sprintf("HANDSHAKE version=%d sid=%d", version, int64(binary.BigEndian.Uint64(b[8:]))), nil
}

var electionStates = []string{"LOOKING", "FOLLOWING", "LEADING", "OBSERVING"}

// readElectionFrame reads one length-prefixed election message, prefix
// included.
func readElectionFrame(r *bufio.Reader) ([]byte, string, error) {
	b := make([]byte, 4)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, "", err
	}
	n := int(int32(binary.BigEndian.Uint32(b)))
	if n <= 0 || n > 512*1024 {
		return nil, "", fmt.Errorf("election frame length %d", n)
	}
	b = append(b, make([]byte, n)...)
	if _, err := io.ReadFull(r, b[4:]); err != nil {
		return nil, "", err
	}
	note := "NOTIFICATION"
	if n >= 28 {
		if st := int(int32(binary.BigEndian.Uint32(b[4:]))); st >= 0 && st < len(electionStates) {
			note += " " + electionStates[st]
		}
		note += fmt.Sprintf(" leader=%d zxid=0x%x", int64(binary.BigEndian.Uint64(b[8:])), int64(binary.BigEndian.Uint64(b[16:])))
	}
	return b, note, nil
}

// writeElection replaces dir's *.txt with one file per recorded connection.
func writeElection(dir, version string, proxies []*electionProxy) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	for _, p := range proxies {
		p.mu.Lock()
		for _, ec := range p.conns {
			ec.mu.Lock()
			var b strings.Builder
			fmt.Fprintf(&b, "# Election connection %s: a server's connection to server %d's election port, captured by `go run ./jute/internal/capture`.\n", ec.name, p.sid)
			fmt.Fprintf(&b, "# Server: %s (Debian package), a three-server ensemble on loopback, tickTime=500.\n", version)
			fmt.Fprintf(&b, "# Each record: <d2r|r2d> <seq> <HANDSHAKE|NOTIFICATION ...> len=<n>, then its bytes in hex:\n")
			fmt.Fprintf(&b, "# the handshake as sent (no prefix), a notification with its int32 length prefix. d2r is dialer to receiver.\n")
			for i, f := range ec.packets {
				dirn := "r2d"
				if f.c2s {
					dirn = "d2r"
				}
				fmt.Fprintf(&b, "\n%s %d %s len=%d\n", dirn, i, f.note, len(f.data))
				for off := 0; off < len(f.data); off += 32 {
					b.WriteString(hex.EncodeToString(f.data[off:min(off+32, len(f.data))]))
					b.WriteByte('\n')
				}
			}
			n := len(ec.packets)
			ec.mu.Unlock()
			if n == 0 {
				continue
			}
			name := filepath.Join(dir, ec.name+".txt")
			if err := os.WriteFile(name, []byte(b.String()), 0o644); err != nil {
				p.mu.Unlock()
				return err
			}
			log.Printf("wrote %s (%d records)", name, n)
		}
		p.mu.Unlock()
	}
	return nil
}
