package main

// The crash-safety test (project issue 4): raw clients pipeline writes to
// a gokeeper process with forceSync=yes, the process is killed with
// SIGKILL at a random moment, restarted on the same data dir, and what it
// serves is checked against what the clients were told:
//
//   - every acknowledged write is there;
//   - the writes of one session that survived are a prefix of what the
//     session sent (ZooKeeper applies a session's requests in order and the
//     log is cut only at its tail), so an unacknowledged write may be there
//     only if every write sent before it is, and nothing is there twice;
//   - a multi (three creates and a setData) is all there or not at all;
//   - no node exists that no client asked for (children lists compared
//     name by name, and the znode count of the "recovered" log line);
//   - sessions are restored: each worker reconnects with its session id
//     and password and keeps its ephemerals, and a session created during
//     the round whose handshake was answered can reconnect too.
//
// Each round's resolved outcome becomes the exact expectation for every
// later round, so a write lost by a later crash, snapshot or log cut is
// caught too. A small snapCount puts snapshots (and kills in the middle of
// writing one) in most rounds; some rounds send SIGTERM first and kill
// during the clean shutdown, and some restarts are themselves killed
// while recovering. Half the seeds keep the txn log in a dataLogDir.
//
// NB: SIGKILL ends the process, not the machine: what the process wrote
// but did not fsync survives in the page cache, so this test catches
// acknowledging before writing, not a missing fsync (persistence's
// fault-injecting vfs tests cover that).
//
// GOKEEPER_CRASH_ROUNDS sets the number of rounds (default 20) and
// GOKEEPER_CRASH_SEED the seed (default: the clock), which is printed.

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/gokeeper/gokeeper/compat-tests/rawclient"
	"github.com/gokeeper/gokeeper/jute"
)

const (
	// crashWorkers is the number of concurrent client sessions writing.
	crashWorkers = 6
	// crashSessionTimeoutMs is the session timeout the workers ask for;
	// a restart takes far less.
	crashSessionTimeoutMs = 30000
	// crashMaxWindow bounds each worker's number of requests in flight.
	crashMaxWindow = 16
	// crashIOTimeout bounds every read and write of the raw clients.
	crashIOTimeout = 10 * time.Second
)

// crashOpKind is what one write of a worker does.
type crashOpKind int

const (
	// crashCreate creates <dir>/n<k> with data k.
	crashCreate crashOpKind = iota
	// crashSequential creates <dir>/s<k>- persistent sequential.
	crashSequential
	// crashMulti creates <dir>/m<k>a, m<k>b, m<k>c and sets the counter,
	// atomically.
	crashMulti
	// crashDelete deletes <dir>/n<k>, whose create was acknowledged.
	crashDelete
	// crashSet sets the worker's counter to the next value.
	crashSet
	// crashEphemeral creates <ephDir>/r<round>-<k> ephemeral.
	crashEphemeral
)

func (k crashOpKind) String() string {
	return [...]string{"create", "sequential", "multi", "delete", "set", "ephemeral"}[k]
}

// crashOp is one write a worker sent.
type crashOp struct {
	kind crashOpKind
	// k numbers the node(s) the op creates or deletes.
	k int
	// ctr is the counter value a set or multi writes.
	ctr int
}

func (op crashOp) String() string {
	if op.kind == crashSet {
		return fmt.Sprintf("set ctr=%d", op.ctr)
	}
	return fmt.Sprintf("%v k=%d", op.kind, op.k)
}

// crashDir is one worker's directory of one round.
type crashDir struct {
	path  string
	round int
	// sent lists the round's writes in the order sent (acknowledged ones
	// first, as replies come in order); acked counts the acknowledged.
	sent  []crashOp
	acked int
	// applied counts the sent writes found applied after the restart.
	applied int
	// children is the exact child list (sorted) once the restart after
	// its round has been checked; nil before. cversion is the directory's
	// cversion then.
	children []string
	cversion int32
}

// crashFresh is a session a worker opened during a round.
type crashFresh struct {
	id      int64
	passwd  []byte
	conn    *rawclient.Client
	ephPath string
	// ephSent and ephAcked say whether its ephemeral create was sent and
	// acknowledged.
	ephSent, ephAcked bool
}

// crashWorker is one client session of the crash test and its model of
// what it wrote.
type crashWorker struct {
	t   *testing.T
	id  int
	rng *rand.Rand

	sessionID int64
	passwd    []byte
	// maxZxid is the highest zxid any reply to this session carried.
	maxZxid int64
	conn    *rawclient.Client

	ctrPath, ephDir, freshDir string
	// ctr is the counter's durable value as last verified; ctrSent is the
	// last value sent.
	ctr, ctrSent int
	dirs         []*crashDir
	// eph is the exact list of ephemeral names as last verified.
	eph   []string
	fresh *crashFresh
	nextK int
}

func (w *crashWorker) errorf(format string, args ...any) {
	w.t.Helper()
	w.t.Errorf("worker %d (session 0x%x): %s", w.id, w.sessionID, fmt.Sprintf(format, args...))
}

// crashReq is one request of a pipelined batch.
type crashReq struct {
	op  jute.OpCode
	rec jute.Record
}

