// Package transport is the IO under gokeeper's quorum: the election port
// (handshake, framing and ZooKeeper's connection manager, which keeps one
// connection per pair of servers) and the quorum port's stream of
// QuorumPacket records. It speaks Apache ZooKeeper's own bytes, so a
// gokeeper server and a ZooKeeper server can sit in one ensemble. The
// election and ZAB state machines (package quorum) sit above it and do no
// IO; the snapshot stream that follows a SNAP packet belongs to
// persistence.
//
// All integers are big-endian, two's complement.
//
// # Election port: handshake
//
// The server that dials sends, once, with no length prefix and no reply:
//
//	+------------------+------------------+----------+---------------------+
//	| version (int64)  | sid (int64)      | n (int32)| addr (n bytes UTF-8)|
//	+------------------+------------------+----------+---------------------+
//	  0                  8                  16         20
//
//	version  -65536 (V1): addr is one "host:port"
//	         -65535 (V2): addr is "host:port|host:port|..." (multiAddress)
//	         >= 0       : a pre-3.5 peer; this int64 is its sid, nothing follows
//	         other      : rejected, the connection is closed
//	n        1..2048, else rejected
//	sid      Long.MAX_VALUE is an observer without an id; it gets -1, -2, ...
//
// Which connection survives: only one dialled by the larger sid. A smaller
// dialer sends its handshake and closes; the larger receiver closes and
// dials back. A new connection for a sid replaces the one before it; a
// handshake that claims the receiver's own sid is ignored (ZOOKEEPER-2164).
//
// # Election port: messages
//
// After the handshake each message, both ways, is
//
//	+----------------+------------------+
//	| len (int32)    | len bytes        |    0 < len <= 524288, else the
//	+----------------+------------------+    connection is closed
//
// and the bytes are a Fast Leader Election notification, version 2:
//
//	+--------+--------+--------+---------------+-----------+---------+--------+---------+
//	| state  | leader | zxid   | electionEpoch | peerEpoch | version | n      | config  |
//	| int32  | int64  | int64  | int64         | int64     | int32=2 | int32  | n bytes |
//	+--------+--------+--------+---------------+-----------+---------+--------+---------+
//	  0        4        12       20              28          36        40       44
//
//	state   0 LOOKING, 1 FOLLOWING, 2 LEADING, 3 OBSERVING
//	config  the sender's config text: "server.N=host:qport:eport:participant..."
//	        lines, then "version=<hex>"
//
// Older formats, told apart by length: 28 bytes (up to electionEpoch;
// peerEpoch is zxid>>32), 40 bytes (version not read, taken as 0); any
// other length carries config only if version > 1. Shorter than 28, or too
// short for what the length and version imply, is dropped.
//
// Queues: each peer's send queue holds one message, the shared receive
// queue 100; both drop their oldest message when full. A connection that
// starts while its peer's send queue is empty first resends the last
// message sent to that peer, so receivers see duplicates.
//
// Where the Manager does better than ZooKeeper's QuorumCnxManager, with
// the same bytes on the wire: handshakes are read in parallel, and a
// connection registers only if it is newer (accepted or dialled later)
// than the one it would replace; a dial ends in the same critical section
// that registers its connection, so a peer's request to dial back is never
// lost in between; a message that a dying connection took from the queue
// goes back to it unless a newer one waits; ConnectAll dials the
// configured peers as well as those with a send queue.
//
// # Quorum port
//
// Learner and leader exchange QuorumPacket records back to back, with no
// length prefix:
//
//	+---------+---------+-----------------------+---------------------------------------+
//	| type    | zxid    | data                  | authinfo                              |
//	| int32   | int64   | int32 len, len bytes  | int32 count, count x Id{scheme, id}   |
//	|         |         | (-1 = null)           | (-1 = null); scheme, id: int32 len +  |
//	|         |         |                       | UTF-8 bytes                           |
//	+---------+---------+-----------------------+---------------------------------------+
//	  0         4         12
//
// A length above jute.maxbuffer + zookeeper.jute.maxbuffer.extrasize
// (FieldLimit) breaks the connection. After a SNAP packet the leader sends
// a raw snapshot (sessions, ACL cache, nodes, "/", "BenWasHere"), which is
// not a sequence of QuorumPackets and is read by persistence.
//
// # Security
//
// With sslQuorum both ports run TLS (mutual: each member presents its
// ssl.quorum key store's certificate); with portUnification a listener
// tells a TLS ClientHello (first byte 0x16, then 0x03) from plaintext and
// serves both. Quorum SASL (DIGEST-MD5 in QuorumAuthPacket records, see
// Security) runs on the quorum port before the learner's first packet and
// on the election port right after the dialer's handshake.
package transport
