package wire

import (
	"sync"
	"syscall"
	"time"
)

// idlePoller watches the sockets of idle connections with one epoll
// instance, apart from the Go runtime's, and one goroutine, which also
// runs the idle sweep. A socket is registered one-shot: its first event
// wakes the connection, which unregisters it.
type idlePoller struct {
	l      *Listener
	epfd   int
	wakeR  int // read end of a pipe whose write end stops the poller
	wakeW  int
	period time.Duration // between sweeps
	done   chan struct{}

	mu struct {
		sync.Mutex
		conns  map[uint64]*conn // by park.id
		nextID uint64
	}
}

func newIdlePoller(l *Listener, period time.Duration) (*idlePoller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		syscall.Close(epfd)
		return nil, err
	}
	// NB: id 0 is the pipe's.
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p[0], &syscall.EpollEvent{Events: syscall.EPOLLIN}); err != nil {
		syscall.Close(epfd)
		syscall.Close(p[0])
		syscall.Close(p[1])
		return nil, err
	}
	pl := &idlePoller{l: l, epfd: epfd, wakeR: p[0], wakeW: p[1], period: period, done: make(chan struct{})}
	pl.mu.conns = make(map[uint64]*conn)
	go pl.run()
	return pl, nil
}

// watch registers c's socket; the caller holds c.park.mu.
func (pl *idlePoller) watch(c *conn) error {
	if c.raw == nil {
		return syscall.ENOTSUP
	}
	p := &c.park
	if p.id == 0 {
		pl.mu.Lock()
		pl.mu.nextID++
		p.id = pl.mu.nextID
		pl.mu.conns[p.id] = c
		pl.mu.Unlock()
	}
	ev := syscall.EpollEvent{
		Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT,
		Fd:     int32(uint32(p.id)),
		Pad:    int32(uint32(p.id >> 32)),
	}
	var serr error
	err := c.raw.Control(func(fd uintptr) {
		serr = syscall.EpollCtl(pl.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err != nil {
		return err
	}
	return serr
}

// unwatch unregisters c's socket; the caller holds c.park.mu. NB: a
// closed socket cannot be reached, and needs not be: closing it took it
// out of the epoll set.
func (pl *idlePoller) unwatch(c *conn) {
	c.raw.Control(func(fd uintptr) {
		syscall.EpollCtl(pl.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	})
}

// forget drops c, which has finished.
func (pl *idlePoller) forget(c *conn) {
	c.park.mu.Lock()
	id := c.park.id
	c.park.mu.Unlock()
	if id != 0 {
		pl.mu.Lock()
		delete(pl.mu.conns, id)
		pl.mu.Unlock()
	}
}

func (pl *idlePoller) run() {
	defer close(pl.done)
	defer syscall.Close(pl.epfd)
	defer syscall.Close(pl.wakeR)
	events := make([]syscall.EpollEvent, 128)
	var scratch []*conn
	nextSweep := time.Now().Add(pl.period)
	for {
		n, err := syscall.EpollWait(pl.epfd, events, int(max(time.Until(nextSweep), time.Millisecond)/time.Millisecond))
		if err != nil && err != syscall.EINTR {
			pl.l.log.Error().Err(err).Msg("idle poller: epoll_wait failed; idle connections are no longer watched")
			return
		}
		for _, ev := range events[:max(n, 0)] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if id == 0 {
				return
			}
			pl.mu.Lock()
			c := pl.mu.conns[id]
			pl.mu.Unlock()
			if c != nil {
				c.wakeIdle()
			}
		}
		if !time.Now().Before(nextSweep) {
			scratch = pl.l.sweepIdle(scratch)
			nextSweep = time.Now().Add(pl.period)
		}
	}
}

// close stops the poller and waits for it. Connections still idle are
// the listener's to wake.
func (pl *idlePoller) close() {
	syscall.Write(pl.wakeW, []byte{0})
	<-pl.done
	syscall.Close(pl.wakeW)
}
