package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Election port limits and queue sizes, as ZooKeeper's QuorumCnxManager
// has them.
const (
	// MaxMessage is the largest election message; a frame announcing
	// more, or 0 or less, closes the connection.
	MaxMessage = 512 * 1024
	// sendCapacity is each peer's send queue: the newest message only.
	sendCapacity = 1
	// RecvCapacity is the shared receive queue.
	RecvCapacity = 100
)

// Manager errors.
var (
	// ErrClosed means the Manager was closed.
	ErrClosed = errors.New("transport: manager closed")
	// ErrMessageSize means a message is empty or larger than MaxMessage.
	ErrMessageSize = errors.New("transport: election message size out of range")
	// ErrBind means the election address could not be bound.
	ErrBind = errors.New("transport: cannot bind the election address")
)

// Config configures a Manager. Start from DefaultConfig.
type Config struct {
	// MyID is this server's sid.
	MyID int64
	// ListenAddr is the election address to listen on, host:port (port 0
	// picks a free one). With quorumListenOnAllIPs it is 0.0.0.0:port.
	ListenAddr string
	// Advertise is what the handshake tells peers our election address
	// is. Empty means the address the listener got.
	Advertise []string
	// MultiAddress sends the V2 handshake with every Advertise address
	// (zookeeper.multiAddress.enabled); otherwise V1 with the first.
	MultiAddress bool
	// Peers holds every known server's election addresses, by sid. A
	// dial tries them in order until one connects. SetPeers replaces them.
	Peers map[int64][]string
	// ConnectTimeout bounds each dial (zookeeper.cnxTimeout).
	ConnectTimeout time.Duration
	// HandshakeTimeout bounds reading a dialer's handshake
	// (zookeeper.quorumCnxnTimeoutMs, else tickTime x syncLimit).
	HandshakeTimeout time.Duration
	// BindRetries is how many times binding is tried, and how many
	// accept errors in a row the listener survives
	// (zookeeper.electionPortBindRetry); 0 means without end.
	BindRetries int
	// BindRetryInterval is the wait between two tries.
	BindRetryInterval time.Duration
	// Security secures the connections (sslQuorum, portUnification,
	// quorum SASL); nil is plaintext.
	Security *Security
	// ListenerFailed, if set, is called once when the listener gives up
	// after BindRetries accept errors in a row. The server can then no
	// longer take part in elections: ZooKeeper exits with code 14.
	ListenerFailed func(error)
	// Logger receives connection events, keyed by sid and peer.
	Logger zerolog.Logger
}

// DefaultConfig returns ZooKeeper's defaults: a 5 s connect timeout, a
// 5 s handshake timeout, 3 bind tries 1 s apart.
func DefaultConfig() Config {
	return Config{
		ConnectTimeout:    5 * time.Second,
		HandshakeTimeout:  5 * time.Second,
		BindRetries:       3,
		BindRetryInterval: time.Second,
		Logger:            zerolog.Nop(),
	}
}

// Validate checks the config.
func (c *Config) Validate() error {
	switch {
	case c.MyID < 0:
		return fmt.Errorf("transport: negative sid %d", c.MyID)
	case c.ListenAddr == "":
		return errors.New("transport: no election address to listen on")
	case c.ConnectTimeout <= 0 || c.HandshakeTimeout <= 0:
		return errors.New("transport: connect and handshake timeouts must be positive")
	case c.BindRetries < 0 || c.BindRetryInterval < 0:
		return errors.New("transport: negative bind retries or interval")
	}
	return nil
}

// Message is one election message received from a peer (or sent to
// ourselves).
type Message struct {
	From int64
	Data []byte
}

