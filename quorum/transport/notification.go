package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// State is a server's election state as a notification carries it
// (ZooKeeper's QuorumPeer.ServerState ordinal).
type State int32

// The states a notification may carry. ZooKeeper drops a voter's
// notification whose state is none of these.
const (
	Looking   State = 0
	Following State = 1
	Leading   State = 2
	Observing State = 3
)

// Valid reports whether s is one of the four states ZooKeeper knows.
func (s State) Valid() bool { return s >= Looking && s <= Observing }

func (s State) String() string {
	switch s {
	case Looking:
		return "LOOKING"
	case Following:
		return "FOLLOWING"
	case Leading:
		return "LEADING"
	case Observing:
		return "OBSERVING"
	}
	return fmt.Sprintf("State(%d)", int32(s))
}

// NotificationVersion is the notification format Encode writes: version 2,
// the one that carries the sender's config text (ZooKeeper 3.5+).
const NotificationVersion = 2

// Notification sizes: the fixed part of each format ZooKeeper has sent.
const (
	notificationV0Size = 28 // before peerEpoch (ZOOKEEPER-107)
	notificationV1Size = 40 // peerEpoch and version
	notificationV2Size = 44 // the config text's length
)

// ErrBadNotification means a notification is shorter than its format
// needs or its config length does not fit; ZooKeeper skips such a message.
var ErrBadNotification = errors.New("transport: malformed notification")

// Notification is one Fast Leader Election vote as it travels on the
// election port: the sender's state and the vote it currently holds.
type Notification struct {
	// State is the sender's state. Decode does not check it: ZooKeeper
	// answers a non-voter before it looks at the state, and drops a
	// voter's notification whose state is not Valid.
	State State
	// Leader is the sid the sender votes for.
	Leader int64
	// Zxid is the last logged zxid of the proposed leader.
	Zxid int64
	// ElectionEpoch is the sender's logical clock (election round).
	ElectionEpoch int64
	// PeerEpoch is the proposed leader's epoch. A 28-byte notification has
	// none; Decode sets it to the epoch of Zxid, as ZooKeeper does.
	PeerEpoch int64
	// Version is the format version Decode read (0 for the 28- and
	// 40-byte formats). Encode ignores it and writes NotificationVersion.
	Version int32
	// Config is the sender's config text (server.N=... lines and
	// version=<hex>), present only when Version > 1.
	Config string
}

// Size returns the length of n's encoding: 44 bytes plus the config text.
func (n *Notification) Size() int { return notificationV2Size + len(n.Config) }

// Encode appends n in the version-2 format and returns the extended slice.
func (n *Notification) Encode(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(n.State))
	b = binary.BigEndian.AppendUint64(b, uint64(n.Leader))
	b = binary.BigEndian.AppendUint64(b, uint64(n.Zxid))
	b = binary.BigEndian.AppendUint64(b, uint64(n.ElectionEpoch))
	b = binary.BigEndian.AppendUint64(b, uint64(n.PeerEpoch))
	b = binary.BigEndian.AppendUint32(b, NotificationVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(len(n.Config)))
	return append(b, n.Config...)
}

// DecodeNotification reads a notification of any format ZooKeeper has sent,
// telling them apart by length as ZooKeeper's FastLeaderElection does:
//   - under 28 bytes: an error;
//   - exactly 28: no peerEpoch (it becomes Zxid>>32) and version 0;
//   - exactly 40: peerEpoch, a version field that is not read (version 0);
//   - otherwise: peerEpoch and version, and, if the version is above 1,
//     the config text's length and bytes. A length below 0, above the
//     message size or past its end is an error; so is a message too short
//     for the fields its length and version imply.
//
// Bytes after the last field are ignored.
func DecodeNotification(b []byte) (Notification, error) {
	var n Notification
	if len(b) < notificationV0Size {
		return n, fmt.Errorf("%w: %d bytes, want at least %d", ErrBadNotification, len(b), notificationV0Size)
	}
	n.State = State(binary.BigEndian.Uint32(b))
	n.Leader = int64(binary.BigEndian.Uint64(b[4:]))
	n.Zxid = int64(binary.BigEndian.Uint64(b[12:]))
	n.ElectionEpoch = int64(binary.BigEndian.Uint64(b[20:]))
	if len(b) == notificationV0Size {
		n.PeerEpoch = n.Zxid >> 32
		return n, nil
	}
	if len(b) < 36 {
		return n, fmt.Errorf("%w: %d bytes end inside peerEpoch", ErrBadNotification, len(b))
	}
	n.PeerEpoch = int64(binary.BigEndian.Uint64(b[28:]))
	if len(b) == notificationV1Size {
		return n, nil
	}
	if len(b) < notificationV1Size {
		return n, fmt.Errorf("%w: %d bytes end inside version", ErrBadNotification, len(b))
	}
	n.Version = int32(binary.BigEndian.Uint32(b[36:]))
	if n.Version <= 1 {
		return n, nil
	}
	if len(b) < notificationV2Size {
		return n, fmt.Errorf("%w: version %d in %d bytes, no config length", ErrBadNotification, n.Version, len(b))
	}
	cfgLen := int32(binary.BigEndian.Uint32(b[40:]))
	if cfgLen < 0 || int(cfgLen) > len(b)-notificationV2Size {
		return n, fmt.Errorf("%w: config length %d in %d bytes", ErrBadNotification, cfgLen, len(b))
	}
	n.Config = string(b[notificationV2Size : notificationV2Size+int(cfgLen)])
	return n, nil
}