// crashCall pipelines reqs on c and returns their replies in order.
func crashCall(c *rawclient.Client, reqs []crashReq) ([]rawclient.Frame, error) {
	xids := make([]int32, len(reqs))
	for i, r := range reqs {
		xid, err := c.Send(r.op, r.rec)
		if err != nil {
			return nil, err
		}
		xids[i] = xid
	}
	out := make([]rawclient.Frame, len(reqs))
	for i, xid := range xids {
		f, _, err := c.Wait(xid)
		if err != nil {
			return nil, err
		}
		out[i] = f
	}
	return out, nil
}

func crashCreateReq(path string, data string, mode jute.CreateMode) crashReq {
	return crashReq{jute.OpCreate, &jute.CreateRequest{Path: path, Data: []byte(data), Acl: jute.OpenACLUnsafe(), Flags: int32(mode)}}
}

// setup opens the worker's session and creates its counter, ephemeral
// and fresh-session directories.
func (w *crashWorker) setup(addr string) bool {
	c, res, err := rawclient.Connect(addr, rawclient.ConnectOptions{TimeoutMs: crashSessionTimeoutMs}, crashIOTimeout)
	if err != nil {
		w.errorf("connect: %v", err)
		return false
	}
	w.conn, w.sessionID, w.passwd = c, res.Response.SessionId, res.Response.Passwd
	frames, err := crashCall(c, []crashReq{
		crashCreateReq(w.ctrPath, "0", jute.ModePersistent),
		crashCreateReq(w.ephDir, "", jute.ModePersistent),
		crashCreateReq(w.freshDir, "", jute.ModePersistent),
	})
	if err != nil {
		w.errorf("setup: %v", err)
		return false
	}
	for _, f := range frames {
		if f.Err() != 0 {
			w.errorf("setup: %v", f.Err())
			return false
		}
		w.maxZxid = max(w.maxZxid, f.Header.Zxid)
	}
	return true
}

// prepare creates the worker's directory for round and returns it.
func (w *crashWorker) prepare(round int) *crashDir {
	d := &crashDir{path: fmt.Sprintf("/crash/r%03dw%d", round, w.id), round: round}
	f, _, err := w.conn.Call(jute.OpCreate, &jute.CreateRequest{Path: d.path, Acl: jute.OpenACLUnsafe()})
	if err != nil || f.Err() != 0 {
		w.errorf("create %s: %v %v", d.path, err, f.Err())
		return nil
	}
	w.maxZxid = max(w.maxZxid, f.Header.Zxid)
	w.dirs = append(w.dirs, d)
	return d
}

// nextOp picks the next write at random. deletable lists the n<k> of
// acknowledged creates not yet chosen for deletion.
func (w *crashWorker) nextOp(deletable *[]int) crashOp {
	r := w.rng.IntN(100)
	switch {
	case r < 10 && len(*deletable) > 0:
		i := w.rng.IntN(len(*deletable))
		k := (*deletable)[i]
		*deletable = slices.Delete(*deletable, i, i+1)
		return crashOp{kind: crashDelete, k: k}
	case r < 40:
		w.nextK++
		return crashOp{kind: crashCreate, k: w.nextK}
	case r < 60:
		w.nextK++
		return crashOp{kind: crashSequential, k: w.nextK}
	case r < 75:
		w.nextK++
		w.ctrSent++
		return crashOp{kind: crashMulti, k: w.nextK, ctr: w.ctrSent}
	case r < 92:
		w.ctrSent++
		return crashOp{kind: crashSet, ctr: w.ctrSent}
	default:
		w.nextK++
		return crashOp{kind: crashEphemeral, k: w.nextK}
	}
}

// request encodes op for directory d.
func (w *crashWorker) request(op crashOp, d *crashDir) crashReq {
	switch op.kind {
	case crashCreate:
		return crashCreateReq(fmt.Sprintf("%s/n%d", d.path, op.k), strconv.Itoa(op.k), jute.ModePersistent)
	case crashSequential:
		return crashCreateReq(fmt.Sprintf("%s/s%d-", d.path, op.k), "", jute.ModePersistentSequential)
	case crashMulti:
		m := &rawclient.MultiRequest{}
		for _, suffix := range []string{"a", "b", "c"} {
			r := crashCreateReq(fmt.Sprintf("%s/m%d%s", d.path, op.k, suffix), "", jute.ModePersistent)
			m.Ops = append(m.Ops, rawclient.Op{Type: r.op, Req: r.rec})
		}
		m.Ops = append(m.Ops, rawclient.Op{Type: jute.OpSetData, Req: &jute.SetDataRequest{Path: w.ctrPath, Data: []byte(strconv.Itoa(op.ctr)), Version: -1}})
		return crashReq{jute.OpMulti, m}
	case crashDelete:
		return crashReq{jute.OpDelete, &jute.DeleteRequest{Path: fmt.Sprintf("%s/n%d", d.path, op.k), Version: -1}}
	case crashSet:
		return crashReq{jute.OpSetData, &jute.SetDataRequest{Path: w.ctrPath, Data: []byte(strconv.Itoa(op.ctr)), Version: -1}}
	default:
		return crashCreateReq(fmt.Sprintf("%s/%s", w.ephDir, crashEphName(d.round, op.k)), "", jute.ModeEphemeral)
	}
}

func crashEphName(round, k int) string { return fmt.Sprintf("r%03d-%d", round, k) }