// Manager owns the election port: one connection per peer, kept by the
// rules of ZooKeeper's QuorumCnxManager (see doc.go), a send queue of one
// message per peer and a shared receive queue. It knows nothing of what
// the messages mean.
type Manager struct {
	cfg       Config
	log       zerolog.Logger
	ln        net.Listener
	advertise []string
	recv      chan Message
	recvMu    sync.Mutex // serializes producers of recv, so dropping the oldest is safe
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup

	mu struct {
		sync.Mutex
		closed  bool
		addrs   map[int64][]string // the configured peers' election addresses
		peers   map[int64]*peer
		inbound map[net.Conn]struct{} // accepted, handshake not handled yet
		// nextObserver is the sid the next ObserverID handshake gets.
		nextObserver int64
		// seq numbers connections in the order they were accepted or
		// dialled, so that handshakes read in parallel still let only a
		// newer connection replace an older one.
		seq uint64
		// dials counts dials under way; connected the dials that reached
		// the peer; accepted the connections the listener took;
		// established the connections registered. Tests use them to know
		// when the managers have settled.
		dials, connected, accepted, established int
		// changed is closed and replaced whenever a connection or a dial
		// starts or ends, so that tests wait on events, not on time.
		changed chan struct{}
	}
}

// peer is what the Manager keeps per sid once something was sent to it or
// a connection to it was made.
type peer struct {
	sid   int64
	queue chan []byte // the send queue; producers hold Manager.mu

	// Guarded by Manager.mu.
	conn    *conn  // the live connection (ZooKeeper's SendWorker), or nil
	dialing bool   // a dial is under way
	last    []byte // the last message taken from the queue to be sent
}

// conn is one registered connection with its writer and reader.
type conn struct {
	peer *peer
	nc   net.Conn
	seq  uint64 // from Manager.mu.seq
	done chan struct{}
	once sync.Once
}

func (c *conn) close() {
	c.once.Do(func() {
		close(c.done)
		_ = c.nc.Close()
	})
}

// New binds the election address (trying cfg.BindRetries times) and
// starts accepting connections. It dials nobody: Send and ConnectAll do.
func New(cfg Config) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger.With().Int64("sid", cfg.MyID).Logger()
	var ln net.Listener
	for try := 1; ; try++ {
		var err error
		if ln, err = net.Listen("tcp", cfg.ListenAddr); err == nil {
			break
		}
		log.Error().Err(err).Int("try", try).Str("addr", cfg.ListenAddr).Msg("cannot bind the election address")
		if cfg.BindRetries > 0 && try >= cfg.BindRetries {
			return nil, fmt.Errorf("%w %s after %d tries: %w", ErrBind, cfg.ListenAddr, try, err)
		}
		time.Sleep(cfg.BindRetryInterval)
	}
	m := &Manager{cfg: cfg, log: log, ln: ln, recv: make(chan Message, RecvCapacity), advertise: cfg.Advertise}
	if len(m.advertise) == 0 {
		m.advertise = []string{ln.Addr().String()}
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.mu.peers = map[int64]*peer{}
	m.mu.addrs = copyPeers(cfg.Peers)
	m.mu.changed = make(chan struct{})
	m.mu.inbound = map[net.Conn]struct{}{}
	m.mu.nextObserver = -1
	log.Info().Str("addr", ln.Addr().String()).Msg("election port listening")
	m.wg.Add(1)
	go m.acceptLoop()
	return m, nil
}

// Addr returns the address the election port listens on.
func (m *Manager) Addr() net.Addr { return m.ln.Addr() }

// SetPeers replaces the known servers' election addresses, as after a
// reconfig. Connections already made stay up.
func (m *Manager) SetPeers(peers map[int64][]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mu.addrs = copyPeers(peers)
}

func copyPeers(peers map[int64][]string) map[int64][]string {
	out := make(map[int64][]string, len(peers))
	for sid, addrs := range peers {
		out[sid] = append([]string(nil), addrs...)
	}
	return out
}

// Recv returns the receive queue. It holds the newest RecvCapacity
// messages (older ones are dropped) and is closed by Close.
func (m *Manager) Recv() <-chan Message { return m.recv }

