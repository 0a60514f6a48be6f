// Package scenario is the differential framework of the compat suite. A
// Scenario is a function that drives one or more raw sessions against a
// Target and records, step by step, what it sent and what came back. The
// runner executes a scenario on two targets (Apache ZooKeeper and
// gokeeper), normalises both transcripts and reports the first divergence.
package scenario

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gokeeper/gokeeper/compat-tests/rawclient"
	"github.com/gokeeper/gokeeper/jute"
)

// Target is a server a scenario runs against.
type Target struct {
	// Name identifies the server in reports ("zookeeper", "gokeeper").
	Name string
	// Addr is the client port address.
	Addr string
	// AdminAddr is the AdminServer address, or "" if there is none.
	AdminAddr string
	// MinSessionTimeoutMs and MaxSessionTimeoutMs are the configured
	// session timeout bounds.
	MinSessionTimeoutMs int32
	MaxSessionTimeoutMs int32
	// IOTimeout bounds every read of every client (default 5 s).
	IOTimeout time.Duration
	// CloseWait is how long ExpectClosed waits for the server to close
	// the connection (default IOTimeout): the whole wait when it does not.
	CloseWait time.Duration
	// Aliases are old, new pairs (as for strings.NewReplacer) replaced in
	// node data before it is recorded: an ensemble's server.N addresses,
	// which /zookeeper/config holds, become the same tokens on ensembles
	// that listen on other ports.
	Aliases []string
}

// Scenario is one named differential test.
type Scenario struct {
	// Name is unique and stable; DIVERGENCES.md refers to it.
	Name string
	// Run performs the steps.
	Run func(r *Run)
}

// Entry is one line of a transcript.
type Entry struct {
	// Step is the number of the step that produced the line (1-based).
	Step int
	// Text is the normalised line.
	Text string
}

// Transcript is the normalised record of one scenario run.
type Transcript struct {
	Scenario string
	Target   string
	Entries  []Entry
}

// String renders the transcript, one entry per line.
func (t *Transcript) String() string {
	var b strings.Builder
	for _, e := range t.Entries {
		fmt.Fprintf(&b, "%3d %s\n", e.Step, e.Text)
	}
	return b.String()
}

// Run is the state of one scenario execution on one target. Scenario code
// calls its methods; each records one step.
type Run struct {
	// Target is the server.
	Target Target
	// Root is the znode this run owns; all its nodes live below it.
	Root string

	norm     *Normalizer
	tr       *Transcript
	step     int
	sessions []*Session
	// unorderedEvents makes the next Sync sort each session's events: set
	// while a session closes or expires, because ZooKeeper deletes a
	// session's ephemerals in hash-set order.
	unorderedEvents bool
	// cleanupLater holds sessions that are no longer recorded but may
	// still need closing.
	cleanupLater []*Session
}

// Session is one client connection (and the ZooKeeper session it carries)
// inside a Run.
type Session struct {
	// Name is the session's label in the transcript (c1, c2, ...).
	Name string
	// ID and Passwd identify the ZooKeeper session for reconnects.
	ID     int64
	Passwd []byte
	// Client is the underlying raw client.
	Client *rawclient.Client
	// CodeOnly makes replies record only their error code and zxid, for
	// reads of nodes shared by all scenarios (such as "/") whose stat
	// changes from run to run.
	CodeOnly bool

	run     *Run
	dead    bool
	closed  bool
	lastZxd int64
}

// Execute runs sc on target with its nodes under root (which must not
// exist yet) and returns the normalised transcript. It closes every
// session the scenario opened, so no session expires later and disturbs
// the zxids of the next scenario.
func Execute(target Target, sc Scenario, root string) *Transcript {
	if target.IOTimeout == 0 {
		target.IOTimeout = 5 * time.Second
	}
	if target.CloseWait == 0 {
		target.CloseWait = target.IOTimeout
	}
	r := &Run{
		Target: target,
		Root:   root,
		norm:   NewNormalizer(root, time.Now()),
		tr:     &Transcript{Scenario: sc.Name, Target: target.Name},
	}
	if len(target.Aliases) > 0 {
		r.norm.aliases = strings.NewReplacer(target.Aliases...)
	}
	defer r.cleanup()
	setup := r.connect(rawclient.ConnectOptions{TimeoutMs: 10000}, false)
	if setup != nil {
		setup.call(false, "", jute.OpCreate, &jute.CreateRequest{Path: root, Acl: jute.OpenACLUnsafe()})
		if _, _, err := setup.Client.CloseSession(); err == nil {
			setup.closed = true
		}
		setup.Client.Close()
		r.sessions = nil
		r.cleanupLater = append(r.cleanupLater, setup)
	}
	r.runRecorded(sc)
	return r.tr
}