// openFresh opens a new session and creates an ephemeral with it.
func (w *crashWorker) openFresh(addr string, round int) {
	c, res, err := rawclient.Connect(addr, rawclient.ConnectOptions{TimeoutMs: crashSessionTimeoutMs}, crashIOTimeout)
	if err != nil {
		return // the kill came first: the session's creation is unknown
	}
	if res.Response.TimeOut <= 0 {
		w.errorf("fresh session refused: %+v", res.Response)
		c.Close()
		return
	}
	fr := &crashFresh{id: res.Response.SessionId, passwd: res.Response.Passwd, conn: c,
		ephPath: fmt.Sprintf("%s/r%03d", w.freshDir, round)}
	w.fresh = fr
	xid, err := c.Send(jute.OpCreate, &jute.CreateRequest{Path: fr.ephPath, Acl: jute.OpenACLUnsafe(), Flags: int32(jute.ModeEphemeral)})
	if err != nil {
		return
	}
	fr.ephSent = true
	f, _, err := c.Wait(xid)
	if err != nil {
		return
	}
	if f.Err() != 0 {
		w.errorf("fresh session's create %s: %v", fr.ephPath, f.Err())
		return
	}
	fr.ephAcked = true
}

// run pipelines random writes into d until the connection dies (the
// kill) or a reply is wrong. Each acknowledged write adds one to acks;
// the worker that brings it to target closes reached.
func (w *crashWorker) run(addr string, d *crashDir, acks *atomic.Int64, target int64, reached func()) {
	window := 1 + w.rng.IntN(crashMaxWindow)
	freshAt := w.rng.IntN(2 * int(target+1))
	var deletable []int
	type pend struct {
		xid int32
		op  crashOp
	}
	var pending []pend
	for n := 0; ; {
		for len(pending) < window {
			if n == freshAt {
				w.openFresh(addr, d.round)
			}
			op := w.nextOp(&deletable)
			d.sent = append(d.sent, op)
			r := w.request(op, d)
			xid, err := w.conn.Send(r.op, r.rec)
			if err != nil {
				return // sent or not, op stays in d.sent as unacknowledged
			}
			pending = append(pending, pend{xid, op})
			n++
		}
		f, _, err := w.conn.Wait(pending[0].xid)
		if err != nil {
			return
		}
		op := pending[0].op
		pending = pending[1:]
		if f.Err() != 0 {
			w.errorf("round %d: %v: error %v", d.round, op, f.Err())
			return
		}
		if m, ok := f.Record.(*rawclient.MultiResponse); op.kind == crashMulti && (!ok || len(m.Results) != 4 || m.Results[0].Type == jute.OpError) {
			w.errorf("round %d: %v: reply %+v", d.round, op, f.Record)
			return
		}
		w.maxZxid = max(w.maxZxid, f.Header.Zxid)
		d.acked++
		if op.kind == crashCreate {
			deletable = append(deletable, op.k)
		}
		if acks.Add(1) == target {
			reached()
		}
	}
}

// crashNodes counts the znodes the worker's verified model holds.
func (w *crashWorker) crashNodes() int {
	n := 3 + len(w.eph) // counter, ephDir, freshDir
	for _, d := range w.dirs {
		n += 1 + len(d.children)
	}
	return n
}

// verify reconnects the worker's session to the restarted server at addr
// and checks the server's state against the model, then resolves the
// last round's unacknowledged writes from what it found. It returns the
// number of znodes the worker's model held at the restart.
func (w *crashWorker) verify(addr string) (int, bool) {
	if w.conn != nil {
		w.conn.Close()
	}
	c, res, err := rawclient.Connect(addr, rawclient.ConnectOptions{
		TimeoutMs: crashSessionTimeoutMs, SessionID: w.sessionID, Passwd: w.passwd, LastZxidSeen: w.maxZxid,
	}, crashIOTimeout)
	if err != nil {
		w.errorf("reconnect: %v", err)
		return 0, false
	}
	w.conn = c
	if res.Response.SessionId != w.sessionID || res.Response.TimeOut <= 0 {
		w.errorf("session not restored: reconnect answered %+v (last zxid seen 0x%x)", res.Response, w.maxZxid)
		return 0, false
	}
	var last *crashDir
	if n := len(w.dirs); n > 0 && w.dirs[n-1].children == nil {
		last = w.dirs[n-1]
	}
	reqs := []crashReq{{jute.OpGetData, &jute.GetDataRequest{Path: w.ctrPath}}, {jute.OpGetChildren, &jute.GetChildrenRequest{Path: w.ephDir}}}
	for _, d := range w.dirs {
		reqs = append(reqs, crashReq{jute.OpGetChildren2, &jute.GetChildrenRequest{Path: d.path}})
	}
	frames, err := crashCall(c, reqs)
	if err != nil {
		w.errorf("reads after restart: %v", err)
		return 0, false
	}
	for i, f := range frames {
		if f.Err() != 0 || f.DecodeErr != nil {
			w.errorf("read %d after restart: %v %v", i, f.Err(), f.DecodeErr)
			return 0, false
		}
		w.maxZxid = max(w.maxZxid, f.Header.Zxid)
	}
	ctrData := frames[0].Record.(*jute.GetDataResponse)
	ctr, err := strconv.Atoi(string(ctrData.Data))
	if err != nil {
		w.errorf("counter holds %q", ctrData.Data)
		return 0, false
	}
	ephNow := sorted(frames[1].Record.(*jute.GetChildrenResponse).Children)
	ok := true
	if int(ctrData.Stat.Version) != ctr {
		w.errorf("counter is %d at version %d: a set was applied twice or lost", ctr, ctrData.Stat.Version)
		ok = false
	}
	for i, d := range w.dirs {
		r := frames[2+i].Record.(*jute.GetChildren2Response)
		got := sorted(r.Children)
		if int(r.Stat.NumChildren) != len(got) {
			w.errorf("%s: numChildren %d but %d children listed", d.path, r.Stat.NumChildren, len(got))
			ok = false
		}
		if d == last {
			for _, problem := range w.checkRound(last, got, ephNow, ctr, r.Stat.Cversion) {
				w.errorf("%s", problem)
				ok = false
			}
			last.children, last.cversion = got, r.Stat.Cversion
			continue
		}
		if !slices.Equal(got, d.children) || r.Stat.Cversion != d.cversion {
			w.errorf("%s changed since it was verified: now %d children (cversion %d) %v, was %d (cversion %d) %v",
				d.path, len(got), r.Stat.Cversion, diffNames(got, d.children), len(d.children), d.cversion, diffNames(d.children, got))
			ok = false
		}
	}
	if last == nil && !slices.Equal(ephNow, w.eph) {
		w.errorf("ephemerals changed: now %v, were %v", ephNow, w.eph)
		ok = false
	}
	if !ok {
		return 0, false
	}
	nodes := w.crashNodes() - len(w.eph) + len(ephNow)
	w.eph = ephNow
	w.ctr, w.ctrSent = ctr, ctr
	fn, fok := w.verifyFresh(addr)
	return nodes + fn, fok
}