// Send queues msg for sid, replacing a message still waiting there, and
// dials sid if there is no connection to it. A message to ourselves goes
// straight to the receive queue. msg must not be modified afterwards.
func (m *Manager) Send(sid int64, msg []byte) error {
	if len(msg) == 0 || len(msg) > MaxMessage {
		return fmt.Errorf("%w: %d bytes", ErrMessageSize, len(msg))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.closed {
		return ErrClosed
	}
	if sid == m.cfg.MyID {
		m.deliver(Message{From: sid, Data: msg})
		return nil
	}
	p := m.peerLocked(sid)
	select {
	case p.queue <- msg:
	default:
		select {
		case <-p.queue: // drop the oldest
		default:
		}
		p.queue <- msg // cannot block: only holders of mu add
	}
	m.connectLocked(p, nil)
	return nil
}

// ConnectAll dials every configured peer, and every other peer that was
// sent something, to which there is no connection. (ZooKeeper dials only
// the peers it has send queues for; an election sends to every voter
// first, so that is all of them.)
func (m *Manager) ConnectAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.closed {
		return
	}
	for sid := range m.mu.addrs {
		if sid != m.cfg.MyID {
			m.connectLocked(m.peerLocked(sid), nil)
		}
	}
	for _, p := range m.mu.peers {
		m.connectLocked(p, nil)
	}
}

// HaveDelivered reports whether some peer's send queue is empty, which
// the election takes to mean that its last round of messages left.
func (m *Manager) HaveDelivered() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.mu.peers {
		if len(p.queue) == 0 {
			return true
		}
	}
	return false
}

// Close stops listening, closes every connection, waits for the
// Manager's goroutines and then closes the receive queue.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.mu.closed {
		m.mu.Unlock()
		return nil
	}
	m.mu.closed = true
	for _, p := range m.mu.peers {
		if p.conn != nil {
			p.conn.close()
		}
	}
	for nc := range m.mu.inbound {
		_ = nc.Close()
	}
	m.mu.Unlock()
	m.cancel()
	err := m.ln.Close()
	m.wg.Wait()
	close(m.recv)
	m.log.Info().Msg("election port closed")
	return err
}

// deliver adds msg to the receive queue, dropping the oldest message if
// the queue is full.
func (m *Manager) deliver(msg Message) {
	m.recvMu.Lock()
	defer m.recvMu.Unlock()
	select {
	case m.recv <- msg:
	default:
		select {
		case <-m.recv:
		default:
		}
		m.recv <- msg
	}
}

func (m *Manager) notifyLocked() {
	close(m.mu.changed)
	m.mu.changed = make(chan struct{})
}

func (m *Manager) peerLocked(sid int64) *peer {
	p := m.mu.peers[sid]
	if p == nil {
		p = &peer{sid: sid, queue: make(chan []byte, sendCapacity)}
		m.mu.peers[sid] = p
	}
	return p
}

// connectLocked starts a dial to p unless it has a connection or a dial
// under way. addrs are where to dial; nil means the configured ones.
func (m *Manager) connectLocked(p *peer, addrs []string) {
	if p.conn != nil || p.dialing {
		return
	}
	if addrs == nil {
		addrs = m.mu.addrs[p.sid]
	}
	if len(addrs) == 0 {
		m.log.Warn().Int64("peer", p.sid).Msg("no election address for server")
		return
	}
	p.dialing = true
	m.mu.dials++
	m.notifyLocked()
	m.wg.Add(1)
	go m.dial(p, addrs)
}

