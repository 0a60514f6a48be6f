package server

// sessionTracker is the leader's record of live sessions and when each
// expires, kept in tick-sized buckets as ZooKeeper's ExpiryQueue does: a
// session touched at time t with timeout T expires in the bucket that
// starts at the first multiple of the tick interval after t+T. It is a
// pure structure: every method takes the current time in milliseconds
// from its caller, and nothing here reads a clock. NB: the caller's clock
// must be monotonic (Server.sessionMs), as ZooKeeper's ExpiryQueue runs on
// Time.currentElapsedTime: a wall clock stepped forward would expire every
// session at once, and stepped back would leave buckets behind next that
// expire never.
type sessionTracker struct {
	interval int64 // bucket width in ms (tickTime)
	next     int64 // start of the next bucket to expire
	sessions map[int64]*trackedSession
	buckets  map[int64]map[int64]struct{}
}

type trackedSession struct {
	timeout int32 // negotiated timeout, ms
	expiry  int64 // bucket this session expires in
	closing bool  // a closeSession txn is on its way
}

func newSessionTracker(intervalMs, nowMs int64) *sessionTracker {
	t := &sessionTracker{
		interval: intervalMs,
		sessions: make(map[int64]*trackedSession),
		buckets:  make(map[int64]map[int64]struct{}),
	}
	t.next = t.roundUp(nowMs)
	return t
}

// roundUp returns the start of the first bucket strictly after ms.
func (t *sessionTracker) roundUp(ms int64) int64 { return (ms/t.interval + 1) * t.interval }

// add starts tracking a session, or re-arms it if it is tracked.
func (t *sessionTracker) add(id int64, timeout int32, nowMs int64) {
	s, ok := t.sessions[id]
	if !ok {
		s = &trackedSession{}
		t.sessions[id] = s
	}
	s.timeout = timeout
	s.closing = false
	t.move(id, s, timeout, nowMs)
}

// touch pushes a live session's expiry out by timeoutMs: the timeout its
// current connection negotiated, as ZooKeeper's touchSession takes it.
// It reports false for a session that is unknown or already closing.
func (t *sessionTracker) touch(id int64, timeoutMs int32, nowMs int64) bool {
	s, ok := t.sessions[id]
	if !ok || s.closing {
		return false
	}
	t.move(id, s, timeoutMs, nowMs)
	return true
}

func (t *sessionTracker) move(id int64, s *trackedSession, timeoutMs int32, nowMs int64) {
	exp := t.roundUp(nowMs + int64(timeoutMs))
	if exp == s.expiry {
		return
	}
	if b := t.buckets[s.expiry]; b != nil {
		delete(b, id)
	}
	b := t.buckets[exp]
	if b == nil {
		b = make(map[int64]struct{})
		t.buckets[exp] = b
	}
	b[id] = struct{}{}
	s.expiry = exp
}

// setClosing marks a session whose closeSession txn is in flight: it no
// longer counts as live and cannot be touched back to life.
func (t *sessionTracker) setClosing(id int64) {
	if s, ok := t.sessions[id]; ok {
		s.closing = true
	}
}

// live reports whether id is tracked and not closing.
func (t *sessionTracker) live(id int64) bool {
	s, ok := t.sessions[id]
	return ok && !s.closing
}

// timeout returns a tracked session's negotiated timeout.
func (t *sessionTracker) timeout(id int64) (int32, bool) {
	s, ok := t.sessions[id]
	if !ok {
		return 0, false
	}
	return s.timeout, true
}

// remove stops tracking a session.
func (t *sessionTracker) remove(id int64) {
	s, ok := t.sessions[id]
	if !ok {
		return
	}
	if b := t.buckets[s.expiry]; b != nil {
		delete(b, id)
	}
	delete(t.sessions, id)
}

// expire returns the sessions whose bucket has passed by nowMs and marks
// them closing; the caller turns each into a closeSession txn.
func (t *sessionTracker) expire(nowMs int64) []int64 {
	var out []int64
	for ; t.next <= nowMs; t.next += t.interval {
		for id := range t.buckets[t.next] {
			if s := t.sessions[id]; s != nil && !s.closing {
				s.closing = true
				out = append(out, id)
			}
		}
		delete(t.buckets, t.next)
	}
	return out
}

// waitMs returns how long after nowMs the next bucket falls due: 0 when it
// already has (ZooKeeper's ExpiryQueue.getWaitTime).
func (t *sessionTracker) waitMs(nowMs int64) int64 { return max(t.next-nowMs, 0) }

// count returns the number of tracked sessions.
func (t *sessionTracker) count() int { return len(t.sessions) }

// sessionPasswordSecret is the constant ZooKeeper mixes into a session id
// to derive the session password (ZooKeeperServer.superSecret).
const sessionPasswordSecret = 0xB3415C00

// sessionPassword derives a session's 16-byte password from its id the way
// ZooKeeper does: java.util.Random seeded with id^secret, nextBytes. Using
// the same derivation means a session keeps its password across restarts
// and across a migration between gokeeper and Apache ZooKeeper.
func sessionPassword(id int64) []byte {
	const (
		mult = 0x5DEECE66D
		add  = 0xB
		mask = 1<<48 - 1
	)
	seed := (uint64(id^sessionPasswordSecret) ^ mult) & mask
	next32 := func() int32 {
		seed = (seed*mult + add) & mask
		return int32(seed >> 16)
	}
	out := make([]byte, 16)
	for i := 0; i < len(out); {
		r := next32()
		for n := min(len(out)-i, 4); n > 0; n-- {
			out[i] = byte(r)
			r >>= 8
			i++
		}
	}
	return out
}

// makeSessionIDBase returns the first session id a server with this id
// hands out when started at nowMs: the server id in the high byte and the
// start time in the next 40 bits, as ZooKeeper's
// SessionTrackerImpl.initializeNextSession builds it.
func makeSessionIDBase(serverID int64, nowMs int64) int64 {
	base := int64(uint64(nowMs<<24) >> 8)
	return base | serverID<<56
}