// checkRound checks the children of the last round's directory and the
// ephemeral directory, and the counter's value, against what was sent:
// the writes found applied must be a prefix of the sent ones at least as
// long as the acknowledged ones, and nothing else may be there. Each
// child created or deleted adds one to the directory's cversion; a
// sequential create appends the number of creates before it (ZooKeeper
// keeps that count and shows 2*count-numChildren as cversion). It returns
// one line per problem.
func (w *crashWorker) checkRound(d *crashDir, children, ephNow []string, ctr int, cversion int32) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	present := map[string]bool{}
	for _, c := range children {
		present[c] = true
	}
	explained := map[string]bool{}
	ephPresent := map[string]bool{}
	for _, e := range ephNow {
		ephPresent[e] = true
	}
	ephExplained := map[string]bool{}
	for _, e := range w.eph {
		if !ephPresent[e] {
			bad("ephemeral %s/%s of an earlier round is gone", w.ephDir, e)
		}
		ephExplained[e] = true
	}
	deleted := map[int]bool{}  // n<k> whose delete is applied
	createdAt := map[int]int{} // index in d.sent of the create of n<k>
	for i, op := range d.sent {
		if op.kind == crashCreate {
			createdAt[op.k] = i
		}
	}
	applied := make([]bool, len(d.sent))
	// Deletes come after their creates, so walk backwards: a create is
	// applied if its node is there or a later delete of it is applied.
	for i := len(d.sent) - 1; i >= 0; i-- {
		op := d.sent[i]
		switch op.kind {
		case crashCreate:
			name := "n" + strconv.Itoa(op.k)
			applied[i] = present[name] || deleted[op.k]
			explained[name] = true
		case crashDelete:
			// NB: a delete is sent only after its create was
			// acknowledged; an absent node whose create was not
			// acknowledged means neither is applied.
			applied[i] = !present["n"+strconv.Itoa(op.k)] && createdAt[op.k] < d.acked
			if applied[i] {
				deleted[op.k] = true
			}
		case crashSequential:
			prefix := "s" + strconv.Itoa(op.k) + "-"
			count := 0
			for _, c := range children {
				if strings.HasPrefix(c, prefix) && len(c) == len(prefix)+10 {
					count++
					explained[c] = true
				}
			}
			if count > 1 {
				bad("round %d: sequential create %v applied %d times", d.round, op, count)
			}
			applied[i] = count > 0
		case crashMulti:
			n := 0
			for _, s := range []string{"a", "b", "c"} {
				name := fmt.Sprintf("m%d%s", op.k, s)
				explained[name] = true
				if present[name] {
					n++
				}
			}
			if n != 0 && n != 3 {
				bad("round %d: multi %v half-applied: %d of its 3 creates are there", d.round, op, n)
			}
			applied[i] = n == 3
			if applied[i] != (ctr >= op.ctr) {
				bad("round %d: multi %v: creates applied=%v but counter is %d (its set wrote %d)", d.round, op, applied[i], ctr, op.ctr)
			}
		case crashSet:
			applied[i] = ctr >= op.ctr
		case crashEphemeral:
			name := crashEphName(d.round, op.k)
			applied[i] = ephPresent[name]
			ephExplained[name] = true
		}
	}
	creates, deletes := 0, 0 // applied so far, in sent order
	for i, op := range d.sent {
		if !applied[i] {
			continue
		}
		switch op.kind {
		case crashCreate:
			creates++
		case crashDelete:
			deletes++
		case crashSequential:
			name := fmt.Sprintf("s%d-%010d", op.k, creates)
			if !present[name] {
				bad("round %d: %v applied, but not as %s (%d creates in the directory before it)", d.round, op, name, creates)
			}
			creates++
		case crashMulti:
			creates += 3
		}
	}
	if int(cversion) != creates+deletes {
		bad("round %d: %s has cversion %d, but %d child creates and %d deletes are applied", d.round, d.path, cversion, creates, deletes)
	}
	d.applied = 0
	for i, a := range applied {
		if a {
			d.applied++
		}
		if i < d.acked && !a {
			bad("round %d: acknowledged write #%d (%v) is lost (%d of %d sent were acknowledged)", d.round, i, d.sent[i], d.acked, len(d.sent))
		}
		if i > 0 && a && !applied[i-1] {
			bad("round %d: write #%d (%v) is applied but #%d (%v) before it is not: not a prefix of the session's writes", d.round, i, d.sent[i], i-1, d.sent[i-1])
		}
	}
	if ctr > w.ctrSent {
		bad("round %d: counter is %d, but only up to %d was sent", d.round, ctr, w.ctrSent)
	}
	for _, c := range children {
		if !explained[c] {
			bad("round %d: unexpected node %s/%s", d.round, d.path, c)
		}
	}
	for _, e := range ephNow {
		if !ephExplained[e] {
			bad("round %d: unexpected ephemeral %s/%s", d.round, w.ephDir, e)
		}
	}
	return problems
}

