package server

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/datatree"
	"github.com/gokeeper/gokeeper/internal/metrics"
	"github.com/gokeeper/gokeeper/jute"
	"github.com/gokeeper/gokeeper/persistence"
	"github.com/gokeeper/gokeeper/quorum"
)

// Errors the server returns to the connection layer.
var (
	// ErrZxidAhead refuses a client that has seen a later zxid than this
	// server has: it must try another server (ZooKeeper closes the socket).
	ErrZxidAhead = errors.New("server: client has seen a zxid ahead of the server")
	// ErrClosed means the server is shutting down.
	ErrClosed = errors.New("server: closed")
)

// standaloneSID is the server id a standalone server puts in the high byte
// of its session ids, as ZooKeeperServer does (createSessionTrackerServerId).
const standaloneSID = 1

// Sink receives what the server sends to one client connection; package
// wire implements it. Reply calls for one client arrive in the order of
// its requests; Event calls may come from other goroutines at any time.
// Neither may block on the network.
//
// NB: Reply and Event only queue; what is queued leaves on Flush. The
// server calls Flush once it has released its locks after the replies and
// events it queued for a sink (the applier once per batch, so one batch's
// replies to a connection share one write); the connection layer flushes
// after the requests it hands to Client.Handle, before it waits for more,
// which covers what Handle answers itself.
type Sink interface {
	// Reply queues a reply. body is only valid during the call: the
	// server reuses it for the next reply, so the sink copies what it
	// keeps.
	Reply(xid int32, zxid int64, code jute.Code, body []byte)
	// Event queues a watch notification.
	Event(ev datatree.Event)
	// Flush sends what Reply and Event queued. It may write to the
	// network but must not wait on it.
	Flush()
	// Close closes the connection once what is queued has been written.
	Close(reason string)
}

// Server is a standalone ZooKeeper server: an ensemble of one, with the
// single write path prep -> log -> commit -> apply.
type Server struct {
	cfg   Config
	log   zerolog.Logger
	tree  *datatree.Tree
	store *persistence.Store
	prepO PrepOptions
	// enforce is the auth enforcement of enforce.auth.* and
	// sessionRequireClientSASLAuth.
	enforce AuthEnforcement
	// now is the wall clock: znode ctime/mtime, TTLs and what operators
	// read. Nothing that must not jump (session expiry, latencies) uses it.
	now func() time.Time
	// start is when the server was created, with its monotonic reading:
	// sinceStart and sessionMs count from it.
	start time.Time

	// applyMu is held exclusively while a txn is applied, its watch
	// events are queued and its reply is queued; reads hold it shared
	// while they read the tree and queue their reply. NB: so a client
	// always receives the reply that registered a watch before any event
	// that watch fires, and sees a watch event before data that is newer.
	applyMu sync.RWMutex

	// prep, zxid and prepCh belong to the write path's first half, which
	// runs on the prep goroutine only (prepLoop).
	prep   *Prepper
	zxid   int64 // last zxid handed out
	prepCh chan *write
	// sub fences submit against Close: submit holds it shared while it
	// hands a write to prepCh, and Close sets closed under it once stop
	// is closed. NB: so no write enters prepCh after Close has taken
	// what is left there, and none waits for an answer that never comes.
	sub struct {
		sync.RWMutex
		closed bool
	}
	// logBatches keeps *logBatch values for reuse: the write path would
	// otherwise allocate a buffer as large as its txns for every batch.
	logBatches sync.Pool
	// pendings keeps *pending values for reuse (see pending);
	// pendingsLive counts those taken and not yet put back, 0 whenever
	// no write is in flight.
	pendings     sync.Pool
	pendingsLive atomic.Int64

	// wmu guards the write path's state shared with other goroutines.
	wmu struct {
		sync.Mutex
		failed error // set once the log failed or the server closed: no more writes
		closed bool  // Close has begun: no new background work
	}

	applyCh chan *write
	// touched lists the clients the applier queued replies or events for
	// in its current batch (applyGen), to flush after it (applier only).
	touched  []*Client
	applyGen uint64
	// digestMismatched is set once a txn's digest did not match the
	// tree's (applier only): only the first is logged, as ZooKeeper does.
	digestMismatched bool
	// snapDigest is the loaded snapshot's digest trailer until the txn
	// of its zxid is applied (applier only; ZooKeeper's
	// digestFromLoadedSnapshot): see checkDigest.
	snapDigest persistence.ZxidDigest
	// digests is ZooKeeper's digest log (the hash command): the tree's
	// digest after each applied txn whose zxid is a multiple of
	// digestLogInterval, the newest digestLogLimit of them.
	digests struct {
		sync.Mutex
		log []persistence.ZxidDigest
	}

	smu struct {
		sync.Mutex
		tracker *sessionTracker
		// local tracks an ensemble member's local sessions
		// (localSessionsEnabled, and read-only mode's): they live on
		// this member only, and no txn makes, touches or closes them.
		local   *sessionTracker
		nextID  int64
		clients map[int64]*Client // session id -> current connection
	}
	watchers   sync.Map // datatree.WatcherID -> *Client
	nextWatch  atomic.Int64
	inFlight   chan struct{} // globalOutstandingLimit tokens
	snapActive atomic.Bool
	sinceSnap  int   // txns applied since the last snapshot (applier only)
	snapAt     int   // txns since the last snapshot that make the next one due (applier only)
	snapSizeAt int64 // bytes logged since the last snapshot that make the next one due; 0: no limit (applier only)
	snapLogged int64 // store.LoggedBytes() when the last snapshot began (applier only)

	Stats Stats
	// metrics is the registry of ZooKeeper's metrics that the server,
	// its store and its peer record in; m holds the server's own.
	metrics *metrics.Registry
	m       serverMetrics
	// prepWaits and prepTimes collect the prep stage's per-write values
	// of a batch (prep goroutine only); applyLatencies the applier's
	// (applier only): each summary takes a batch's under one lock.
	prepWaits, prepTimes, applyLatencies []int64

	// ens is the member's part in an ensemble; nil when standalone.
	ens *ensemble

	stopOnce sync.Once
	stop     chan struct{}
	bg       sync.WaitGroup // prep, expiry, containers, purge, snapshots
	wg       sync.WaitGroup // the applier
}