// runRecorded runs sc. A panic in its code is recorded as the last line
// of the transcript instead of ending the suite.
//
// NB: scenario code uses the session Connect returns without checking
// for nil; when a server is too slow to answer a handshake within
// IOTimeout, the next step panics on it. The transcript then differs from
// any complete one, so the run fails, and the next scenarios still run.
func (r *Run) runRecorded(sc Scenario) {
	defer func() {
		if p := recover(); p != nil {
			r.step++
			r.add(fmt.Sprintf("! scenario aborted: %v", p))
		}
	}()
	sc.Run(r)
}

// Log appends a free-form line to the transcript (normalised for paths).
func (r *Run) Log(format string, args ...any) {
	r.step++
	r.add(r.norm.Path(fmt.Sprintf(format, args...)))
}

// P returns root joined with rel ("a/b" -> "<root>/a/b"; "" -> root).
func (r *Run) P(rel string) string {
	if rel == "" {
		return r.Root
	}
	return r.Root + "/" + rel
}

// Norm returns the run's normaliser.
func (r *Run) Norm() *Normalizer { return r.norm }

func (r *Run) add(text string) {
	r.tr.Entries = append(r.tr.Entries, Entry{Step: r.step, Text: text})
}

// Connect opens a new session with a 10 s timeout and records the
// handshake.
func (r *Run) Connect() *Session {
	return r.ConnectWith(rawclient.ConnectOptions{TimeoutMs: 10000})
}

// ConnectWith opens a connection with the given handshake fields and
// records the server's answer. It returns nil when the connection could
// not be made at all.
func (r *Run) ConnectWith(opts rawclient.ConnectOptions) *Session {
	r.step++
	return r.connect(opts, true)
}

// Reconnect opens a new connection that resumes s's session (same id and
// password), with lastZxidSeen set to the last zxid s saw.
func (r *Run) Reconnect(s *Session) *Session {
	return r.ConnectWith(rawclient.ConnectOptions{TimeoutMs: 10000, SessionID: s.ID, Passwd: s.Passwd, LastZxidSeen: s.lastZxd})
}

func (r *Run) connect(opts rawclient.ConnectOptions, record bool) *Session {
	name := fmt.Sprintf("c%d", len(r.sessions)+1)
	c, res, err := rawclient.Connect(r.Target.Addr, opts, r.Target.IOTimeout)
	desc := fmt.Sprintf("%s connect pv=%d lastZxid=%s timeout=%d session=%s pw=%d ro=%v omitRO=%v",
		name, opts.ProtocolVersion, r.relZxid(opts.LastZxidSeen), opts.TimeoutMs, r.norm.Session(opts.SessionID),
		len(opts.Passwd), opts.ReadOnly, opts.OmitReadOnly)
	if err != nil {
		if record {
			r.add(desc + " -> ! " + errClass(err))
		}
		return nil
	}
	resp := res.Response
	s := &Session{Name: name, ID: resp.SessionId, Passwd: resp.Passwd, Client: c, run: r}
	if opts.SessionID != 0 && resp.SessionId == opts.SessionID {
		s.lastZxd = opts.LastZxidSeen
	}
	r.sessions = append(r.sessions, s)
	if record {
		pw := fmt.Sprintf("pw=%d", len(resp.Passwd))
		if allZero(resp.Passwd) {
			pw += "(zero)"
		}
		r.add(fmt.Sprintf("%s -> pv=%d timeout=%d session=%s %s ro=%v roPresent=%v",
			desc, resp.ProtocolVersion, resp.TimeOut, r.norm.Session(resp.SessionId), pw, resp.ReadOnly, res.ReadOnlyPresent))
	}
	if resp.TimeOut <= 0 {
		// A refused session: the server closes the connection next.
		s.dead = true
		s.closed = true
		_, closed := c.WaitClosed(r.Target.IOTimeout)
		if record {
			r.add(fmt.Sprintf("%s closed=%v", name, closed))
		}
		c.Close()
	}
	return s
}

// relZxid renders a zxid chosen by the scenario: values computed from the
// zxids the run saw are normalised, small constants are kept.
func (r *Run) relZxid(z int64) string {
	if z == 0 || !r.norm.haveBase {
		return fmt.Sprint(z)
	}
	return r.norm.Zxid(z)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return len(b) > 0
}

