package wire

import (
	"sync"
	"time"
)

// Idle connections. Most sessions of a large deployment are idle: they
// send a ping every third of their timeout and nothing else. A goroutine
// parked on each of their sockets would cost its stack (4 KiB or more once
// it has served a request) for nothing; instead, a connection that has
// been silent for Options.IdleAfter with nothing buffered hands its socket
// to the listener's idle poller and its reader goroutine ends. The poller
// (one epoll instance and one goroutine per listener, idle_linux.go)
// starts a new reader when the socket becomes readable, when the
// connection is closing, or when it has been silent past the session's
// read limit, so that the reader closes it.
//
// The hand-over: the reader notes in its parker when it starts waiting
// for data with an empty buffer. The poller's sweep, every IdleAfter/2,
// finds the readers that have waited IdleAfter and kicks each: it moves
// the socket's read deadline to now, under the parker's lock. The reader
// wakes; if no data came, it registers the socket with the poller and
// exits (goIdle); if data came first, it puts the deadline back.

// parker is a connection reader's waiting state, shared with the idle
// sweep and the poller; its fields are guarded by mu.
type parker struct {
	mu sync.Mutex
	// since is when (Listener.clock) the reader began waiting for data
	// with an empty buffer; 0 while it is not waiting. last is the since
	// of its last wait: when the connection last had data.
	since, last time.Duration
	// kicked is set when the sweep moved the read deadline to now.
	kicked bool
	// idle is set while the connection has no reader goroutine: its
	// socket is registered with the poller under id.
	idle bool
	id   uint64
}

// waiting records that the reader waits for data with an empty buffer.
func (p *parker) waiting(now time.Duration) {
	p.mu.Lock()
	if p.since == 0 {
		p.since = max(now, 1)
	}
	p.mu.Unlock()
}

// stopWaiting records that the wait is over, and reports whether the
// sweep kicked it.
func (p *parker) stopWaiting() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.since != 0 {
		p.last, p.since = p.since, 0
	}
	k := p.kicked
	p.kicked = false
	return k
}

// lastWait returns when the connection last waited for data.
func (p *parker) lastWait() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// goIdle hands the connection to the idle poller. It reports false, and
// the reader goes on, when there is no poller or the connection is
// closing. NB: once it reports true, another goroutine may already run
// the connection.
func (c *conn) goIdle() bool {
	pl := c.l.poller
	if pl == nil {
		return false
	}
	p := &c.park
	p.mu.Lock()
	defer p.mu.Unlock()
	// NB: under p.mu: a close that comes after this check wakes the
	// connection through wakeIdle, which waits for p.mu.
	c.mu.Lock()
	closing := c.mu.closing != ""
	if !closing {
		// An idle connection keeps no output buffers.
		c.mu.spare = nil
		if len(c.mu.out) == 0 {
			c.mu.out = nil
		}
	}
	c.mu.Unlock()
	if closing || pl.watch(c) != nil {
		return false
	}
	p.idle = true
	return true
}

// wakeIdle starts a reader for the connection if it is idle.
func (c *conn) wakeIdle() {
	p := &c.park
	p.mu.Lock()
	if !p.idle {
		p.mu.Unlock()
		return
	}
	p.idle = false
	c.l.poller.unwatch(c)
	p.mu.Unlock()
	go c.resume()
}

// sweep kicks the connection's reader if it has waited for data for
// IdleAfter, and wakes the idle connection if it has been silent past its
// read limit.
func (c *conn) sweep(now time.Duration) {
	p := &c.park
	p.mu.Lock()
	wake := false
	switch {
	case p.idle:
		wake = now-p.last > c.readLimit
	case p.since != 0 && !p.kicked && now-p.since >= c.l.opts.IdleAfter:
		p.kicked = true
		c.nc.SetReadDeadline(time.Now())
	}
	p.mu.Unlock()
	if wake {
		c.wakeIdle()
	}
}

// sweepIdle sweeps every connection; conns is a scratch slice, returned
// for reuse.
func (l *Listener) sweepIdle(conns []*conn) []*conn {
	conns = conns[:0]
	l.mu.Lock()
	for c := range l.mu.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	now := l.clock()
	for i, c := range conns {
		c.sweep(now)
		conns[i] = nil
	}
	return conns
}