// dial connects to p, sends our handshake and keeps the connection only if
// our sid is the larger: otherwise p dials back.
func (m *Manager) dial(p *peer, addrs []string) {
	defer m.wg.Done()
	nc, err := m.dialAny(addrs)
	var seq uint64
	m.mu.Lock()
	if err == nil {
		m.mu.connected++
		m.mu.seq++
		seq = m.mu.seq
		m.notifyLocked()
	}
	m.mu.Unlock()
	keep := false
	if err == nil {
		// NB: a dialer authenticates after its handshake whatever the
		// sids, as ZooKeeper's QuorumCnxManager does: a receiver that
		// requires SASL refuses to dial back otherwise.
		_ = nc.SetDeadline(time.Now().Add(m.cfg.HandshakeTimeout))
		if err = m.sendHandshake(nc); err == nil {
			err = m.cfg.Security.AuthenticateLearner(nc)
		}
		_ = nc.SetDeadline(time.Time{})
		switch {
		case err != nil:
			_ = nc.Close()
		case p.sid > m.cfg.MyID:
			m.log.Debug().Int64("peer", p.sid).Msg("smaller sid: handshake sent, connection dropped for the peer to dial back")
			_ = nc.Close()
		default:
			keep = true
		}
	}
	if err != nil && m.ctx.Err() == nil {
		m.log.Warn().Err(err).Int64("peer", p.sid).Strs("addrs", addrs).Msg("cannot open election connection")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// NB: registering and ending the dial in one critical section means
	// that a peer's handshake asking us to dial back either finds the dial
	// under way and the connection not yet up, or the connection up and
	// no dial: never a connection it drops and a dial it cannot start.
	// (ZooKeeper has that window, and waits for the election's next
	// connectAll.)
	if keep {
		m.registerLocked(p, nc, seq)
	}
	p.dialing = false
	m.mu.dials--
	m.notifyLocked()
}

func (m *Manager) dialAny(addrs []string) (net.Conn, error) {
	var err error
	for _, a := range addrs {
		var nc net.Conn
		if nc, err = m.cfg.Security.Dial(m.ctx, a, m.cfg.ConnectTimeout); err == nil {
			return nc, nil
		}
	}
	return nil, err
}

func (m *Manager) sendHandshake(nc net.Conn) error {
	h := Handshake{Version: ProtocolV1, SID: m.cfg.MyID, Addrs: m.advertise[:1]}
	if m.cfg.MultiAddress {
		h.Version, h.Addrs = ProtocolV2, m.advertise
	}
	b, err := h.Encode(nil)
	if err != nil {
		return err
	}
	_, err = nc.Write(b)
	return err
}

func (m *Manager) acceptLoop() {
	defer m.wg.Done()
	failures := 0
	for {
		nc, err := m.ln.Accept()
		if err != nil {
			if m.ctx.Err() != nil {
				return
			}
			failures++
			m.log.Error().Err(err).Int("failures", failures).Msg("election port accept failed")
			if m.cfg.BindRetries > 0 && failures >= m.cfg.BindRetries {
				m.log.Error().Msg("election listener gives up: this server can no longer take part in elections")
				if m.cfg.ListenerFailed != nil {
					m.cfg.ListenerFailed(err)
				}
				return
			}
			select {
			case <-m.ctx.Done():
				return
			case <-time.After(m.cfg.BindRetryInterval):
			}
			continue
		}
		failures = 0
		m.mu.Lock()
		if m.mu.closed {
			m.mu.Unlock()
			_ = nc.Close()
			return
		}
		m.mu.accepted++
		m.mu.seq++
		seq := m.mu.seq
		m.mu.inbound[nc] = struct{}{}
		m.notifyLocked()
		m.wg.Add(1)
		m.mu.Unlock()
		go m.handleInbound(nc, seq)
	}
}

// handleInbound secures a dialer's connection, reads its handshake,
// authenticates it and applies the tie-break.
func (m *Manager) handleInbound(raw net.Conn, seq uint64) {
	defer m.wg.Done()
	remote := raw.RemoteAddr().String()
	_ = raw.SetDeadline(time.Now().Add(m.cfg.HandshakeTimeout))
	var h Handshake
	nc, err := m.cfg.Security.Accept(raw)
	if err == nil {
		if h, err = ReadHandshake(nc); err == nil {
			nc, err = m.cfg.Security.AuthenticateServer(nc)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.notifyLocked() // after the log lines below
	delete(m.mu.inbound, raw)
	if err != nil || m.mu.closed {
		_ = raw.Close()
		if err != nil && !m.mu.closed {
			ev := m.log.Warn().Err(err).Str("remote", remote)
			switch {
			case errors.Is(err, ErrBadHandshake):
				ev.Msg("election connection closed: bad handshake")
			case h.Version != 0 || h.SID != 0: // NB: refused after its handshake
				ev.Int64("peer", h.SID).Msg("election connection refused")
			default:
				ev.Msg("election connection refused")
			}
		}
		return
	}
	sid := h.SID
	if sid == ObserverID {
		sid = m.mu.nextObserver
		m.mu.nextObserver--
		m.log.Info().Int64("peer", sid).Str("remote", remote).Msg("observer without an id: sid assigned")
	}
	switch {
	case sid == m.cfg.MyID:
		_ = nc.Close()
		m.log.Warn().Str("remote", remote).Msg("election connection from a server claiming our own sid, ignored")
	case sid < m.cfg.MyID:
		// Only a connection we dial survives. The peer may have restarted
		// while we still believe in the old connection: drop it first.
		_ = nc.Close()
		p := m.peerLocked(sid)
		if p.conn != nil {
			p.conn.close()
			p.conn = nil
		}
		m.log.Debug().Int64("peer", sid).Msg("larger sid: dialling back")
		var addrs []string
		if len(h.Addrs) > 0 {
			addrs = h.Addrs
		}
		m.connectLocked(p, addrs)
	default:
		_ = nc.SetDeadline(time.Time{})
		m.registerLocked(m.peerLocked(sid), nc, seq)
	}
}

// registerLocked makes nc, the connection numbered seq, the connection to
// p and starts its writer and reader; it replaces an older connection, but
// is dropped if p has a newer one already.
func (m *Manager) registerLocked(p *peer, nc net.Conn, seq uint64) {
	if m.mu.closed {
		_ = nc.Close()
		return
	}
	if old := p.conn; old != nil && old.seq > seq {
		_ = nc.Close()
		m.log.Debug().Int64("peer", p.sid).Msg("election connection dropped: a newer one is up")
		return
	}
	c := &conn{peer: p, nc: nc, seq: seq, done: make(chan struct{})}
	if old := p.conn; old != nil {
		old.close()
		m.log.Info().Int64("peer", p.sid).Msg("election connection replaced by a newer one")
	}
	p.conn = c
	m.mu.established++
	m.notifyLocked()
	m.log.Info().Int64("peer", p.sid).Str("local", nc.LocalAddr().String()).Str("remote", nc.RemoteAddr().String()).
		Msg("election connection up")
	m.wg.Add(2)
	go m.writeLoop(c, p.last, len(p.queue) == 0)
	go m.readLoop(c)
}

// finish closes c and forgets it, unless a newer connection took its
// place already.
func (m *Manager) finish(c *conn, err error) {
	c.close()
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.peer.conn != c {
		return
	}
	c.peer.conn = nil
	m.notifyLocked()
	if !m.mu.closed {
		m.log.Info().Err(err).Int64("peer", c.peer.sid).Msg("election connection down")
	}
}

// requeue puts back a message that a dying connection took from the
// queue, unless a newer message is already waiting.
func (m *Manager) requeue(p *peer, msg []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	select {
	case p.queue <- msg:
	default:
	}
}

// writeLoop sends p's queued messages on c. A connection that starts with
// an empty queue first resends the last message, which the old connection
// may have lost.
func (m *Manager) writeLoop(c *conn, last []byte, resend bool) {
	defer m.wg.Done()
	p := c.peer
	var buf []byte
	write := func(msg []byte) error {
		buf = binary.BigEndian.AppendUint32(buf[:0], uint32(len(msg)))
		buf = append(buf, msg...)
		_, err := c.nc.Write(buf)
		return err
	}
	if resend && last != nil {
		if err := write(last); err != nil {
			m.finish(c, err)
			return
		}
	}
	for {
		select {
		case <-c.done:
			return
		case msg := <-p.queue:
			select {
			case <-c.done:
				m.requeue(p, msg)
				return
			default:
			}
			m.mu.Lock()
			p.last = msg
			m.mu.Unlock()
			if err := write(msg); err != nil {
				m.requeue(p, msg)
				m.finish(c, err)
				return
			}
		}
	}
}

// readLoop reads framed messages from c into the receive queue. A frame
// length of 0 or less, or above MaxMessage, closes the connection.
func (m *Manager) readLoop(c *conn) {
	defer m.wg.Done()
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(c.nc, hdr[:]); err != nil {
			m.finish(c, err)
			return
		}
		n := int32(binary.BigEndian.Uint32(hdr[:]))
		if n <= 0 || n > MaxMessage {
			m.log.Warn().Int64("peer", c.peer.sid).Int32("len", n).Msg("election connection closed: bad frame length")
			m.finish(c, fmt.Errorf("transport: frame length %d", n))
			return
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(c.nc, msg); err != nil {
			m.finish(c, err)
			return
		}
		m.deliver(Message{From: c.peer.sid, Data: msg})
	}
}
