package wire

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/jute"
	"github.com/gokeeper/gokeeper/server"
)

// Options configure the client port.
type Options struct {
	// MaxBuffer is jute.maxbuffer: the largest frame a client may send.
	MaxBuffer int
	// MaxClientCnxns is maxClientCnxns: the most concurrent connections
	// from one IP address; 0 means no limit.
	MaxClientCnxns int
	// MaxCnxns is maxCnxns: the most concurrent connections in all; 0
	// means no limit.
	MaxCnxns int
	// ReadPauseBytes bounds what a client that does not read its
	// replies can make the server hold for it: once more than this many
	// bytes of replies and events are queued for a connection, no more
	// of its requests are read until the queue has fallen back to it.
	// 0 never pauses.
	ReadPauseBytes int
	// MaxOutstandingBytes bounds the replies and events queued for one
	// connection that the client has not read yet, replies owed to
	// requests read before a pause included; past it, the client is a
	// slow consumer and its connection is closed.
	MaxOutstandingBytes int
	// IdleAfter is how long a connection may wait for its client's next
	// request before it gives up its reader goroutine to the listener's
	// idle poller (Linux), so that an idle session costs no goroutine
	// stack; 0 keeps a reader per connection.
	IdleAfter time.Duration
	// HandshakeTimeout bounds how long a new connection may take to send
	// its ConnectRequest (or four-letter word).
	HandshakeTimeout time.Duration
	// TLSHandshakeTimeout bounds a TLS handshake on a secure port; 0
	// means HandshakeTimeout.
	TLSHandshakeTimeout time.Duration
	// MaxTLSHandshakes is zookeeper.netty.server.outstandingHandshake.limit:
	// a connection to a secure port that would make more TLS handshakes
	// run at once is closed and counted in TLSHandshakeExceeded; 0 means
	// no limit.
	MaxTLSHandshakes int
	// Logger receives one line per refused or failed connection.
	Logger zerolog.Logger
}

// DefaultOptions returns ZooKeeper's defaults.
func DefaultOptions() Options {
	return Options{
		MaxBuffer:           jute.DefaultMaxBuffer,
		MaxClientCnxns:      60,
		ReadPauseBytes:      1 << 20,
		MaxOutstandingBytes: 64 << 20,
		IdleAfter:           time.Second,
		HandshakeTimeout:    10 * time.Second,
		Logger:              zerolog.Nop(),
	}
}

// FourLetterWords lists the words ZooKeeper recognises on its client port
// (server/command/FourLetterCommands).
var FourLetterWords = []string{
	"conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "stmk", "ruok",
	"srst", "srvr", "stat", "wchc", "wchp", "wchs", "mntr", "isro", "hash",
}

// telnetClose is the telnet "interrupt process" sequence ZooKeeper treats
// as a request to close the connection.
const telnetClose = 0xfff4fffd

var fourLetterCodes = func() map[uint32]string {
	m := make(map[uint32]string, len(FourLetterWords))
	for _, w := range FourLetterWords {
		m[binary.BigEndian.Uint32([]byte(w))] = w
	}
	return m
}()

// Port is one client port a Listener serves.
type Port struct {
	// Addr is the address to listen on, host:port.
	Addr string
	// TLS, if set, makes it a secure client port (secureClientPort):
	// every connection begins with a TLS handshake.
	TLS *tls.Config
}

// port is a listening socket and how its connections are served.
type port struct {
	ln  net.Listener
	tls *tls.Config
}

// Listener accepts client connections for one server, on one or more
// ports (clientPort and secureClientPort). Connections of every port
// share the limits, the counters and the idle poller.
type Listener struct {
	srv   *server.Server
	opts  Options
	log   zerolog.Logger
	ports []port

	// fourLetter answers a four-letter word (nil: none are answered).
	fourLetter atomic.Pointer[func(word string) string]
	stats      ListenerStats

	mu struct {
		sync.Mutex
		perIP  map[string]int
		conns  map[*conn]struct{}
		closed bool
	}
	closed chan struct{}  // closed by Close: ends Serve's pause after an accept error
	wg     sync.WaitGroup // one count per open connection

	start  time.Time   // the origin of clock
	poller *idlePoller // nil: every connection keeps its reader (idle.go)
}

// clock returns the monotonic time since the listener opened.
func (l *Listener) clock() time.Duration { return time.Since(l.start) }

// Listen opens the (plaintext) client port.
func Listen(addr string, srv *server.Server, o Options) (*Listener, error) {
	return ListenPorts(srv, o, Port{Addr: addr})
}

// ListenPorts opens the client ports; the first is the one Addr reports.
func ListenPorts(srv *server.Server, o Options, ports ...Port) (*Listener, error) {
	if len(ports) == 0 {
		return nil, errors.New("wire: no client port")
	}
	l := &Listener{srv: srv, opts: o, log: o.Logger, closed: make(chan struct{}), start: time.Now()}
	for _, p := range ports {
		ln, err := net.Listen("tcp", p.Addr)
		if err != nil {
			for _, q := range l.ports {
				q.ln.Close()
			}
			return nil, err
		}
		l.ports = append(l.ports, port{ln: ln, tls: p.TLS})
	}
	l.stats = newListenerStats(srv.Metrics())
	l.mu.perIP = make(map[string]int)
	l.mu.conns = make(map[*conn]struct{})
	if o.IdleAfter > 0 {
		pl, err := newIdlePoller(l, o.IdleAfter/2)
		if err != nil {
			l.log.Info().Err(err).Msg("idle connections keep their reader goroutine")
		}
		l.poller = pl
	}
	return l, nil
}