// verifyFresh reconnects the session the worker opened in the last round,
// if its handshake was answered, checks its ephemeral and closes it. It
// returns the znodes that session owned at the restart.
func (w *crashWorker) verifyFresh(addr string) (int, bool) {
	fr := w.fresh
	w.fresh = nil
	if fr == nil {
		return 0, true
	}
	fr.conn.Close()
	c, res, err := rawclient.Connect(addr, rawclient.ConnectOptions{TimeoutMs: crashSessionTimeoutMs, SessionID: fr.id, Passwd: fr.passwd}, crashIOTimeout)
	if err != nil {
		w.errorf("fresh session 0x%x: reconnect: %v", fr.id, err)
		return 0, false
	}
	defer c.Close()
	if res.Response.SessionId != fr.id || res.Response.TimeOut <= 0 {
		w.errorf("fresh session 0x%x (handshake answered before the kill) not restored: %+v", fr.id, res.Response)
		return 0, false
	}
	f, _, err := c.Call(jute.OpExists, &jute.ExistsRequest{Path: fr.ephPath})
	if err != nil {
		w.errorf("fresh session 0x%x: exists: %v", fr.id, err)
		return 0, false
	}
	nodes := 0
	switch {
	case f.Err() == jute.Code(0):
		owner := f.Record.(*jute.ExistsResponse).Stat.EphemeralOwner
		if !fr.ephSent || owner != fr.id {
			w.errorf("fresh session 0x%x: %s is there (sent %v) with owner 0x%x", fr.id, fr.ephPath, fr.ephSent, owner)
			return 0, false
		}
		nodes = 1
	case fr.ephAcked:
		w.errorf("fresh session 0x%x: acknowledged ephemeral %s is gone: %v", fr.id, fr.ephPath, f.Err())
		return 0, false
	}
	if f, _, err := c.CloseSession(); err != nil || f.Err() != 0 {
		w.errorf("fresh session 0x%x: closeSession: %v %v", fr.id, err, f.Err())
		return 0, false
	}
	return nodes, true
}

func sorted(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}

// diffNames returns the names in a that are not in b (at most ten).
func diffNames(a, b []string) []string {
	var out []string
	for _, x := range a {
		if _, found := slices.BinarySearch(b, x); !found {
			out = append(out, x)
			if len(out) == 10 {
				break
			}
		}
	}
	return out
}

// crashRounds reads GOKEEPER_CRASH_ROUNDS.
func crashRounds(t *testing.T) int {
	v := os.Getenv("GOKEEPER_CRASH_ROUNDS")
	if v == "" {
		return 20
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("GOKEEPER_CRASH_ROUNDS=%q: want a positive integer", v)
	}
	return n
}

// crashSeed reads GOKEEPER_CRASH_SEED or takes the clock.
func crashSeed(t *testing.T) uint64 {
	if v := os.Getenv("GOKEEPER_CRASH_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("GOKEEPER_CRASH_SEED=%q: want an unsigned integer", v)
		}
		return n
	}
	return uint64(time.Now().UnixNano())
}