// write is one txn on its way through log and apply.
type write struct {
	op     jute.OpCode // the request's op (the txn may be an ErrorTxn)
	req    *Request    // until prepared
	txn    Txn
	client *Client                // nil for server-initiated txns
	slot   *slot                  // the client's reply slot
	done   func(*datatree.Result) // optional, runs under applyMu after apply
	queued time.Duration          // when it was queued for prep, on the sinceStart clock
}

// New opens the store, recovers the tree (newest snapshot plus the log
// after it) and returns a server ready to Start.
func New(cfg Config, log zerolog.Logger) (*Server, error) {
	return newServer(cfg, log, nil)
}

// NewOnFS is New with the store's files on fs (nil: the OS's), for
// builds that inject disk faults (chaos/diskfault).
func NewOnFS(cfg Config, log zerolog.Logger, fs vfs.FS) (*Server, error) {
	return newServer(cfg, log, fs)
}

// newServer is New with the file system under the store (nil: the OS's).
func newServer(cfg Config, log zerolog.Logger, fs vfs.FS) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		log:      log,
		now:      time.Now,
		applyCh:  make(chan *write, 4096),
		prepCh:   make(chan *write, prepBatch),
		applyGen: 1, // NB: a new Client's touchedIn is 0
		stop:     make(chan struct{}),
		inFlight: make(chan struct{}, max(cfg.GlobalOutstandingLimit, 1)),
		metrics:  metrics.NewRegistry(),
	}
	s.m = newServerMetrics(s.metrics)
	s.pendings.New = func() any { return new(pending) }
	s.logBatches.New = func() any {
		lb := &logBatch{s: s}
		lb.done = lb.logged
		return lb
	}
	s.prepO = prepOptionsFromConfig(cfg, log)
	reg, err := AuthRegistryFromConfig(cfg)
	if err != nil {
		return nil, err
	}
	s.prepO.AuthProviders = reg
	if s.enforce, err = cfg.AuthEnforcement(reg); err != nil {
		return nil, err
	}
	var topts datatree.Options
	if cfg.Distributed() {
		// NB: a member's /zookeeper/config holds the membership, as
		// ZooKeeper's initConfigInZKDatabase sets it at start.
		topts = datatree.Options{ConfigData: []byte(cfg.MembershipString()), ConfigZxid: cfg.ConfigVersion, ConfigTime: s.now().UnixMilli()}
	}
	s.tree = datatree.New(topts)
	s.start = time.Now()
	s.smu.tracker = newSessionTracker(int64(cfg.TickTime), s.sessionMs())
	s.smu.local = newSessionTracker(int64(cfg.TickTime), s.sessionMs())
	s.smu.clients = make(map[int64]*Client)
	sid := int64(standaloneSID)
	if cfg.Distributed() {
		sid = cfg.ServerID
	}
	s.smu.nextID = makeSessionIDBase(sid, s.now().UnixMilli())

	po := persistenceOptions(cfg, log)
	po.Metrics = s.metrics
	if fs != nil {
		po.FS = fs
	}
	st, err := persistence.Open(po)
	if err != nil {
		return nil, err
	}
	s.store = st
	if err := s.recover(); err != nil {
		st.Close()
		return nil, err
	}
	last := s.tree.LastZxid()
	epoch := jute.ZxidEpoch(last) + 1
	s.zxid = jute.MakeZxid(epoch, 0)
	s.prep = NewPrepper(s.tree, s.prepO)
	s.prep.checkSession = s.checkSession
	s.prep.changesQueued, s.prep.changesRemoved = s.m.changesQueued, s.m.changesGone
	s.resetSnapThresholds()
	if cfg.Distributed() {
		// NB: epoch 0 is never led: the first leadership resets it.
		s.zxid = 0
		if s.ens, err = newEnsemble(s); err != nil {
			st.Close()
			return nil, err
		}
		s.prep.quorum = s.ens
	}
	s.log.Info().Str("zxid", fmt.Sprintf("0x%x", last)).Uint32("epoch", epoch).
		Int("sessions", s.smu.tracker.count()).Int("znodes", s.tree.NodeCount()).Msg("recovered")
	return s, nil
}

// recover loads the newest snapshot and replays the log after it, and
// records how long each took (dbinittime, startup_*).
func (s *Server) recover() error {
	start := s.sinceStart()
	nowMs := start.Milliseconds()
	snapZxid, digest, ok, err := s.store.LoadLatestSnapshotDigest(
		func(sess persistence.Session) { s.smu.tracker.add(sess.ID, sess.Timeout, nowMs) },
		func(n *persistence.Node) error {
			return s.tree.Restore(&datatree.SnapshotNode{Path: n.Path, Data: n.Data, ACL: n.ACL, Stat: n.Stat})
		})
	if err != nil {
		return err
	}
	if ok {
		s.tree.SetLastZxid(snapZxid)
		s.snapDigest = digest
		if digest.Zxid <= snapZxid {
			// NB: the snapshot was not fuzzy (or its trailer is of no
			// use): the tree is exact now, and every txn is compared.
			s.snapDigest = persistence.ZxidDigest{}
			if digest.Zxid == snapZxid {
				s.compareDigest(snapZxid, digest.Digest, s.tree.Digest())
			}
		}
	}
	loaded := s.sinceStart()
	s.m.snapLoadTime.Add(msSince(start, loaded))
	var txns int64
	if !s.cfg.Distributed() {
		// NB: an ensemble member's state is what was committed; the log
		// after it is applied as its leader commits it. The log replayed
		// counts towards the next snapshot's bytes, as if it had been
		// logged before the snapshot's LoggedBytes reading.
		err = s.store.Replay(snapZxid, func(e persistence.Entry) error {
			s.snapLogged -= int64(len(e.Data))
			txn, err := DecodeTxn(e.Data)
			if err != nil {
				return fmt.Errorf("server: txn 0x%x in the log: %w", e.Zxid, err)
			}
			res := s.tree.Apply(&txn.Hdr, txn.Body)
			s.checkDigest(&txn, res.Digest)
			s.trackSessionTxn(&txn, nowMs)
			txns++
			return nil
		})
		if err != nil {
			return err
		}
	}
	end := s.sinceStart()
	s.m.txnsLoaded.Add(txns)
	s.m.txnsLoadTime.Add(msSince(loaded, end))
	s.m.dbInitTime.Add(msSince(start, end))
	return nil
}

