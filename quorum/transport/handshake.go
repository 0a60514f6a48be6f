package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"strings"
)

// Election handshake protocol versions: the first int64 a dialer sends.
// A non-negative first int64 is instead the bare sid of a pre-3.5 peer.
const (
	// ProtocolV1 carries exactly one election address.
	ProtocolV1 int64 = -65536
	// ProtocolV2 may carry several, joined by '|'. ZooKeeper sends it only
	// with zookeeper.multiAddress.enabled (ZOOKEEPER-3720).
	ProtocolV2 int64 = -65535
	// ProtocolBare marks a handshake that is only the sid (pre-3.5).
	ProtocolBare int64 = 0
)

// ObserverID is the sid an observer without an id of its own sends
// (ZooKeeper's QuorumPeer.OBSERVER_ID); the receiver gives each such
// connection a fresh negative sid.
const ObserverID int64 = math.MaxInt64

// MaxHandshakeAddr is the largest address text a handshake may carry
// (ZooKeeper's QuorumCnxManager.maxBuffer).
const MaxHandshakeAddr = 2048

// ErrBadHandshake means the first bytes on an election connection are not
// a handshake ZooKeeper would accept.
var ErrBadHandshake = errors.New("transport: malformed election handshake")

// Handshake is what the dialer of an election connection sends first:
// protocol version, its sid and its own election address(es). No reply
// follows.
type Handshake struct {
	// Version is ProtocolV1, ProtocolV2 or ProtocolBare.
	Version int64
	// SID is the dialer's server id.
	SID int64
	// Addrs are the dialer's election addresses, host:port each (an IPv6
	// host in brackets). ReadHandshake leaves out wildcard hosts (0.0.0.0,
	// ::), as ZooKeeper does. ProtocolV1 carries exactly one, ProtocolBare
	// none.
	Addrs []string
}

// Encode appends h as the dialer sends it. It fails if the version is
// unknown, a ProtocolV1 handshake does not carry exactly one address, an
// address holds a '|', or the address text is empty or longer than
// MaxHandshakeAddr bytes.
func (h *Handshake) Encode(b []byte) ([]byte, error) {
	switch h.Version {
	case ProtocolBare:
		if h.SID < 0 || len(h.Addrs) != 0 {
			return b, fmt.Errorf("%w: bare sid %d with %d addresses", ErrBadHandshake, h.SID, len(h.Addrs))
		}
		return binary.BigEndian.AppendUint64(b, uint64(h.SID)), nil
	case ProtocolV1:
		if len(h.Addrs) != 1 {
			return b, fmt.Errorf("%w: version 1 carries one address, not %d", ErrBadHandshake, len(h.Addrs))
		}
	case ProtocolV2:
	default:
		return b, fmt.Errorf("%w: version %d", ErrBadHandshake, h.Version)
	}
	for _, a := range h.Addrs {
		if strings.Contains(a, "|") {
			return b, fmt.Errorf("%w: address %q holds a '|'", ErrBadHandshake, a)
		}
	}
	addr := strings.Join(h.Addrs, "|")
	if len(addr) == 0 || len(addr) > MaxHandshakeAddr {
		return b, fmt.Errorf("%w: address text of %d bytes", ErrBadHandshake, len(addr))
	}
	b = binary.BigEndian.AppendUint64(b, uint64(h.Version))
	b = binary.BigEndian.AppendUint64(b, uint64(h.SID))
	b = binary.BigEndian.AppendUint32(b, uint32(len(addr)))
	return append(b, addr...), nil
}

// ReadHandshake reads a handshake from r, which should carry a read
// deadline. It reads exactly the handshake's bytes and nothing after them.
// A first int64 of ProtocolV1 or ProtocolV2 is followed by the sid, an
// int32 length of 1..MaxHandshakeAddr and the address text; any other
// negative first int64 is an error, a non-negative one is a bare sid.
// Each address must be host:port with a port in 0..65535.
func ReadHandshake(r io.Reader) (Handshake, error) {
	var h Handshake
	var hdr [20]byte
	if _, err := io.ReadFull(r, hdr[:8]); err != nil {
		return h, fmt.Errorf("%w: %w", ErrBadHandshake, err)
	}
	first := int64(binary.BigEndian.Uint64(hdr[:8]))
	if first >= 0 {
		h.Version, h.SID = ProtocolBare, first
		return h, nil
	}
	if first != ProtocolV1 && first != ProtocolV2 {
		return h, fmt.Errorf("%w: unknown protocol version %d", ErrBadHandshake, first)
	}
	h.Version = first
	if _, err := io.ReadFull(r, hdr[8:]); err != nil {
		return h, fmt.Errorf("%w: %w", ErrBadHandshake, err)
	}
	h.SID = int64(binary.BigEndian.Uint64(hdr[8:]))
	n := int32(binary.BigEndian.Uint32(hdr[16:]))
	if n <= 0 || n > MaxHandshakeAddr {
		return h, fmt.Errorf("%w: address length %d from sid %d", ErrBadHandshake, n, h.SID)
	}
	text := make([]byte, n)
	if _, err := io.ReadFull(r, text); err != nil {
		return h, fmt.Errorf("%w: address of sid %d: %w", ErrBadHandshake, h.SID, err)
	}
	// NB: ZooKeeper splits on '|' whatever the version, so a V1 handshake
	// carrying several addresses is accepted too.
	for _, a := range strings.Split(string(text), "|") {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			return h, fmt.Errorf("%w: address %q of sid %d: %w", ErrBadHandshake, a, h.SID, err)
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return h, fmt.Errorf("%w: port in %q of sid %d", ErrBadHandshake, a, h.SID)
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			continue
		}
		h.Addrs = append(h.Addrs, a)
	}
	return h, nil
}