// TestProcessCrashKill9 is the crash-safety test described at the top of
// this file.
func TestProcessCrashKill9(t *testing.T) {
	gokeeperBinary(t)
	rounds, seed := crashRounds(t), crashSeed(t)
	t.Logf("seed %d, %d rounds (rerun with GOKEEPER_CRASH_SEED=%d GOKEEPER_CRASH_ROUNDS=%d)", seed, rounds, seed, rounds)
	rng := rand.New(rand.NewPCG(seed, 0))
	dataDir := t.TempDir()
	// A small snapCount makes snapshots (taken while writes go on) and
	// the replay of the log after them part of every round.
	extra := []string{"snapCount=200"}
	if rng.IntN(2) == 0 {
		// The txn log on its own "disk", as dataLogDir allows.
		extra = append(extra, "dataLogDir="+t.TempDir())
	}
	t.Logf("zoo.cfg extras: %q", extra)
	p := startGokeeper(t, dataDir, extra...)
	baseNodes := recoveredCount(t, p, "znodes")

	setup, _, err := rawclient.Connect(p.Addr, rawclient.ConnectOptions{TimeoutMs: crashSessionTimeoutMs}, crashIOTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if f, _, err := setup.Call(jute.OpCreate, &jute.CreateRequest{Path: "/crash", Acl: jute.OpenACLUnsafe()}); err != nil || f.Err() != 0 {
		t.Fatalf("create /crash: %v %v", err, f.Err())
	}
	setup.CloseSession()
	setup.Close()
	workers := make([]*crashWorker, crashWorkers)
	for i := range workers {
		w := &crashWorker{t: t, id: i, rng: rand.New(rand.NewPCG(seed, uint64(i)+1)),
			ctrPath: fmt.Sprintf("/crash/ctr%d", i), ephDir: fmt.Sprintf("/crash/e%d", i), freshDir: fmt.Sprintf("/crash/f%d", i)}
		if !w.setup(p.Addr) {
			t.FailNow()
		}
		workers[i] = w
	}
	defer func() {
		for _, w := range workers {
			if w.conn != nil {
				w.conn.Close()
			}
		}
	}()

	start := time.Now()
	totalAcked, totalSent, totalApplied, recoveryKills, shutdownKills := 0, 0, 0, 0, 0
	// logCounts counts the log lines of interest of every process run;
	// error lines fail the test (a crash must never leave the server
	// anything to complain about).
	logCounts := map[string]int{}
	tally := func(p *gkProc) {
		lines, _ := p.log.snapshot()
		for _, l := range lines {
			m := gkLogEntry(l)
			if m == nil {
				continue
			}
			msg, _ := m["message"].(string)
			switch msg {
			case "snapshot written", "persistence: removed unfinished snapshot", "persistence: skipping invalid snapshot",
				"persistence: txn log ends in a torn record (crash during a write); cutting it":
				logCounts[msg]++
			}
			if lvl := m["level"]; lvl == "error" || lvl == "fatal" || lvl == "panic" {
				t.Errorf("server logged at level %v: %s", lvl, l)
			}
		}
	}
	for round := 1; round <= rounds; round++ {
		target := int64(1 + rng.IntN(200*crashWorkers))
		var acks atomic.Int64
		reached := make(chan struct{})
		var once sync.Once
		dirs := make([]*crashDir, len(workers))
		for i, w := range workers {
			if dirs[i] = w.prepare(round); dirs[i] == nil {
				t.FailNow()
			}
		}
		var wg sync.WaitGroup
		for i, w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.run(p.Addr, dirs[i], &acks, target, func() { once.Do(func() { close(reached) }) })
			}()
		}
		allStopped := make(chan struct{})
		go func() { wg.Wait(); close(allStopped) }()
		select {
		case <-reached:
		case <-allStopped:
			t.Fatalf("round %d: every worker stopped before %d writes were acknowledged", round, target)
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: %d writes not acknowledged within 30s (%d were)", round, target, acks.Load())
		}
		terminated := rng.IntN(6) == 0
		if terminated {
			// Kill it in the middle of a clean shutdown.
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if _, ok := p.waitLog(10*time.Second, func(m map[string]any) bool { return m["message"] == "shutting down" }); ok {
				shutdownKills++
			}
		}
		p.kill9()
		tally(p)
		select {
		case <-allStopped:
		case <-time.After(2 * crashIOTimeout):
			t.Fatalf("round %d: workers still running %v after the kill", round, 2*crashIOTimeout)
		}
		for _, d := range dirs {
			totalAcked += d.acked
			totalSent += len(d.sent)
		}

		if rng.IntN(4) == 0 {
			// Kill the restart too, while it recovers: between opening
			// the txn log and serving clients.
			p = spawnGokeeperOn(t, dataDir, extra...)
			if _, ok := p.waitLog(gkStartTimeout, func(m map[string]any) bool { return m["message"] == "persistence: opened txn log" }); !ok {
				t.Fatalf("round %d: the restart did not open its txn log", round)
			}
			p.kill9()
			tally(p)
			recoveryKills++
		}
		p = startGokeeper(t, dataDir, extra...)
		recovered := recoveredCount(t, p, "znodes")
		var vg sync.WaitGroup
		counts := make([]int, len(workers))
		oks := make([]bool, len(workers))
		for i, w := range workers {
			vg.Add(1)
			go func() {
				defer vg.Done()
				counts[i], oks[i] = w.verify(p.Addr)
			}()
		}
		vg.Wait()
		for _, d := range dirs {
			totalApplied += d.applied
		}
		if !slices.Contains(oks, false) {
			want := baseNodes + 1 // /crash
			for _, n := range counts {
				want += n
			}
			if recovered != want {
				t.Errorf("round %d: the server recovered %d znodes, the clients account for %d", round, recovered, want)
			}
		}
		if t.Failed() {
			t.Fatalf("round %d of %d failed (seed %d)", round, rounds, seed)
		}
	}
	t.Logf("%d rounds in %v: %d writes sent, %d acknowledged, %d found applied; %d kills while shutting down, %d while recovering; all verified; log lines: %v",
		rounds, time.Since(start).Round(time.Millisecond), totalSent, totalAcked, totalApplied, shutdownKills, recoveryKills, logCounts)
	if logCounts["snapshot written"] == 0 && rounds >= 10 {
		t.Errorf("no snapshot was written in %d rounds: the test did not cover recovery from a snapshot", rounds)
	}
}