// Start runs the applier, session expiry, container cleanup and, when
// autopurge.purgeInterval is set, the purge of old snapshots and log.
func (s *Server) Start() {
	s.wg.Add(1)
	go s.applyLoop()
	s.bg.Add(3)
	go s.prepLoop()
	go s.expiryLoop()
	go s.containerLoop()
	switch {
	case s.cfg.AutopurgePurgeInterval > 0 && s.ens != nil:
		// NB: a purge would drop log a leader still offers by DIFF.
		s.log.Warn().Msg("autopurge.purgeInterval is not yet supported in an ensemble: nothing is purged")
	case s.cfg.AutopurgePurgeInterval > 0:
		s.bg.Add(1)
		go s.purgeLoop()
	}
}

// purgeLoop keeps the newest autopurge.snapRetainCount snapshots and the
// log after the oldest of them, at start and then every purgeInterval, as
// ZooKeeper's DatadirCleanupManager does.
func (s *Server) purgeLoop() {
	defer s.bg.Done()
	t := time.NewTicker(s.cfg.AutopurgePurgeInterval)
	defer t.Stop()
	for {
		if err := s.store.Purge(s.cfg.AutopurgeSnapRetainCount); err != nil {
			s.log.Error().Err(err).Msg("autopurge failed")
		}
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

// Close stops the server: no new requests, in-flight ones finish, the
// store is closed.
func (s *Server) Close() error {
	var err error
	s.stopOnce.Do(func() {
		close(s.stop)
		s.wmu.Lock()
		s.wmu.closed = true
		if s.wmu.failed == nil {
			s.wmu.failed = ErrClosed
		}
		s.wmu.Unlock()
		s.smu.Lock()
		for _, c := range s.smu.clients {
			c.sink.Close("server shutting down")
		}
		s.smu.Unlock()
		if s.ens != nil {
			s.ens.close()
		}
		// NB: a submit blocked on a full prepCh gives up on stop; once
		// the fence is up, nothing more enters prepCh.
		s.sub.Lock()
		s.sub.closed = true
		s.sub.Unlock()
		// NB: stop the loops and let a snapshot in progress finish before
		// the store closes; closing the store flushes queued appends, whose
		// callbacks feed the applier, so the applier stops last.
		s.bg.Wait()
		for len(s.prepCh) > 0 {
			s.refuseWrite(<-s.prepCh, ErrClosed)
		}
		err = s.store.Close()
		close(s.applyCh)
		s.wg.Wait()
	})
	return err
}

// Tree returns the server's znode tree (for four-letter words and tests).
func (s *Server) Tree() *datatree.Tree { return s.tree }

// Config returns the server's configuration, with the membership a
// reconfig activated since the start in place of the one it started with
// (conf prints it).
func (s *Server) Config() Config {
	c := s.cfg
	if s.ens != nil {
		if a := s.ens.active.Load(); a != nil {
			c.Servers, c.ConfigVersion = a.servers, a.version
		}
	}
	return c
}

// submit queues a write for the prep goroutine. It must be called in
// each session's request order; req.Body must stay untouched afterwards.
func (s *Server) submit(req *Request, w *write) {
	w.req = req
	if s.ens != nil && s.ens.submit(req, w) {
		return
	}
	s.sub.RLock()
	if s.sub.closed {
		s.sub.RUnlock()
		s.refuseWrite(w, ErrClosed)
		return
	}
	w.queued = s.sinceStart()
	s.m.prepQueued.Add(1)
	select {
	case s.prepCh <- w:
	case <-s.stop:
		s.refuseWrite(w, ErrClosed)
	}
	s.sub.RUnlock()
}

// prepLoop is the write path's first half, on one goroutine as ZooKeeper's
// PrepRequestProcessor: it takes every write queued (up to prepBatch),
// assigns zxids, prepares the txns and hands them to the log in one
// Append, so txns reach the log in zxid order and share a sync.
func (s *Server) prepLoop() {
	defer s.bg.Done()
	batch := make([]*write, 0, prepBatch)
	for {
		select {
		case w := <-s.prepCh:
			batch = append(batch[:0], w)
		case <-s.stop:
			return // NB: Close refuses what is left in prepCh
		}
	fill:
		for len(batch) < cap(batch) {
			select {
			case w := <-s.prepCh:
				batch = append(batch, w)
			default:
				break fill
			}
		}
		s.m.prepQueueSize.Add(int64(len(batch) + len(s.prepCh)))
		s.prepBatch(batch)
		clear(batch)
	}
}

// prepBatch bounds the writes prepared and appended together.
const prepBatch = 256

func (s *Server) prepBatch(batch []*write) {
	s.wmu.Lock()
	failed := s.wmu.failed
	s.wmu.Unlock()
	if failed != nil {
		for _, w := range batch {
			s.refuseWrite(w, failed)
		}
		return
	}
	if s.ens != nil {
		s.proposeBatch(batch)
		return
	}
	lb := s.logBatches.Get().(*logBatch)
	lb.ws = append(lb.ws[:0], batch...)
	size := 0
	t := s.sinceStart()
	for _, w := range lb.ws {
		s.zxid++
		t = s.prepOne(w, t)
		size += txnSize(&w.txn)
	}
	s.prepped()
	// NB: one buffer for the batch, sized up front; each entry is a slice
	// of it that the store owns until the callback.
	buf := slices.Grow(lb.buf[:0], size)
	lb.entries = lb.entries[:0]
	for _, w := range lb.ws {
		start := len(buf)
		buf = EncodeTxn(buf, &w.txn)
		lb.entries = append(lb.entries, persistence.Entry{Zxid: w.txn.Hdr.Zxid, Data: buf[start:len(buf):len(buf)]})
	}
	lb.buf = buf
	s.store.Append(lb.entries, lb.done)
}

// prepOne prepares a write with the zxid s.zxid. start is when its
// preparation began, on the sinceStart clock; it returns when it ended.
// NB: one clock reading per write: a batch's next write starts when the
// one before it ended.
func (s *Server) prepOne(w *write, start time.Duration) time.Duration {
	s.prepWaits = append(s.prepWaits, msSince(w.queued, start))
	w.txn = s.prep.Prep(w.req, s.zxid)
	end := s.sinceStart()
	s.prepTimes = append(s.prepTimes, msSince(start, end))
	if w.req.Op == jute.OpCloseSession {
		s.m.closeSessionPrepTime.Add(msSince(start, end))
		s.smu.Lock()
		s.setClosingLocked(w.req.Session)
		s.smu.Unlock()
	}
	w.req = nil
	return end
}

// prepped records the prep stage's values of the batch just prepared.
func (s *Server) prepped() {
	s.m.prepQueueTime.AddAll(s.prepWaits)
	s.m.prepProcessTime.AddAll(s.prepTimes)
	s.prepWaits, s.prepTimes = s.prepWaits[:0], s.prepTimes[:0]
}

// proposeBatch is prepBatch on an ensemble's leader: the txns go to the
// quorum, and are applied once committed. A member that does not lead
// (any more) gives them up.
func (s *Server) proposeBatch(batch []*write) {
	epoch := s.ens.leadingEpoch()
	if epoch == 0 {
		for _, w := range batch {
			s.abandonWrite(w)
		}
		return
	}
	if quorum.Epoch(s.zxid) != epoch {
		// NB: a new leadership starts from the state with everything
		// its leader logged applied, with nothing outstanding.
		s.ens.applied()
		s.prep.Abort()
		s.zxid = quorum.Zxid(epoch, 0)
	}
	var ws, syncs []*write
	var entries []quorum.Entry
	t := s.sinceStart()
	for _, w := range batch {
		if w.op == jute.OpSync {
			syncs = append(syncs, w)
			continue
		}
		s.zxid++
		t = s.prepOne(w, t)
		ws = append(ws, w)
		entries = append(entries, quorum.Entry{Zxid: w.txn.Hdr.Zxid, Data: EncodeTxn(nil, &w.txn)})
	}
	s.prepped()
	if len(ws) > 0 {
		s.ens.propose(ws, entries)
	}
	// NB: after the batch's txns, which a sync waits for too.
	for _, w := range syncs {
		s.ens.sync(w)
	}
}

// logBatch is what prepBatch hands to the log: the writes, their entries
// and the buffer the entries are encoded in. The store holds entries until
// it calls done, which passes the writes on and puts the batch back in
// Server.logBatches for the next prepBatch.
type logBatch struct {
	s       *Server
	ws      []*write
	entries []persistence.Entry
	buf     []byte
	done    func(error) // lb.logged, allocated once per logBatch
}

// maxKeptBatchBuf bounds the encoding buffer a logBatch keeps for reuse.
const maxKeptBatchBuf = 1 << 20

func (lb *logBatch) logged(err error) {
	s := lb.s
	if err != nil {
		s.logFailed(err)
		for _, w := range lb.ws {
			s.abandonWrite(w)
		}
	} else {
		for _, w := range lb.ws {
			s.applyCh <- w
		}
	}
	clear(lb.ws)
	clear(lb.entries)
	if cap(lb.buf) > maxKeptBatchBuf {
		lb.buf = nil
	}
	s.logBatches.Put(lb)
}

// logFailed stops the write path after the log could not make a txn
// durable: no later write is accepted, and none is acknowledged.
func (s *Server) logFailed(err error) {
	s.wmu.Lock()
	first := s.wmu.failed == nil
	if first {
		s.wmu.failed = err
		s.prep.Abort()
	}
	s.wmu.Unlock()
	if first {
		s.m.unrecoverable.Add(1)
		s.log.Error().Err(err).Msg("txn log failed: refusing all writes until restart")
	}
}

// ReadOnly reports whether the server serves reads only, refusing
// writes with NotReadOnly as ZooKeeper's ReadOnlyZooKeeperServer does,
// and says so as it does: its txn log failed, or it is an ensemble's
// member without a quorum in read-only mode (readonlymode.enabled).
func (s *Server) ReadOnly() bool {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.wmu.failed != nil && !errors.Is(s.wmu.failed, ErrClosed) || s.ens != nil && s.ens.readOnly.Load()
}

// refuseWrite answers a write that never reached the log: NotReadOnly,
// since this server now serves reads only.
func (s *Server) refuseWrite(w *write, err error) {
	s.applyMu.Lock()
	if w.client == nil {
		if w.done != nil {
			w.done(&datatree.Result{Err: jute.CodeNotReadOnly})
		}
		s.applyMu.Unlock()
		return
	}
	c := w.client
	c.complete(w.slot, s.tree.LastZxid(), w.op, &datatree.Result{Err: jute.CodeNotReadOnly})
	s.applyMu.Unlock()
	s.writeDone(w)
	c.sink.Flush()
	if errors.Is(err, ErrClosed) {
		c.sink.Close("server shutting down")
	}
}

// writeDone releases the write path's hold on a client's write.
func (s *Server) writeDone(w *write) {
	if w.slot != nil && w.slot.owner != nil {
		w.slot.owner.release(s)
	}
}

// abandonWrite gives up on a write the log may or may not have made
// durable. NB: its outcome is unknown, so the client gets no answer but
// a closed connection: ConnectionLoss means exactly that to every client.
func (s *Server) abandonWrite(w *write) {
	s.applyMu.Lock()
	if w.client == nil {
		if w.done != nil {
			w.done(&datatree.Result{Err: jute.CodeConnectionLoss})
		}
		s.applyMu.Unlock()
		return
	}
	c := w.client
	c.sink.Close("txn log failure: outcome of a write unknown")
	c.drop(w.slot)
	s.applyMu.Unlock()
	s.writeDone(w)
	c.sink.Flush()
}

// applyLoop applies committed txns in zxid order, as many as have
// arrived (up to applyBatch) under one hold of applyMu.
func (s *Server) applyLoop() {
	defer s.wg.Done()
	batch := make([]*write, 0, applyBatch)
	for w := range s.applyCh {
		batch = append(batch[:0], w)
	fill:
		for len(batch) < cap(batch) {
			select {
			case w, ok := <-s.applyCh:
				if !ok {
					break fill
				}
				batch = append(batch, w)
			default:
				break fill
			}
		}
		// NB: read before applyLocked, which may recycle the write.
		last, txns := int64(0), 0
		for _, w := range batch {
			if w.op != jute.OpSync {
				last, txns = w.txn.Hdr.Zxid, txns+1
			}
		}
		nowMs := s.now().UnixMilli()
		s.applyMu.Lock()
		for _, w := range batch {
			s.applyLocked(w, nowMs)
		}
		s.applyMu.Unlock()
		s.flushTouched()
		s.m.propagationLatency.AddAll(s.applyLatencies)
		s.applyLatencies = s.applyLatencies[:0]

		if txns > 0 {
			s.prep.Applied(last)
			s.maybeSnapshot(txns)
		}
		clear(batch)
	}
}

// touch notes that the applier queued something for c in this batch.
func (s *Server) touch(c *Client) {
	if c.touchedIn != s.applyGen {
		c.touchedIn = s.applyGen
		s.touched = append(s.touched, c)
	}
}

// flushTouched flushes every client the applier queued something for in
// this batch, once applyMu is released, and starts the next batch.
func (s *Server) flushTouched() {
	for _, c := range s.touched {
		c.sink.Flush()
	}
	clear(s.touched)
	s.touched = s.touched[:0]
	s.applyGen++
}

// applyBatch bounds the txns applied under one hold of applyMu, so that
// reads waiting for it are not held up long.
const applyBatch = 128

// applyLocked applies one committed txn, queues the watch events it fired
// and its reply. The caller holds applyMu exclusively; nowMs is the wall
// clock, for propagation_latency.
func (s *Server) applyLocked(w *write, nowMs int64) {
	if w.op == jute.OpSync {
		// NB: an ensemble's sync, answered in its turn: everything
		// committed before it is applied.
		res := datatree.Result{Path: *syncPath(w.req.Body, s.cfg.JuteMaxBuffer)}
		w.client.complete(w.slot, s.tree.LastZxid(), w.op, &res)
		s.touch(w.client)
		s.writeDone(w)
		return
	}
	if ms := latencyMs(nowMs, w.txn.Hdr.Time); ms >= 0 {
		s.applyLatencies = append(s.applyLatencies, ms)
	}
	res := s.tree.Apply(&w.txn.Hdr, w.txn.Body)
	s.checkDigest(&w.txn, res.Digest)
	s.trackSessionTxn(&w.txn, s.sessionMs())
	s.deliverLocked(res.Events)
	if w.client != nil {
		w.client.complete(w.slot, w.txn.Hdr.Zxid, w.op, &res)
		s.touch(w.client)
	}
	if w.done != nil {
		// NB: a copy, so that only writes with a callback pay for the
		// result escaping to the heap.
		r := res
		w.done(&r)
	}
	if jute.OpCode(w.txn.Hdr.Type) == jute.OpCloseSession {
		s.closedSession(w.txn.Hdr.ClientId, w.client != nil)
	}
	s.writeDone(w)
}

// checkDigest compares, as ZooKeeper's DataTree.compareDigest, the
// digest a txn carries with the tree's once it is applied (actual), and
// keeps the digest log. While the log replayed over a fuzzy snapshot has
// not reached the zxid of the snapshot's digest trailer the tree is not
// exact, so it does neither until that txn, where the trailer's digest is
// compared. The caller holds applyMu exclusively (or recovers, before the
// applier starts).
func (s *Server) checkDigest(txn *Txn, actual int64) {
	z := txn.Hdr.Zxid
	switch snap := s.snapDigest; {
	case snap.Zxid != 0 && z < snap.Zxid:
		return
	case snap.Zxid != 0 && z == snap.Zxid:
		s.snapDigest = persistence.ZxidDigest{}
		s.compareDigest(z, snap.Digest, actual)
	default:
		s.snapDigest = persistence.ZxidDigest{}
		if d := txn.Digest; d.Version == datatree.DigestVersion {
			s.compareDigest(z, d.TreeDigest, actual)
		}
	}
	if z%digestLogInterval == 0 {
		s.logDigest(z, actual)
	}
}

// compareDigest counts a digest that is not the tree's at zxid
// (digest_mismatches_count) and logs the first, as ZooKeeper does: this
// member's tree differs from the one the digest was computed on.
func (s *Server) compareDigest(zxid, expected, actual int64) {
	if expected == actual {
		return
	}
	s.m.digestMismatches.Add(1)
	if s.digestMismatched {
		return
	}
	s.digestMismatched = true
	s.log.Error().Str("zxid", fmt.Sprintf("0x%x", zxid)).Int64("expected", expected).Int64("actual", actual).
		Msg("first digest mismatch: this member's tree differs from the one the digest was computed on")
}

// ZooKeeper's digest log: DataTree.DIGEST_LOG_INTERVAL and
// DIGEST_LOG_LIMIT.
const (
	digestLogInterval = 128
	digestLogLimit    = 1024
)

// logDigest adds an entry to the digest log, dropping the oldest beyond
// digestLogLimit.
func (s *Server) logDigest(zxid, digest int64) {
	s.digests.Lock()
	defer s.digests.Unlock()
	if len(s.digests.log) == digestLogLimit {
		s.digests.log = slices.Delete(s.digests.log, 0, 1)
	}
	s.digests.log = append(s.digests.log, persistence.ZxidDigest{Zxid: zxid, Digest: digest})
}

// DigestLog returns the digest log, oldest first: the tree's digest after
// each applied txn whose zxid is a multiple of 128 (past a fuzzy
// snapshot's range, in the log replayed at start), as ZooKeeper's hash
// command lists it. A member that installs a leader's snapshot starts a
// new one, as ZooKeeper's new DataTree does.
func (s *Server) DigestLog() []persistence.ZxidDigest {
	s.digests.Lock()
	defer s.digests.Unlock()
	return slices.Clone(s.digests.log)
}

// deliverLocked queues watch events to their clients. The caller holds
// applyMu exclusively.
func (s *Server) deliverLocked(events []datatree.Event) {
	s.m.watchesFired(events)
	for _, ev := range events {
		if c, ok := s.watchers.Load(ev.Watcher); ok && c.(*Client).mayRead(ev.ACL) {
			c.(*Client).sink.Event(ev)
			s.touch(c.(*Client))
		}
	}
}

// trackSessionTxn keeps the session tracker in step with applied session
// txns (also during log replay); nowMs is on the sessionMs clock.
func (s *Server) trackSessionTxn(txn *Txn, nowMs int64) {
	switch jute.OpCode(txn.Hdr.Type) {
	case jute.OpCreateSession:
		if b, ok := txn.Body.(*jute.CreateSessionTxn); ok {
			s.smu.Lock()
			if _, known := s.smu.tracker.timeout(txn.Hdr.ClientId); !known {
				s.smu.tracker.add(txn.Hdr.ClientId, b.TimeOut, nowMs)
			}
			s.smu.Unlock()
		}
	case jute.OpCloseSession:
		s.smu.Lock()
		s.smu.tracker.remove(txn.Hdr.ClientId)
		s.smu.Unlock()
	}
}

// checkSession is ZooKeeper's SessionTracker.checkSession, for prep:
// CodeSessionExpired once a session's closeSession is on its way (closed
// by its client or expired), CodeUnknownSession once it has been applied.
func (s *Server) checkSession(id int64) jute.Code {
	s.smu.Lock()
	defer s.smu.Unlock()
	if s.smu.tracker.live(id) || s.smu.local.live(id) {
		return jute.CodeOK
	}
	if s.ens != nil && s.cfg.LocalSessionsEnabled && id>>56 != s.cfg.ServerID {
		// NB: as ZooKeeper's LeaderSessionTracker: a session the leader
		// does not know may be another member's local session.
		return jute.CodeOK
	}
	if _, known := s.smu.tracker.timeout(id); known {
		return jute.CodeSessionExpired
	}
	return jute.CodeUnknownSession
}

// closedSession closes the connection of a session whose closeSession
// txn has been applied.
func (s *Server) closedSession(id int64, byClient bool) {
	s.smu.Lock()
	c := s.smu.clients[id]
	delete(s.smu.clients, id)
	s.smu.Unlock()
	if c != nil {
		if byClient {
			c.sink.Close("client closed session")
		} else {
			c.sink.Close("session expired")
		}
	}
	s.log.Info().Str("session", sessionHex(id)).Bool("by_client", byClient).Msg("session closed")
}

// expiryLoop turns expired sessions into closeSession txns. It wakes when
// the next bucket falls due, as ZooKeeper's SessionTrackerImpl waits on
// its ExpiryQueue, so that a session expires at its bucket's time and not
// up to a tick later.
func (s *Server) expiryLoop() {
	defer s.bg.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if s.ens != nil && s.ens.leadingEpoch() == 0 {
				// NB: only an ensemble's leader expires global sessions;
				// every member its local ones, a tick late at most.
				t.Reset(time.Duration(s.cfg.TickTime) * time.Millisecond)
				s.expireLocal()
				continue
			}
			s.smu.Lock()
			now := s.sessionMs()
			ids := s.smu.tracker.expire(now)
			for _, id := range ids {
				s.setClosingLocked(id)
			}
			wait := s.smu.tracker.waitMs(now)
			s.smu.Unlock()
			t.Reset(time.Duration(wait) * time.Millisecond)
			s.expireLocal()
			for _, id := range ids {
				s.expire(id)
			}
		}
	}
}

