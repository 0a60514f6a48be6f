package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gokeeper/gokeeper/jute"
)

// idleTimeoutMs is the session timeout the idle sessions ask for; both
// servers are configured to grant it, so that opening tens of thousands
// of sessions cannot outlast the first ones. They ping every
// idlePingEvery all the same, as a client with a 30 s timeout does.
const (
	idleTimeoutMs = 600_000
	idlePingEvery = 10 * time.Second
)

// runIdle measures the memory an idle session costs: for each count in
// o.idle, on a fresh server each, the RSS before and after opening that
// many sessions that then only ping, every idlePingEvery, spread evenly
// (ZooKeeper's RSS read after jcmd GC.run both times, as in runMemory),
// divided by the count. The second reading is taken during the third
// round of pings.
func runIdle(o *options, parent string, jsonl io.Writer) error {
	limit := raiseFileLimit()
	type row struct {
		name      string
		n         int
		base, rss int64
		note      string
	}
	var rows []row
	for _, n := range o.idle {
		// NB: the server holds a descriptor per session and so does this
		// process; both need room for n plus their own.
		if uint64(n)+256 > limit {
			fmt.Printf("idle sessions: %d skipped: needs more than %d open files (this process's hard limit, RLIMIT_NOFILE; the server inherits it)\n", n, limit)
			continue
		}
		zk, gk, err := newServers(o, filepath.Join(parent, strconv.Itoa(n)), fmt.Sprintf("maxSessionTimeout=%d\n", idleTimeoutMs))
		if err != nil {
			return err
		}
		for _, s := range []*server{zk, gk} {
			r, err := measureIdle(s, n)
			s.stop()
			if err != nil {
				return fmt.Errorf("idle sessions on %s: %w", s.name, err)
			}
			fmt.Fprintf(os.Stderr, "  %-9s %d idle sessions: RSS %d -> %d KiB\n", s.name, n, r.base, r.rss)
			fmt.Fprintf(jsonl, "{\"server\":%q,\"workload\":\"idle-sessions\",\"sessions\":%d,\"rss_base_kib\":%d,\"rss_kib\":%d}\n", s.name, n, r.base, r.rss)
			rows = append(rows, row{name: s.name, n: n, base: r.base, rss: r.rss, note: r.note})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	fmt.Printf("memory per idle session (sessions opened, then a ping every %v; ZooKeeper -Xmx%s, RSS after jcmd GC.run):\n", idlePingEvery, o.xmx)
	fmt.Printf("%-10s | %9s | %10s | %10s | %11s\n", "server", "sessions", "RSS before", "RSS after", "per session")
	fmt.Println(strings.Repeat("-", 62))
	for _, r := range rows {
		fmt.Printf("%-10s | %9d | %6.0f MiB | %6.0f MiB | %8.1f KiB", r.name, r.n, float64(r.base)/1024, float64(r.rss)/1024, float64(r.rss-r.base)/float64(r.n))
		if r.note != "" {
			fmt.Printf("   (%s)", r.note)
		}
		fmt.Println()
	}
	return nil
}

type idleResult struct {
	base, rss int64
	note      string
}

// measureIdle starts s, opens n idle sessions and reads its RSS before and
// after.
func measureIdle(s *server, n int) (idleResult, error) {
	var r idleResult
	if _, err := s.start(""); err != nil {
		return r, err
	}
	settle := func() (int64, error) {
		quiesce(s)
		if s.name == "zookeeper" {
			if out, err := exec.Command("jcmd", strconv.Itoa(s.cmd.Process.Pid), "GC.run").CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "jcmd GC.run: %v: %s\n", err, out)
			}
			r.note = heapUsed(s.cmd.Process.Pid)
		}
		return s.rssKiB()
	}
	var err error
	if r.base, err = settle(); err != nil {
		return r, err
	}
	fmt.Fprintf(os.Stderr, "%s: opening %d idle sessions\n", s.name, n)
	conns, err := openIdle(s.addr, n)
	defer func() {
		for _, c := range conns {
			// NB: a reset, not a close: a closing side keeps its port in
			// TIME_WAIT for a minute, and 50,000 of those would leave no
			// ports for the next server's sessions.
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()
	if err != nil {
		return r, err
	}
	for round := range 2 {
		if err := pingAll(conns, idlePingEvery); err != nil {
			return r, fmt.Errorf("ping round %d: %w", round+1, err)
		}
	}
	// NB: the reading is taken while the third round is under way.
	stop := make(chan error, 1)
	go func() { stop <- pingAll(conns, idlePingEvery) }()
	time.Sleep(idlePingEvery / 2) // NB: into the clients' ping schedule, not a condition wait
	r.rss, err = settle()
	if perr := <-stop; err == nil && perr != nil {
		err = fmt.Errorf("ping round 3: %w", perr)
	}
	return r, err
}

// pingAll sends a ping on every connection and reads its reply, spread
// evenly over every, as independent clients' pings are.
func pingAll(conns []net.Conn, every time.Duration) error {
	start := time.Now()
	ping := binary.BigEndian.AppendUint32(nil, 8)
	ping = (&jute.RequestHeader{Xid: jute.XidPing, Type: int32(jute.OpPing)}).Encode(ping)
	var hdr [4]byte
	for i, c := range conns {
		time.Sleep(time.Until(start.Add(time.Duration(i) * every / time.Duration(len(conns)))))
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(ping); err != nil {
			return fmt.Errorf("session %d: %w", i, err)
		}
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return fmt.Errorf("session %d: %w", i, err)
		}
		if _, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(hdr[:]))); err != nil {
			return fmt.Errorf("session %d: %w", i, err)
		}
	}
	return nil
}

// openIdle opens n sessions on addr with a few dialers in parallel. NB:
// the connections come from 127.0.0.x for successive x, 20,000 each, as
// one source address has fewer ephemeral ports than 50,000 sessions need.
func openIdle(addr string, n int) ([]net.Conn, error) {
	const workers = 32
	conns := make([]net.Conn, n)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				c, err := connectIdle(addr, net.IPv4(127, 0, 0, byte(1+i/20_000)))
				if err != nil {
					errs <- fmt.Errorf("session %d: %w", i, err)
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	close(errs)
	var open []net.Conn
	for _, c := range conns {
		if c != nil {
			open = append(open, c)
		}
	}
	return open, <-errs
}

// connectIdle opens one session and returns its connection once the
// server has answered the ConnectRequest.
func connectIdle(addr string, src net.IP) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: src}, Control: bindNoPort}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	req := jute.ConnectRequest{TimeOut: idleTimeoutMs, Passwd: make([]byte, 16)}
	b := req.Encode(make([]byte, 4, 64))
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(b); err != nil {
		c.Close()
		return nil, err
	}
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		c.Close()
		return nil, err
	}
	resp := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(c, resp); err != nil {
		c.Close()
		return nil, err
	}
	var cr jute.ConnectResponse
	if err := jute.Unmarshal(resp, &cr, 1<<10); err != nil || cr.TimeOut == 0 {
		c.Close()
		return nil, fmt.Errorf("session refused (%v)", err)
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// bindNoPort defers the choice of the source port to connect(2)
// (IP_BIND_ADDRESS_NO_PORT), which may reuse a port towards another
// destination; bind(2) would need a port free for every destination.
func bindNoPort(network, address string, rc syscall.RawConn) error {
	const ipBindAddressNoPort = 24 // linux/in.h
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// raiseFileLimit raises this process's open-file limit to its hard limit
// (the servers it starts inherit it) and returns it.
func raiseFileLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 1024
	}
	lim.Cur = lim.Max
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	return lim.Cur
}