// recoveredCount returns a numeric field of the process's "recovered" log
// line.
func recoveredCount(t *testing.T, p *gkProc, field string) int {
	t.Helper()
	line, ok := p.waitLog(time.Second, func(m map[string]any) bool { return m["message"] == "recovered" })
	if !ok {
		t.Fatal("no recovered line in the log")
	}
	n, ok := gkLogEntry(line)[field].(float64)
	if !ok {
		t.Fatalf("no %s in %s", field, line)
	}
	return int(n)
}

// TestCrashCheckRound feeds the crash test's checker outcomes a correct
// and a broken server could leave behind, so the checker is known to
// catch each kind of failure it claims to.
func TestCrashCheckRound(t *testing.T) {
	sent := []crashOp{
		{kind: crashCreate, k: 1},
		{kind: crashSequential, k: 2},
		{kind: crashMulti, k: 3, ctr: 1},
		{kind: crashSet, ctr: 2},
		{kind: crashDelete, k: 1},
		{kind: crashEphemeral, k: 4},
		{kind: crashCreate, k: 5},
	}
	all := []string{"m3a", "m3b", "m3c", "n5", "s2-0000000001"}
	cases := []struct {
		name     string
		acked    int
		children []string
		ephNow   []string
		ctr      int
		cversion int32
		eph      []string // ephemerals verified in earlier rounds
		want     string   // "" for no problem, else a substring of one
	}{
		{name: "all applied", acked: 7, children: all, ephNow: []string{"r001-4"}, ctr: 2, cversion: 7},
		{name: "acknowledged prefix applied", acked: 3, children: []string{"m3a", "m3b", "m3c", "n1", "s2-0000000001"}, ctr: 1, cversion: 5},
		{name: "unacknowledged writes applied", acked: 1, children: []string{"m3a", "m3b", "m3c", "s2-0000000001"}, ctr: 2, cversion: 6},
		{name: "nothing acknowledged nothing applied", acked: 0, children: nil, ctr: 0},
		{name: "earlier ephemerals kept", acked: 7, children: all, ephNow: []string{"r000-9", "r001-4"}, eph: []string{"r000-9"}, ctr: 2, cversion: 7},
		{name: "sequential number reused", acked: 7, children: []string{"m3a", "m3b", "m3c", "n5", "s2-0000000000"}, ephNow: []string{"r001-4"}, ctr: 2, cversion: 7, want: "not as s2-0000000001"},
		{name: "cversion wrong", acked: 7, children: all, ephNow: []string{"r001-4"}, ctr: 2, cversion: 8, want: "has cversion 8, but 6 child creates and 1 deletes"},
		{name: "acknowledged multi lost", acked: 3, children: []string{"n1", "s2-0000000001"}, ctr: 0, want: "acknowledged write #2 (multi k=3) is lost"},
		{name: "acknowledged delete lost", acked: 5, children: []string{"m3a", "m3b", "m3c", "n1", "s2-0000000001"}, ctr: 2, want: "acknowledged write #4 (delete k=1) is lost"},
		{name: "not a prefix", acked: 1, children: []string{"m3a", "m3b", "m3c", "n1"}, ctr: 1, want: "not a prefix"},
		{name: "half-applied multi", acked: 2, children: []string{"m3a", "n1", "s2-0000000001"}, ctr: 0, want: "half-applied"},
		{name: "multi without its set", acked: 2, children: []string{"m3a", "m3b", "m3c", "n1", "s2-0000000001"}, ctr: 0, want: "creates applied=true but counter is 0"},
		{name: "sequential applied twice", acked: 2, children: []string{"n1", "s2-0000000001", "s2-0000000002"}, ctr: 0, want: "applied 2 times"},
		{name: "unexpected node", acked: 7, children: append([]string{"n99"}, all...), ephNow: []string{"r001-4"}, ctr: 2, want: "unexpected node /crash/r001w0/n99"},
		{name: "counter beyond what was sent", acked: 7, children: all, ephNow: []string{"r001-4"}, ctr: 3, want: "only up to 2 was sent"},
		{name: "earlier ephemeral gone", acked: 7, children: all, ephNow: []string{"r001-4"}, eph: []string{"r000-9"}, ctr: 2, want: "ephemeral /crash/e0/r000-9 of an earlier round is gone"},
		{name: "acknowledged ephemeral lost", acked: 7, children: all, ctr: 2, want: "#5 (ephemeral k=4) is lost"},
		{name: "unexpected ephemeral", acked: 7, children: all, ephNow: []string{"r001-4", "r001-77"}, ctr: 2, want: "unexpected ephemeral"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := &crashWorker{t: t, ephDir: "/crash/e0", eph: tc.eph, ctrSent: 2}
			d := &crashDir{path: "/crash/r001w0", round: 1, sent: sent, acked: tc.acked}
			problems := w.checkRound(d, tc.children, tc.ephNow, tc.ctr, tc.cversion)
			if tc.want == "" {
				if len(problems) != 0 {
					t.Errorf("problems on a correct outcome: %q", problems)
				}
				return
			}
			found := false
			for _, p := range problems {
				found = found || strings.Contains(p, tc.want)
			}
			if !found {
				t.Errorf("problems %q, want one containing %q", problems, tc.want)
			}
		})
	}
}