// expireLocal ends the local sessions that expired: their connections
// close, without a txn.
func (s *Server) expireLocal() {
	s.smu.Lock()
	ids := s.smu.local.expire(s.sessionMs())
	for _, id := range ids {
		s.smu.local.remove(id)
	}
	s.smu.Unlock()
	s.m.staleSessionsExpired.Add(int64(len(ids)))
	for _, id := range ids {
		s.log.Info().Str("session", sessionHex(id)).Msg("local session expired")
		s.closedSession(id, false)
	}
}

// setClosingLocked marks a session closing, in the tracker and on its
// connection, which drops every request after (ZooKeeper's touchSession
// fails for a closing session). The caller holds smu.
func (s *Server) setClosingLocked(id int64) {
	s.smu.tracker.setClosing(id)
	if c := s.smu.clients[id]; c != nil {
		c.closing.Store(true)
	}
}

// expire closes a session the tracker found expired, and marked closing:
// its closeSession txn, as ZooKeeper's SessionTrackerImpl hands it to
// ZooKeeperServer's expire.
func (s *Server) expire(id int64) {
	s.m.staleSessionsExpired.Add(1)
	s.log.Info().Str("session", sessionHex(id)).Msg("session expired")
	s.submit(&Request{Session: id, Op: jute.OpCloseSession, Time: s.now().UnixMilli()},
		&write{op: jute.OpCloseSession})
}