// SetFourLetter installs the function that answers four-letter words on
// this port; it is called only for the words in FourLetterWords.
func (l *Listener) SetFourLetter(fn func(word string) string) { l.fourLetter.Store(&fn) }

// Addr returns the address the first port is bound to.
func (l *Listener) Addr() net.Addr { return l.ports[0].ln.Addr() }

// Addrs returns the address of every port, in ListenPorts' order.
func (l *Listener) Addrs() []net.Addr {
	out := make([]net.Addr, len(l.ports))
	for i, p := range l.ports {
		out[i] = p.ln.Addr()
	}
	return out
}

// Serve accepts connections on every port until Close. An accept error
// (out of file descriptors: EMFILE, ENFILE; out of buffers: ENOBUFS)
// refuses that one connection: it is logged and counted in
// ConnectionRejected, and accepting resumes after a pause that doubles
// from 5 ms up to a second while the errors last (ZooKeeper's accept
// thread pauses 10 ms).
func (l *Listener) Serve() error {
	errc := make(chan error, len(l.ports))
	for i := range l.ports[1:] {
		go func() { errc <- l.serve(&l.ports[i+1]) }()
	}
	err := l.serve(&l.ports[0])
	for range l.ports[1:] {
		if e := <-errc; err == nil {
			err = e
		}
	}
	return err
}

// serve accepts connections on one port until Close.
func (l *Listener) serve(p *port) error {
	var pause time.Duration
	for {
		nc, err := p.ln.Accept()
		if err == nil {
			pause = 0
			l.accept(nc, p)
			continue
		}
		l.mu.Lock()
		closed := l.mu.closed
		l.mu.Unlock()
		if closed {
			return nil
		}
		if errors.Is(err, net.ErrClosed) {
			l.Close() // NB: one port gone closes the others, so Serve returns
			return err
		}
		pause = min(max(2*pause, 5*time.Millisecond), time.Second)
		l.stats.ConnectionRejected.Add(1)
		l.log.Warn().Err(err).Dur("pause", pause).Msg("error accepting a connection")
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-l.closed:
			t.Stop()
			return nil
		}
	}
}

func (l *Listener) accept(nc net.Conn, p *port) {
	ip := remoteIP(nc)
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		nc.Close()
		return
	}
	if max := l.opts.MaxCnxns; max > 0 && len(l.mu.conns) >= max {
		l.mu.Unlock()
		l.stats.ConnectionRejected.Add(1)
		l.log.Warn().Str("client", ip).Int("max", max).Msg("too many connections, closing")
		nc.Close()
		return
	}
	if max := l.opts.MaxClientCnxns; max > 0 && l.mu.perIP[ip] >= max {
		l.mu.Unlock()
		l.stats.ConnectionRejected.Add(1)
		l.log.Warn().Str("client", ip).Int("max", max).Msg("too many connections from this address, closing")
		nc.Close()
		return
	}
	if p.tls != nil && l.opts.MaxTLSHandshakes > 0 && l.stats.OutstandingTLSHandshakes.Load() >= int64(l.opts.MaxTLSHandshakes) {
		l.mu.Unlock()
		l.stats.TLSHandshakeExceeded.Add(1)
		l.log.Warn().Str("client", ip).Int("max", l.opts.MaxTLSHandshakes).Msg("too many TLS handshakes under way, closing")
		nc.Close()
		return
	}
	l.mu.perIP[ip]++
	c := newConn(l, nc, ip, p.tls)
	l.mu.conns[c] = struct{}{}
	l.mu.Unlock()
	l.wg.Add(1)
	go c.serve()
}

// connDone forgets a connection that has finished.
func (l *Listener) connDone(c *conn) {
	if l.poller != nil {
		l.poller.forget(c)
	}
	l.mu.Lock()
	delete(l.mu.conns, c)
	if l.mu.perIP[c.ip]--; l.mu.perIP[c.ip] <= 0 {
		delete(l.mu.perIP, c.ip)
	}
	l.mu.Unlock()
	l.wg.Done()
}

// Close stops accepting, closes every connection and waits for them.
func (l *Listener) Close() error {
	l.mu.Lock()
	first := !l.mu.closed
	if first {
		close(l.closed)
	}
	l.mu.closed = true
	conns := make([]*conn, 0, len(l.mu.conns))
	for c := range l.mu.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	var err error
	for _, p := range l.ports {
		if e := p.ln.Close(); err == nil {
			err = e
		}
	}
	for _, c := range conns {
		c.tcp.Close()
		c.wakeIdle()
	}
	l.wg.Wait()
	if first && l.poller != nil {
		l.poller.close()
	}
	return err
}

// ConnectionCount returns the number of open client connections.
func (l *Listener) ConnectionCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.mu.conns)
}

func remoteIP(nc net.Conn) string {
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(nc.RemoteAddr().String())
	if err != nil {
		return nc.RemoteAddr().String()
	}
	return host
}