// zkEventLog collects a go-zookeeper connection's session events.
type zkEventLog struct {
	mu     sync.Mutex
	events []zk.Event
	wake   chan struct{}
}

func (l *zkEventLog) add(e zk.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	close(l.wake)
	l.wake = make(chan struct{})
}

// waitFrom waits until an event at index from or later matches, and
// returns the index after it.
func (l *zkEventLog) waitFrom(t *testing.T, from int, what string, match func(zk.Event) bool) int {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		events, wake := l.events, l.wake
		l.mu.Unlock()
		for i := from; i < len(events); i++ {
			if match(events[i]) {
				return i + 1
			}
		}
		select {
		case <-wake:
		case <-deadline.C:
			t.Fatalf("no %s within 30s; events: %+v", what, events[from:])
		}
	}
}

// TestProcessCrashGoZK kills the server under a real client,
// go-zookeeper, and restarts it on the same port: the client reconnects by
// itself with its session id and password and keeps its session, its
// ephemeral and a data watch set before the kill (re-registered through
// setWatches), and every create it saw succeed is there.
func TestProcessCrashGoZK(t *testing.T) {
	dataDir := t.TempDir()
	port := freePort(t)
	p := startGokeeperPort(t, dataDir, port)
	events := &zkEventLog{wake: make(chan struct{})}
	c, _, err := zk.Connect([]string{p.Addr}, 10*time.Second, zk.WithLogger(gkNopLogger{}), zk.WithEventCallback(events.add))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	seen := events.waitFrom(t, 0, "session", func(e zk.Event) bool { return e.State == zk.StateHasSession })
	session := c.SessionID()
	acl := zk.WorldACL(zk.PermAll)
	for _, path := range []string{"/gz", "/gz/data"} {
		if _, err := c.Create(path, nil, 0, acl); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Create("/gz/eph", nil, zk.FlagEphemeral, acl); err != nil {
		t.Fatal(err)
	}

	// A writer creates nodes one after the other through the kills; the
	// creates that return no error are acknowledged.
	var mu struct {
		sync.Mutex
		acked []string
		// reached is closed once len(acked) >= target.
		target  int
		reached chan struct{}
	}
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			path := fmt.Sprintf("/gz/n%05d", i)
			if _, err := c.Create(path, nil, 0, acl); err == nil {
				mu.Lock()
				mu.acked = append(mu.acked, path)
				if mu.reached != nil && len(mu.acked) >= mu.target {
					close(mu.reached)
					mu.reached = nil
				}
				mu.Unlock()
			}
		}
	}()
	var stopOnce sync.Once
	stopWriter := func() { stopOnce.Do(func() { close(stop); <-writerDone }) }
	defer stopWriter()

	const rounds = 3
	for round := 1; round <= rounds; round++ {
		_, _, watch, err := c.GetW("/gz/data")
		if err != nil {
			t.Fatalf("round %d: GetW: %v", round, err)
		}
		// Let this server process acknowledge 50 more creates.
		reached := make(chan struct{})
		mu.Lock()
		mu.target, mu.reached = len(mu.acked)+50, reached
		mu.Unlock()
		select {
		case <-reached:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: 50 creates not acknowledged within 30s", round)
		}
		p.kill9()
		seen = events.waitFrom(t, seen, "disconnect", func(e zk.Event) bool { return e.State == zk.StateDisconnected })
		p = startGokeeperPort(t, dataDir, port)
		seen = events.waitFrom(t, seen, "session after the restart", func(e zk.Event) bool {
			if e.State == zk.StateExpired {
				t.Fatalf("round %d: session 0x%x expired across the restart", round, session)
			}
			return e.State == zk.StateHasSession
		})
		if got := c.SessionID(); got != session {
			t.Fatalf("round %d: reconnected with session 0x%x, want 0x%x", round, got, session)
		}
		_, st, err := c.Get("/gz/eph")
		if err != nil || st.EphemeralOwner != session {
			t.Fatalf("round %d: /gz/eph after the restart: %v owner 0x%x", round, err, st.EphemeralOwner)
		}
		other := gkConnect(t, p.Addr)
		if _, err := other.Set("/gz/data", []byte(strconv.Itoa(round)), -1); err != nil {
			t.Fatal(err)
		}
		other.Close()
		select {
		case e := <-watch:
			if e.Type != zk.EventNodeDataChanged {
				t.Errorf("round %d: watch event %+v, want NodeDataChanged", round, e)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d: the data watch set before the kill did not fire after the restart", round)
		}
	}
	stopWriter()
	children, _, err := c.Children("/gz")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, ch := range children {
		have["/gz/"+ch] = true
	}
	mu.Lock()
	defer mu.Unlock()
	for _, path := range mu.acked {
		if !have[path] {
			t.Errorf("acknowledged %s is gone", path)
		}
	}
	t.Logf("%d kills: session 0x%x kept, %d acknowledged creates all there", rounds, session, len(mu.acked))
}