// containerLoop deletes empty containers and expired TTL nodes with
// deleteContainer txns, as ZooKeeper's ContainerManager.
func (s *Server) containerLoop() {
	defer s.bg.Done()
	t := time.NewTicker(containerCheckInterval(s.cfg))
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			if s.ens != nil && s.ens.leadingEpoch() == 0 {
				continue
			}
			for _, p := range s.tree.ExpiredContainers(now.UnixMilli()) {
				s.submit(&Request{Op: jute.OpDeleteContainer, Body: []byte(p), Time: now.UnixMilli()},
					&write{op: jute.OpDeleteContainer})
			}
		}
	}
}

// resetSnapThresholds draws when the next snapshot is due, as ZooKeeper's
// SyncRequestProcessor does, so that the servers of an ensemble do not
// all snapshot at once: after snapCount/2 plus a random share of
// snapCount/2 txns, or after snapSizeLimitInKb/2 plus a random share of
// snapSizeLimitInKb/2 logged bytes (none when snapSizeLimitInKb <= 0).
func (s *Server) resetSnapThresholds() {
	half := max(s.cfg.SnapCount/2, 1)
	s.snapAt = half + rand.IntN(half)
	s.snapSizeAt = 0
	if kb := s.cfg.SnapSizeLimitInKb; kb > 0 {
		halfBytes := max(min(kb, math.MaxInt64/1024)*1024/2, 1)
		s.snapSizeAt = halfBytes + rand.Int64N(halfBytes)
	}
}

