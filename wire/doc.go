// Package wire serves ZooKeeper's client protocol over TCP: framing, the
// connect handshake, per-connection reply and watch delivery, four-letter
// words on the client port, and connection limits. What a request means is
// package server's business; wire moves bytes.
//
// Every message in both directions is a frame:
//
//	+----------------+---------------------------+
//	| length (int32) | payload (length bytes)    |
//	+----------------+---------------------------+
//
// A length below 0 or above jute.maxbuffer closes the connection.
//
// The first frame a client sends is a ConnectRequest:
//
//	protocolVersion int | lastZxidSeen long | timeOut int | sessionId long |
//	passwd buffer | [readOnly boolean]
//
// The readOnly byte is absent in clients older than 3.4; the server then
// leaves it out of its ConnectResponse too:
//
//	protocolVersion int | timeOut int | sessionId long | passwd buffer |
//	[readOnly boolean]
//
// A timeOut of 0 in the response means the session is expired (or the
// password was wrong); the server closes the connection after sending it.
//
// Every later request is RequestHeader (xid int, type int) + body; every
// reply is ReplyHeader (xid int, zxid long, err int) + body, the body
// present only when err is 0 (and for multi). Special xids: -1 watch
// notification (body WatcherEvent), -2 ping, -4 auth, -8 setWatches.
//
// Replies are written by one writer per connection. A client that does not
// read them is not read either: once more than Options.ReadPauseBytes of
// replies are queued for it, its requests wait in the socket until the
// queue has fallen back, so a slow reader pins about that much memory
// whatever it pipelines.
//
// An idle connection costs no goroutine and no buffer. A connection reads
// into a pooled buffer that it holds only while bytes are in it. One that
// has sent only pings since it opened (or since it was last idle) hands its
// socket to the listener's idle poller as soon as the socket is empty; any
// other connection does so after Options.IdleAfter of silence. The poller,
// one epoll instance and one goroutine per listener, starts a reader again
// when the socket becomes readable, when the connection must close, or
// when it has been silent past its session's read limit (idle.go).
//
// A secure client port (Port.TLS, secureClientPort) runs a TLS handshake
// first, on the connection's own goroutine, bounded by
// Options.TLSHandshakeTimeout; a failed one is logged with the client's
// address and counted, and nothing else is affected. Then the same frames
// flow inside TLS. NB: an idle TLS connection keeps its reader goroutine,
// as the state of a TLS read lives in crypto/tls, not in the socket; it
// keeps no read buffer (it waits reading a few bytes), and every write
// goes through the writer goroutine. Measured (TestIdleTLSConnectionCost):
// about 11.5 KB of heap and one goroutine stack per idle TLS session,
// against 3.4 KB and none for a plaintext one.
//
// Instead of a length, a connection's first four bytes may be a
// four-letter word ("ruok", "srvr", "mntr", ...): the answer is written
// as plain text and the connection is closed.
package wire
