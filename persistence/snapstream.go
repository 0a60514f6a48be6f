package persistence

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
)

// ErrBadSnapStream means a SNAP stream from a leader failed a check: a
// length out of bounds, a node whose ACL is not in the stream's ACL cache,
// or a missing signature.
var ErrBadSnapStream = errors.New("persistence: bad SNAP stream")

// snapSignature ends a SNAP stream (LearnerHandler writes it, Learner
// checks it).
const snapSignature = "BenWasHere"

// WriteSnapStream writes what a ZooKeeper leader sends a learner after the
// SNAP packet (ZKDatabase.serializeSnapshot, then the signature): the
// sessions, the ACL cache, the nodes of tree in pre-order ending with "/",
// and "BenWasHere". It is the body of a snapshot file, without the file
// header, checksums or digest. tree is consumed as by WriteSnapshot. w is
// buffered here (unless it is a *bufio.Writer) and flushed before
// WriteSnapStream returns.
func WriteSnapStream(w io.Writer, sessions []Session, tree SnapshotSource) error {
	bw, ok := w.(*bufio.Writer)
	if !ok {
		bw = bufio.NewWriterSize(w, 64<<10)
	}
	cw := &checkedWriter{w: bw}
	if _, err := writeSnapshotBody(cw, sessions, tree); err != nil {
		return fmt.Errorf("persistence: write SNAP stream: %w", err)
	}
	cw.str(snapSignature)
	if cw.err == nil {
		cw.err = bw.Flush()
	}
	if cw.err != nil {
		return fmt.Errorf("persistence: write SNAP stream: %w", cw.err)
	}
	return nil
}

// ReadSnapStream reads a SNAP stream (what WriteSnapStream writes, and
// what ZooKeeper's leaders send), calling sessionFn for each session and
// nodeFn for each node, as LoadLatestSnapshot does; either may be nil. It
// reads exactly the stream's bytes from r and nothing after the
// signature, so the caller reads the next quorum packet from r; r should
// be buffered. Every length is checked against maxBuffer (jute.maxbuffer;
// 0 or less means 64 MiB, as for snapshot files) before anything is
// allocated. A stream that breaks the format gives an error wrapping
// ErrBadSnapStream; one that ends early, io.ErrUnexpectedEOF too. The
// callbacks may have seen part of the stream when an error is returned;
// the caller then discards what it built. nodeFn's first error stops the
// read and is returned.
func ReadSnapStream(r io.Reader, maxBuffer int, sessionFn func(Session), nodeFn func(*Node) error) error {
	if maxBuffer <= 0 {
		maxBuffer = 64 << 20
	}
	c := &checkedReader{r: r, left: math.MaxInt64, max: maxBuffer, path: "SNAP stream", bad: ErrBadSnapStream}
	if err := readSnapshotBody(c, sessionFn, nil, nodeFn); err != nil {
		return err
	}
	if sig := c.str(); c.err == nil && sig != snapSignature {
		c.fail("signature %q, want %q", sig, snapSignature)
	}
	return c.err
}