// maybeSnapshot starts a fuzzy snapshot in the background when enough
// has been applied since the last one; n txns were just applied. Called by
// the applier only. A snapshot is due on ZooKeeper's size rule, more bytes
// logged since the last one than snapSizeAt however few txns, so that the
// log stays bounded; or on ZooKeeper's count (snapAt) once the log since
// the last snapshot also holds as many bytes as that snapshot. NB: a
// snapshot rewrites the whole tree, so with a large tree and small txns
// ZooKeeper's count alone spent more on snapshots than on the log (a 79 MB
// snapshot every 75k setData of 100 bytes took 40% of the CPU); this way
// snapshots write no more than the log does, and a restart replays at
// most a snapshot's worth of log, or snapSizeLimitInKb (CockroachDB
// truncates its Raft log on the same rule).
func (s *Server) maybeSnapshot(n int) {
	s.sinceSnap += n
	logged := s.store.LoggedBytes() - s.snapLogged
	bySize := s.snapSizeAt > 0 && logged > s.snapSizeAt
	byCount := s.sinceSnap >= s.snapAt && logged >= s.store.SnapshotBytes()
	if !bySize && !byCount {
		return
	}
	if !s.snapActive.CompareAndSwap(false, true) {
		// As ZooKeeper's SyncRequestProcessor: a snapshot is still being
		// written, so this one is skipped and the count starts again.
		s.log.Warn().Msg("too busy to snapshot, skipping")
		s.sinceSnap = 0
		s.resetSnapThresholds()
		return
	}
	// NB: under wmu, so that Close, which marks the write path closed
	// under wmu before it waits for s.bg, sees every snapshot started.
	s.wmu.Lock()
	closing := s.wmu.closed
	if !closing {
		s.bg.Add(1)
	}
	s.wmu.Unlock()
	if closing {
		s.snapActive.Store(false)
		return
	}
	s.sinceSnap = 0
	s.resetSnapThresholds()
	s.snapLogged = s.store.LoggedBytes()
	zxid := s.tree.LastZxid()
	sessions := s.sessionList()
	if s.ens != nil {
		// NB: an ensemble member recovers from its snapshot alone, so the
		// snapshot must be exact: the applier writes it, and waits.
		defer s.bg.Done()
		defer s.snapActive.Store(false)
		if err := s.writeSnapshot(zxid, sessions); err != nil {
			s.log.Error().Err(err).Str("zxid", fmt.Sprintf("0x%x", zxid)).Msg("snapshot failed")
		}
		return
	}
	go func() {
		defer s.bg.Done()
		defer s.snapActive.Store(false)
		if err := s.writeSnapshot(zxid, sessions); err != nil {
			s.log.Error().Err(err).Str("zxid", fmt.Sprintf("0x%x", zxid)).Msg("snapshot failed")
		}
	}()
}

