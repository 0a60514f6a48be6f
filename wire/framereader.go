package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// readBufSize is the size of the buffer a connection reads into: it holds
// a hundred pipelined small requests; a frame larger than it is read
// straight into a slice of its own.
const readBufSize = 16 << 10

// readBufs holds the read buffers of connections that have nothing
// buffered: an idle connection holds none.
var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// frameReader reads length-prefixed frames from a connection. NB: it
// holds a buffer only while there are bytes in it, and gives it back to
// readBufs once every byte read has been consumed. With a descriptor to
// read (raw), it waits for the socket to become readable with no buffer
// and takes one to read; without (a TLS connection), it waits in a read
// of a few bytes into head, then takes one for the rest. Idle
// connections, most of them in a large deployment, then cost no buffer.
type frameReader struct {
	nc  net.Conn
	raw syscall.RawConn // nil: read through nc

	buf  *[]byte // nil when empty
	r, w int     // unread bytes are (*buf)[r:w]
	head [8]byte // what a read through nc with no buffer reads into

	// park, once set (after the handshake), is told when the reader
	// waits with an empty buffer, on clock's time; the idle sweep may
	// then move the read deadline to now to make the reader give up its
	// goroutine, and deadline is the one to put back if data came first.
	park     *parker
	clock    func() time.Duration
	deadline time.Time
	// idleNow makes a wait for data with an empty buffer end at once in
	// errIdle, without waiting for the idle sweep.
	idleNow bool
}

// errIdle is what next returns when the idle sweep stopped a wait for
// data with nothing buffered: the connection may go idle.
var errIdle = errors.New("wire: connection idle")

func newFrameReader(nc net.Conn, raw syscall.RawConn) *frameReader {
	return &frameReader{nc: nc, raw: raw}
}

// setDeadline sets the connection's read deadline.
func (fr *frameReader) setDeadline(t time.Time) {
	fr.deadline = t
	fr.nc.SetReadDeadline(t)
}

// buffered returns the number of bytes read and not yet consumed.
func (fr *frameReader) buffered() int { return fr.w - fr.r }

// release gives the buffer back if it holds nothing unread. NB: the frame
// returned last is in the buffer: call release only once it is done with.
func (fr *frameReader) release() {
	if fr.buf != nil && fr.r == fr.w {
		readBufs.Put(fr.buf)
		fr.buf, fr.r, fr.w = nil, 0, 0
	}
}

// close gives the buffer back for good.
func (fr *frameReader) close() {
	if fr.buf != nil {
		readBufs.Put(fr.buf)
		fr.buf, fr.r, fr.w = nil, 0, 0
	}
}

// fill reads at least once more from the connection, waiting for data,
// so that at least need bytes are buffered; need must fit the buffer.
func (fr *frameReader) fill(need int) error {
	for fr.buffered() < need {
		if fr.buf != nil && len(*fr.buf)-fr.r < need {
			// NB: move the unread bytes to the front to make room.
			fr.w = copy(*fr.buf, (*fr.buf)[fr.r:fr.w])
			fr.r = 0
		}
		if err := fr.readSome(); err != nil {
			return err
		}
	}
	return nil
}

// readSome reads once into the buffer, after its unread bytes.
func (fr *frameReader) readSome() error {
	if fr.raw == nil && fr.buf == nil {
		n, err := fr.nc.Read(fr.head[:])
		if n > 0 {
			fr.buf = readBufs.Get().(*[]byte)
			fr.r, fr.w = 0, copy(*fr.buf, fr.head[:n])
			return nil
		}
		if err == nil {
			err = io.ErrNoProgress
		}
		return err
	}
	if fr.raw == nil {
		n, err := fr.nc.Read((*fr.buf)[fr.w:])
		fr.w += n
		if n > 0 {
			return nil
		}
		if err == nil {
			err = io.ErrNoProgress
		}
		return err
	}
	for {
		var n int
		var rerr error
		err := fr.raw.Read(func(fd uintptr) bool {
			if fr.buf == nil {
				fr.buf, fr.r, fr.w = readBufs.Get().(*[]byte), 0, 0
			}
			for {
				n, rerr = syscall.Read(int(fd), (*fr.buf)[fr.w:])
				if rerr != syscall.EINTR {
					break
				}
			}
			if rerr == syscall.EAGAIN {
				fr.release() // NB: the wait for data holds no buffer
				if fr.buf == nil && fr.park != nil {
					fr.park.waiting(fr.clock())
					if fr.idleNow {
						return true // NB: readSome returns errIdle
					}
				}
				return false
			}
			return true
		})
		if rerr == syscall.EAGAIN && err == nil {
			fr.park.stopWaiting()
			return errIdle
		}
		if fr.park != nil && fr.park.stopWaiting() {
			// NB: the idle sweep moved the deadline to now.
			if errors.Is(err, os.ErrDeadlineExceeded) && fr.buffered() == 0 {
				return errIdle
			}
			fr.nc.SetReadDeadline(fr.deadline)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
		}
		switch {
		case err != nil:
			return err
		case rerr != nil:
			return &net.OpError{Op: "read", Net: "tcp", Addr: fr.nc.RemoteAddr(), Err: rerr}
		case n <= 0:
			return io.EOF
		}
		fr.w += n
		return nil
	}
}

// peek returns the next n bytes without consuming them; n must fit the
// buffer.
func (fr *frameReader) peek(n int) ([]byte, error) {
	if err := fr.fill(n); err != nil {
		return nil, err
	}
	return (*fr.buf)[fr.r : fr.r+n], nil
}

// discard consumes n buffered bytes.
func (fr *frameReader) discard(n int) { fr.r += n }

// next reads the next frame and returns its payload, which is valid until
// the next call. A length below 0 or above max is errFrameLength.
func (fr *frameReader) next(max int) ([]byte, error) {
	fr.release()
	head, err := fr.peek(4)
	if err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(head))
	if n < 0 || int(n) > max {
		return nil, fmt.Errorf("%w: %d", errFrameLength, n)
	}
	if 4+int(n) <= readBufSize {
		// NB: nothing is consumed until the whole frame is buffered, so
		// a wait that ends in errIdle can be resumed.
		if err := fr.fill(4 + int(n)); err != nil {
			if errors.Is(err, errIdle) {
				return nil, err
			}
			return nil, unexpectedEOF(err)
		}
		b := (*fr.buf)[fr.r+4 : fr.r+4+int(n)]
		fr.discard(4 + int(n))
		return b, nil
	}
	fr.discard(4)
	// NB: a frame larger than the buffer gets a slice of its own, not
	// kept afterwards: a connection that once sent a big request does not
	// hold its size for good.
	b := make([]byte, n)
	k := copy(b, (*fr.buf)[fr.r:fr.w])
	fr.discard(k)
	if _, err := io.ReadFull(fr.nc, b[k:]); err != nil {
		return nil, unexpectedEOF(err)
	}
	return b, nil
}

// frameBuffered reports whether a whole frame is buffered, so reading it
// will not wait on the network.
func (fr *frameReader) frameBuffered() bool {
	if fr.buffered() < 4 {
		return false
	}
	head := (*fr.buf)[fr.r : fr.r+4]
	return fr.buffered()-4 >= int(binary.BigEndian.Uint32(head))
}

// unexpectedEOF turns an EOF inside a frame into io.ErrUnexpectedEOF, as
// io.ReadFull does.
func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
