package transport

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gokeeper/gokeeper/jute"
)

// ErrPacketTooLarge means a length in a QuorumPacket on the quorum port is
// negative (other than -1, null) or above the reader's limit.
var ErrPacketTooLarge = errors.New("transport: quorum packet length out of range")

// FieldLimit returns the largest buffer, string or vector a quorum-port
// reader accepts for a given jute.maxbuffer (jute.DefaultMaxBuffer if
// maxBuffer <= 0): ZooKeeper's BinaryInputArchive allows
// jute.maxbuffer plus zookeeper.jute.maxbuffer.extrasize, whose default is
// jute.maxbuffer again and which is never below 1024. The slack is what
// lets a PROPOSAL wrap a client request of the full jute.maxbuffer.
func FieldLimit(maxBuffer int) int {
	if maxBuffer <= 0 {
		maxBuffer = jute.DefaultMaxBuffer
	}
	return maxBuffer + max(maxBuffer, 1024)
}

// PacketReader reads QuorumPacket records from a quorum-port stream, where
// they follow each other with no length prefix. Each length in a packet is
// checked against the limit before anything is read or allocated for it:
// the data buffer and every authinfo string against the limit, and the
// authinfo vector as a whole against it too (ZooKeeper leaves a vector's
// count unchecked; no real packet carries more than a few ids).
type PacketReader struct {
	r     *bufio.Reader
	limit int
	buf   []byte
	dec   jute.Decoder
}

// NewPacketReader returns a reader of r that accepts fields of up to limit
// bytes (see FieldLimit). On a network connection, wrap the connection
// with NewTimeoutConn first to have reads time out.
func NewPacketReader(r io.Reader, limit int) *PacketReader {
	return &PacketReader{r: bufio.NewReader(r), limit: limit}
}

// Read reads the next packet into p, replacing all its fields. The packet's
// Data and Authinfo are its own (not aliased to the reader's buffer). It
// returns io.EOF only if the stream ended cleanly between two packets.
func (pr *PacketReader) Read(p *jute.QuorumPacket) error {
	pr.buf = pr.buf[:0]
	if err := pr.readN(12); err != nil { // type, zxid
		return err // io.EOF if the stream ended before the packet
	}
	if _, err := pr.readLenAndBytes("data"); err != nil {
		return err
	}
	ids, err := pr.readLen("authinfo count")
	if err != nil {
		return err
	}
	vecStart := len(pr.buf)
	for i := 0; i < ids; i++ {
		for _, what := range [2]string{"authinfo scheme", "authinfo id"} {
			if _, err := pr.readLenAndBytes(what); err != nil {
				return err
			}
		}
		if len(pr.buf)-vecStart > pr.limit {
			return fmt.Errorf("%w: authinfo of %d ids exceeds %d bytes", ErrPacketTooLarge, ids, pr.limit)
		}
	}
	pr.dec.Reset(pr.buf, pr.limit)
	p.Decode(&pr.dec)
	if err := pr.dec.Err(); err != nil {
		return fmt.Errorf("transport: quorum packet: %w", err)
	}
	return nil
}

// readN appends the next n bytes of the stream to pr.buf. The stream
// ending before them is io.ErrUnexpectedEOF, except that it is io.EOF when
// pr.buf was empty and nothing was read: a clean end between packets.
func (pr *PacketReader) readN(n int) error {
	off := len(pr.buf)
	pr.buf = slices.Grow(pr.buf, n)[:off+n]
	if _, err := io.ReadFull(pr.r, pr.buf[off:]); err != nil {
		if err == io.EOF && off > 0 {
			err = io.ErrUnexpectedEOF
		}
		pr.buf = pr.buf[:off]
		return err
	}
	return nil
}

// readLen reads a length prefix: -1 (null) reads as 0 more bytes, any
// other negative value or one above the limit is an error.
func (pr *PacketReader) readLen(what string) (int, error) {
	if err := pr.readN(4); err != nil {
		return 0, err
	}
	n := int(int32(binary.BigEndian.Uint32(pr.buf[len(pr.buf)-4:])))
	switch {
	case n == -1:
		return 0, nil
	case n < 0 || n > pr.limit:
		return 0, fmt.Errorf("%w: %s %d, limit %d", ErrPacketTooLarge, what, n, pr.limit)
	}
	return n, nil
}

func (pr *PacketReader) readLenAndBytes(what string) (int, error) {
	n, err := pr.readLen(what)
	if err != nil {
		return 0, err
	}
	return n, pr.readN(n)
}

// PacketWriter writes QuorumPacket records to a quorum-port stream through
// a buffer: nothing reaches the stream before Flush (or a full buffer),
// as ZooKeeper's learner and leader batch packets and flush explicitly.
type PacketWriter struct {
	w   *bufio.Writer
	buf []byte
}

// NewPacketWriter returns a buffered writer of w.
func NewPacketWriter(w io.Writer) *PacketWriter {
	return &PacketWriter{w: bufio.NewWriter(w)}
}

// Write buffers p's encoding.
func (pw *PacketWriter) Write(p *jute.QuorumPacket) error {
	pw.buf = p.Encode(pw.buf[:0])
	_, err := pw.w.Write(pw.buf)
	return err
}

// Flush writes every buffered packet to the stream.
func (pw *PacketWriter) Flush() error { return pw.w.Flush() }

// TimeoutConn is a net.Conn whose every Read may block for at most the
// timeout set by SetReadTimeout, like a Java socket's SO_TIMEOUT (which is
// how ZooKeeper applies initLimit and syncLimit to quorum connections).
// Converting ticks into the timeout is the caller's business.
type TimeoutConn struct {
	net.Conn
	timeout atomic.Int64 // a time.Duration; 0 is none
}

// NewTimeoutConn wraps c with no read timeout.
func NewTimeoutConn(c net.Conn) *TimeoutConn { return &TimeoutConn{Conn: c} }

// SetReadTimeout makes every later Read fail with a timeout error if no
// byte arrives within d; 0 means no timeout. A Read already blocked keeps
// the deadline it started with, unless d is 0.
func (c *TimeoutConn) SetReadTimeout(d time.Duration) error {
	c.timeout.Store(int64(d))
	if d == 0 {
		return c.Conn.SetReadDeadline(time.Time{})
	}
	return nil
}

// Read reads from the connection, first moving its deadline to now plus
// the timeout if there is one.
func (c *TimeoutConn) Read(b []byte) (int, error) {
	if d := time.Duration(c.timeout.Load()); d > 0 {
		if err := c.Conn.SetReadDeadline(time.Now().Add(d)); err != nil {
			return 0, err
		}
	}
	return c.Conn.Read(b)
}