// TakeSnapshot writes a snapshot now (the AdminServer's snapshot command
// and shutdown use it).
func (s *Server) TakeSnapshot() (int64, error) {
	s.applyMu.RLock()
	zxid := s.tree.LastZxid()
	s.applyMu.RUnlock()
	return zxid, s.writeSnapshot(zxid, s.sessionList())
}

func (s *Server) writeSnapshot(zxid int64, sessions []persistence.Session) error {
	start := time.Now()
	err := s.store.WriteSnapshotDigest(zxid, sessions, s.treeSource(), func() persistence.ZxidDigest {
		z, d := s.tree.LastDigest()
		return persistence.ZxidDigest{Zxid: z, Digest: d}
	})
	if err == nil {
		s.log.Info().Str("zxid", fmt.Sprintf("0x%x", zxid)).Dur("took", time.Since(start)).Msg("snapshot written")
	}
	return err
}

// treeSource yields the tree to a snapshot writer.
func (s *Server) treeSource() persistence.SnapshotSource {
	return func(acls func([][]jute.ACL) error, node func(*persistence.Node) error) error {
		var n persistence.Node
		return s.tree.Walk(acls, func(sn *datatree.SnapshotNode) error {
			n = persistence.Node{Path: sn.Path, Data: sn.Data, ACL: sn.ACL, Stat: sn.Stat}
			return node(&n)
		})
	}
}

