// Package peer runs a quorum.Node on real sockets, files and timers: it
// turns the core's messages into ZooKeeper's election notifications and
// QuorumPackets and back, and does what the core's Ready says.
package peer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gokeeper/gokeeper/jute"
	"github.com/gokeeper/gokeeper/quorum"
	"github.com/gokeeper/gokeeper/quorum/transport"
)

// ProtocolVersion is what gokeeper sends in LearnerInfo and LEADERINFO:
// ZooKeeper 3.4+'s 0x10000.
const ProtocolVersion = 0x10000

// ErrBadPacket means a quorum packet's payload does not fit its type.
var ErrBadPacket = errors.New("peer: malformed quorum packet")

// EncodePacket turns a core message into the QuorumPacket that carries it.
// configVersion goes into LearnerInfo.
func EncodePacket(m quorum.Message, configVersion int64) jute.QuorumPacket {
	p := jute.QuorumPacket{Type: int32(m.Type), Zxid: m.Zxid, Data: m.Data}
	switch m.Type {
	case jute.PacketFollowerInfo, jute.PacketObserverInfo:
		li := jute.LearnerInfo{Serverid: m.From, ProtocolVersion: ProtocolVersion, ConfigVersion: configVersion}
		p.Data = li.Encode(nil)
	case jute.PacketLeaderInfo:
		p.Data = binary.BigEndian.AppendUint32(nil, ProtocolVersion)
	case jute.PacketAckEpoch:
		p.Data = binary.BigEndian.AppendUint32(nil, uint32(int32(m.Epoch)))
	case jute.PacketSnap:
		p.Data = nil // the snapshot follows the packet as a stream
	case jute.PacketUpToDate:
		p.Zxid = -1
	case jute.PacketCommitAndActivate:
		p.Data = binary.BigEndian.AppendUint64(nil, uint64(m.Designated))
	case jute.PacketInformAndActivate:
		p.Data = append(binary.BigEndian.AppendUint64(nil, uint64(m.Designated)), m.Data...)
	}
	return p
}

// DecodePacket turns a QuorumPacket received from peer on connection conn
// into a core message for self.
func DecodePacket(self, peer int64, conn uint64, p jute.QuorumPacket) (quorum.Message, error) {
	m := quorum.Message{From: peer, To: self, Conn: conn, Type: jute.PacketType(p.Type), Zxid: p.Zxid, Data: p.Data}
	switch m.Type {
	case jute.PacketFollowerInfo, jute.PacketObserverInfo:
		var li jute.LearnerInfo
		if err := jute.Unmarshal(p.Data, &li, len(p.Data)); err != nil {
			return m, fmt.Errorf("%w: %v LearnerInfo: %v", ErrBadPacket, m.Type, err)
		}
		if li.Serverid != peer {
			return m, fmt.Errorf("%w: %v from %d names server %d", ErrBadPacket, m.Type, peer, li.Serverid)
		}
		m.Data = nil
	case jute.PacketLeaderInfo:
		if len(p.Data) != 4 {
			return m, fmt.Errorf("%w: LEADERINFO with %d bytes", ErrBadPacket, len(p.Data))
		}
		m.Data = nil
	case jute.PacketAckEpoch:
		if len(p.Data) != 4 {
			return m, fmt.Errorf("%w: ACKEPOCH with %d bytes", ErrBadPacket, len(p.Data))
		}
		m.Epoch = int64(int32(binary.BigEndian.Uint32(p.Data)))
		m.Data = nil
	case jute.PacketCommitAndActivate, jute.PacketInformAndActivate:
		if len(p.Data) < 8 {
			return m, fmt.Errorf("%w: %v with %d bytes", ErrBadPacket, m.Type, len(p.Data))
		}
		m.Designated = int64(binary.BigEndian.Uint64(p.Data))
		m.Data = p.Data[8:]
		if m.Type == jute.PacketCommitAndActivate {
			m.Data = nil
		}
	}
	return m, nil
}

// EncodeVote turns a core election message into ZooKeeper's notification.
func EncodeVote(v quorum.Vote, config string) transport.Notification {
	return transport.Notification{
		State: transport.State(v.State), Leader: v.Leader, Zxid: v.Zxid,
		ElectionEpoch: v.ElectionEpoch, PeerEpoch: v.PeerEpoch, Config: config,
	}
}

// DecodeVote turns a notification into the core's vote; false for a state
// ZooKeeper does not know (it drops those).
func DecodeVote(n transport.Notification) (quorum.Vote, bool) {
	if !n.State.Valid() {
		return quorum.Vote{}, false
	}
	return quorum.Vote{
		State: quorum.PeerState(n.State), Leader: n.Leader, Zxid: n.Zxid,
		ElectionEpoch: n.ElectionEpoch, PeerEpoch: n.PeerEpoch,
	}, true
}

// ConfigText renders a membership's config text with its version: the
// text's version=<hex> line, which ends it, says m.Version (a leader
// versions the static config with its epoch, ZOOKEEPER-1783).
func ConfigText(m *quorum.Membership) []byte {
	s := string(m.Text)
	if i := strings.LastIndex(s, "version="); i >= 0 {
		s = s[:i]
	}
	return []byte(s + "version=" + strconv.FormatInt(m.Version, 16))
}
