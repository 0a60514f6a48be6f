// Package jute is ZooKeeper's serialization: the runtime that reads and
// writes jute's primitive types and the generated Go form of every record
// in ZooKeeper's zookeeper.jute (client protocol, txn log, snapshots and
// quorum packets), plus the protocol constants every layer shares.
//
// Byte layout, exactly as Apache ZooKeeper writes it (all big-endian):
//
//	int      +--------+                      4 bytes, two's complement
//	         | int32  |
//	         +--------+
//	long     +----------------+              8 bytes, two's complement
//	         |     int64      |
//	         +----------------+
//	boolean  +--+                            1 byte, 0 = false, 1 = true
//	buffer   +--------+---------...          length then bytes;
//	ustring  | length | bytes               length -1 = null, 0 = empty
//	         +--------+---------...
//	vector   +--------+------+------+...    count then elements;
//	         | count  | e[0] | e[1] |       count -1 = null
//	         +--------+------+------+...
//	record   fields in schema order, no header, no padding
//
// Records travel inside frames: a 4-byte big-endian length, then the
// record bytes (a request is RequestHeader + body, a reply ReplyHeader +
// body). Framing lives in package wire.
//
// Encoding appends to a caller-owned slice and allocates only when it must
// grow. Decoding never trusts a length: each is checked against what is
// left of the input and against jute.maxbuffer before anything is
// allocated, and a bad input yields an error, never a panic.
package jute

//go:generate go run ./internal/jutegen -schema zookeeper.schema -out records_gen.go