func (s *Server) sessionList() []persistence.Session {
	s.smu.Lock()
	defer s.smu.Unlock()
	out := make([]persistence.Session, 0, len(s.smu.tracker.sessions))
	for id, ts := range s.smu.tracker.sessions {
		out = append(out, persistence.Session{ID: id, Timeout: ts.timeout})
	}
	return out
}

// Mode is the member's role as srvr and mntr name it: standalone,
// leader, follower, observer, or "" while it is not serving.
func (s *Server) Mode() string {
	if s.ens == nil {
		return "standalone"
	}
	st := s.ens.status()
	if !st.Serving {
		return ""
	}
	switch st.State {
	case quorum.Leading:
		return "leader"
	case quorum.Following:
		return "follower"
	case quorum.Observing:
		return "observer"
	}
	return ""
}

// LastZxid returns the zxid of the last applied txn.
func (s *Server) LastZxid() int64 { return s.tree.LastZxid() }

// SessionCount returns the number of live sessions.
func (s *Server) SessionCount() int {
	s.smu.Lock()
	defer s.smu.Unlock()
	return s.smu.tracker.count()
}

// OutstandingRequests returns how many requests are being processed.
func (s *Server) OutstandingRequests() int { return len(s.inFlight) }

// sessionHex formats a session id as ZooKeeper logs it.
func sessionHex(id int64) string { return fmt.Sprintf("0x%x", uint64(id)) }

// EncodeTxn appends a txn as the log holds it and a PROPOSAL carries it:
// TxnHeader, the body, and the TxnDigest if it has one.
func EncodeTxn(b []byte, t *Txn) []byte {
	b = t.Hdr.Encode(b)
	if t.Body != nil {
		b = t.Body.Encode(b)
	}
	if t.Digest.Version != 0 {
		b = t.Digest.Encode(b)
	}
	return b
}

// txnSize returns the length of EncodeTxn's encoding of t.
func txnSize(t *Txn) int {
	n := t.Hdr.Size()
	if t.Body != nil {
		n += t.Body.Size()
	}
	if t.Digest.Version != 0 {
		n += t.Digest.Size()
	}
	return n
}

// DecodeTxn reads a logged txn. A missing body (an old-format
// closeSession) decodes to a nil Body; a TxnDigest after the body
// (ZooKeeper 3.6+) goes to Digest, and other trailing bytes are ignored.
func DecodeTxn(b []byte) (Txn, error) {
	var t Txn
	var d jute.Decoder
	d.Reset(b, len(b)+1)
	t.Hdr.Decode(&d)
	if err := d.Err(); err != nil {
		return t, err
	}
	if d.Remaining() == 0 {
		return t, nil
	}
	if t.Body = jute.NewTxnRecord(jute.OpCode(t.Hdr.Type)); t.Body != nil {
		t.Body.Decode(&d)
	}
	if d.Err() == nil && d.Remaining() == t.Digest.Size() {
		t.Digest.Decode(&d)
	}
	return t, d.Err()
}

// containerCheckInterval is znode.container.checkIntervalMs (ZooKeeper's
// system property, also accepted in zoo.cfg), one minute by default.
func containerCheckInterval(cfg Config) time.Duration {
	if v, ok := cfg.SystemProperties["znode.container.checkIntervalMs"]; ok {
		if ms, err := strconv.Atoi(v); err == nil && ms > 0 {
			return time.Duration(ms) * time.Millisecond
		}
	}
	return time.Minute
}

func persistenceOptions(cfg Config, log zerolog.Logger) persistence.Options {
	o := persistence.DefaultOptions(cfg.DataDir)
	o.DataLogDir = cfg.EffectiveDataLogDir()
	o.ForceSync = cfg.ForceSync
	o.FsyncWarningThreshold = time.Duration(cfg.FsyncWarningThresholdMs) * time.Millisecond
	o.MaxBuffer = cfg.JuteMaxBuffer
	o.Logger = log
	return o
}

// Uptime returns how long the server has been running.
func (s *Server) Uptime() time.Duration { return s.sinceStart() }

// sinceStart is the monotonic clock request latencies are measured on.
// NB: a time.Duration is a third of a time.Time in every request's slot.
func (s *Server) sinceStart() time.Duration { return time.Since(s.start) }

// sessionMs is the session tracker's clock: milliseconds since start on
// the monotonic clock, so that a step of the wall clock neither expires
// every session at once nor keeps sessions from expiring.
func (s *Server) sessionMs() int64 { return s.sinceStart().Milliseconds() }

func prepOptionsFromConfig(cfg Config, log zerolog.Logger) PrepOptions {
	return PrepOptions{
		ExtendedTypesEnabled: cfg.ExtendedTypesEnabled,
		SuperDigest:          cfg.SuperDigest,
		EnforceQuota:         cfg.EnforceQuota,
		SkipACL:              cfg.SkipACL,
		ReconfigEnabled:      cfg.ReconfigEnabled,
		MaxBuffer:            cfg.JuteMaxBuffer,
		Logger:               log,
	}
}