func errClass(err error) string {
	switch {
	case err == nil:
		return "ok"
	case strings.Contains(err.Error(), "timeout"):
		return "timeout"
	default:
		return "closed"
	}
}

// Sync flushes watch events: it pings every live session in order and
// records the events each received before its ping reply. Because a server
// answers a session's requests in order and queues watch events before
// later replies, this makes event recording deterministic.
func (r *Run) Sync() {
	for _, s := range r.sessions {
		if s.dead {
			continue
		}
		_, events, err := s.Client.Ping()
		lines := make([]string, len(events))
		for i := range events {
			lines[i] = s.Name + " " + r.norm.Frame(&events[i])
		}
		if r.unorderedEvents {
			sort.Strings(lines)
		}
		for _, l := range lines {
			r.add(l)
		}
		if err != nil {
			// NB: not recorded: whether the ping beats a server-initiated
			// close is a race. The next step on this session records
			// "! closed" instead.
			s.dead = true
		}
	}
}

// cleanup closes every session the run opened. Sessions whose connection
// died are resumed on a new connection first. Nothing is recorded.
func (r *Run) cleanup() {
	for _, s := range append(r.sessions, r.cleanupLater...) {
		if s.closed || s.ID == 0 {
			if s.Client != nil {
				s.Client.Close()
			}
			continue
		}
		if !s.dead {
			_, _, err := s.Client.CloseSession()
			s.Client.Close()
			if err == nil {
				continue
			}
		}
		c, res, err := rawclient.Connect(r.Target.Addr, rawclient.ConnectOptions{TimeoutMs: 10000, SessionID: s.ID, Passwd: s.Passwd}, r.Target.IOTimeout)
		if err != nil {
			continue
		}
		if res.Response.TimeOut > 0 {
			_, _, _ = c.CloseSession()
		}
		c.Close()
	}
}

// Step records a step of this session: the description, then the reply
// (or the connection failure), then the events each live session received
// up to that point.
func (s *Session) call(record bool, desc string, op jute.OpCode, req jute.Record) rawclient.Frame {
	var body []byte
	if req != nil {
		body = req.Encode(nil)
	}
	return s.callRaw(record, desc, jute.RequestHeader{Xid: s.Client.NextXid(), Type: int32(op)}, body, true)
}

func (s *Session) callRaw(record bool, desc string, hdr jute.RequestHeader, body []byte, bumpXid bool) rawclient.Frame {
	r := s.run
	if record {
		r.step++
	}
	if s.dead {
		if record {
			r.add(s.Name + " " + desc + " -> ! closed")
		}
		return rawclient.Frame{Header: jute.ReplyHeader{Err: int32(jute.CodeConnectionLoss)}}
	}
	var (
		f      rawclient.Frame
		events []rawclient.Frame
		err    error
	)
	if bumpXid {
		_, err = s.Client.SendBytes(jute.OpCode(hdr.Type), body)
	} else {
		err = s.Client.SendHeader(hdr, body)
	}
	if err == nil {
		f, events, err = s.Client.Wait(hdr.Xid)
	}
	if record {
		for i := range events {
			r.add(s.Name + " " + r.norm.Frame(&events[i]))
		}
	}
	if err != nil {
		s.dead = true
		if record {
			r.add(s.Name + " " + desc + " -> ! " + errClass(err))
			r.Sync()
		}
		return rawclient.Frame{Header: jute.ReplyHeader{Err: int32(jute.CodeConnectionLoss)}}
	}
	if f.Header.Zxid > s.lastZxd {
		s.lastZxd = f.Header.Zxid
	}
	if record {
		text := r.norm.Frame(&f)
		if s.CodeOnly {
			text = codeName(f.Err()) + " zxid=" + r.norm.Zxid(f.Header.Zxid)
		}
		r.add(s.Name + " " + desc + " -> " + text)
		r.Sync()
	}
	return f
}

// LastZxid returns the highest zxid this session has seen in a reply.
func (s *Session) LastZxid() int64 { return s.lastZxd }

// Dead reports whether the session's connection is gone.
func (s *Session) Dead() bool { return s.dead }

// SyncUnordered is Sync with each session's events sorted, for changes
// whose events ZooKeeper emits in hash-set order (a session's ephemerals
// vanishing on expiry).
func (r *Run) SyncUnordered() {
	r.unorderedEvents = true
	r.Sync()
	r.unorderedEvents = false
}
