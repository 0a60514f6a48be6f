package jute

import (
	"bytes"
	"strings"
	"testing"
)

// decodeQuorumPacket decodes one captured QuorumPacket, re-encodes it and
// decodes the payload the packet type implies: LearnerInfo in
// FOLLOWERINFO and OBSERVERINFO, a txn in PROPOSAL and INFORM, a
// forwarded client request in REQUEST, a session in REVALIDATE, nothing in
// TRUNC. A SNAPSTREAM block is the database a leader streams after SNAP
// (decodeSnapStream). It returns every record it decoded.
func decodeQuorumPacket(tb testing.TB, label string, b []byte) []Record {
	tb.Helper()
	// label is "<file>: <l2L|L2l> <seq> <TYPE> ...".
	_, bare, _ := strings.Cut(label, ": ")
	words := strings.Fields(bare)
	if len(words) < 3 {
		tb.Fatalf("%s: bad label", label)
	}
	if words[2] == "SNAPSTREAM" {
		return decodeSnapStream(tb, label, b)
	}
	qp := new(QuorumPacket)
	if err := Unmarshal(b, qp, 0); err != nil {
		tb.Fatalf("%s: %v", label, err)
	}
	if enc := qp.Encode(nil); !bytes.Equal(enc, b) {
		tb.Fatalf("%s: re-encodes as % x, want % x", label, enc, b)
	}
	recs := []Record{qp}
	switch PacketType(qp.Type) {
	case PacketFollowerInfo, PacketObserverInfo:
		li := new(LearnerInfo)
		if err := Unmarshal(qp.Data, li, 0); err != nil {
			tb.Fatalf("%s: LearnerInfo: %v", label, err)
		}
		if enc := li.Encode(nil); !bytes.Equal(enc, qp.Data) {
			tb.Fatalf("%s: LearnerInfo re-encodes as % x, want % x", label, enc, qp.Data)
		}
		if li.ProtocolVersion != 0x10000 || li.Serverid <= 0 {
			tb.Errorf("%s: LearnerInfo %+v", label, li)
		}
		recs = append(recs, li)
	case PacketProposal, PacketInform:
		r, sub := decodeTxn(tb, label, qp.Data)
		if hz := r[0].(*TxnHeader).Zxid; hz != qp.Zxid {
			tb.Errorf("%s: %v zxid %#x, its txn's %#x", label, PacketType(qp.Type), qp.Zxid, hz)
		}
		recs = append(append(recs, r...), sub...)
	case PacketTrunc, PacketSnap:
		// The zxid is all: to truncate the log after, or of the snapshot.
		if qp.Data != nil {
			tb.Errorf("%s: %d bytes of data", label, len(qp.Data))
		}
	case PacketRevalidate:
		// A learner asks about a session (id long, timeout int); the
		// leader answers (id long, valid boolean).
		d := NewDecoder(qp.Data, 0)
		d.Long()
		if words[0] == "l2L" {
			if d.Int() <= 0 {
				tb.Errorf("%s: no session timeout", label)
			}
		} else {
			d.Bool()
		}
		if d.Err() != nil || d.Remaining() != 0 {
			tb.Fatalf("%s: %v, %d bytes left", label, d.Err(), d.Remaining())
		}
	case PacketRequest:
		// A follower forwards a client request: session id, cxid, op,
		// then the request record as the client sent it.
		d := NewDecoder(qp.Data, 0)
		d.Long()
		d.Int()
		op := OpCode(d.Int())
		from := d.Offset()
		var body []Record
		switch op {
		case OpCreateSession:
			d.Int() // the session timeout
		case OpMulti:
			rs, err := decodeMulti(d, requestBody)
			if err != nil {
				tb.Fatalf("%s: multi: %v", label, err)
			}
			body = rs
		default:
			r, err := requestBody(op)
			if err != nil {
				tb.Fatalf("%s: %v", label, err)
			}
			if r != nil {
				r.Decode(d)
				body = append(body, r)
			}
		}
		if d.Err() != nil || d.Remaining() != 0 {
			tb.Fatalf("%s: forwarded %v: %v, %d bytes left", label, op, d.Err(), d.Remaining())
		}
		var enc []byte
		for _, r := range body {
			enc = r.Encode(enc)
		}
		if len(body) > 0 && !bytes.Equal(enc, qp.Data[from:]) {
			tb.Fatalf("%s: forwarded %v re-encodes as % x, want % x", label, op, enc, qp.Data[from:])
		}
		recs = append(recs, body...)
	}
	return recs
}

// decodeSnapStream decodes the database a ZooKeeper leader streams to a
// learner after SNAP (ZKDatabase.serializeSnapshot, then its signature):
// the sessions (id long, timeout int), the ACL cache (reference long,
// vector<ACL>), the nodes (path, data buffer, ACL reference long,
// StatPersisted) up to the path "/", then the string "BenWasHere". It
// re-encodes the stream byte for byte and returns the ACLs and stats.
func decodeSnapStream(tb testing.TB, label string, b []byte) []Record {
	tb.Helper()
	d := NewDecoder(b, 0)
	var enc []byte
	var recs []Record
	n := d.Int()
	enc = AppendInt(enc, n)
	for range n {
		enc = AppendInt(AppendLong(enc, d.Long()), d.Int())
	}
	lists := d.Int()
	enc = AppendInt(enc, lists)
	for range lists {
		enc = AppendLong(enc, d.Long())
		acls := d.VectorLen(12)
		enc = AppendVectorLen(enc, acls)
		for range acls {
			a := new(ACL)
			a.Decode(d)
			enc = a.Encode(enc)
			recs = append(recs, a)
		}
	}
	nodes := 0
	for d.Err() == nil {
		path := d.String()
		enc = AppendString(enc, path)
		if path == "/" {
			break
		}
		enc = AppendLong(AppendBuffer(enc, d.Buffer()), d.Long())
		st := new(StatPersisted)
		st.Decode(d)
		enc = st.Encode(enc)
		recs = append(recs, st)
		nodes++
	}
	sig := d.String()
	enc = AppendString(enc, sig)
	if d.Err() != nil || d.Remaining() != 0 || sig != "BenWasHere" || nodes == 0 {
		tb.Fatalf("%s: %v, %d bytes left, %d nodes, signature %q", label, d.Err(), d.Remaining(), nodes, sig)
	}
	if !bytes.Equal(enc, b) {
		tb.Fatalf("%s: re-encodes as % x, want % x", label, enc, b)
	}
	return recs
}

// TestGoldenQuorum decodes the quorum streams of a real ZooKeeper 3.8
// ensemble of three voters and an observer, captured by the same command
// as TestGoldenFrames (it writes testdata/quorum): each learner's
// connection to the leader's quorum port, QuorumPacket by QuorumPacket,
// with the learner handshakes, proposals, commits, informs, forwarded
// requests, syncs, pings, a revalidation, a SNAP with its snapshot and a
// TRUNC.
func TestGoldenQuorum(t *testing.T) {
	seen := map[string]int{}
	for file, blocks := range readBlocks(t, "quorum", "*.txt") {
		for _, bl := range blocks {
			words := strings.Fields(bl.label)
			if len(words) < 3 {
				t.Fatalf("%s: label %q", file, bl.label)
			}
			recs := decodeQuorumPacket(t, file+": "+bl.label, bl.data)
			typ := words[2]
			if qp, ok := recs[0].(*QuorumPacket); ok && PacketType(qp.Type).String() != typ {
				t.Errorf("%s: %q decoded as %v", file, bl.label, PacketType(qp.Type))
			}
			seen[words[0]+" "+typ]++
		}
	}
	for _, want := range []string{
		"l2L FOLLOWERINFO", "L2l LEADERINFO", "l2L ACKEPOCH", "L2l DIFF", "L2l NEWLEADER", "L2l UPTODATE",
		"L2l PROPOSAL", "l2L ACK", "L2l COMMIT", "l2L PING", "L2l PING", "l2L REQUEST", "L2l SYNC",
		"l2L OBSERVERINFO", "L2l INFORM", "l2L REVALIDATE", "L2l REVALIDATE", "L2l TRUNC", "L2l SNAP", "L2l SNAPSTREAM",
	} {
		if seen[want] == 0 {
			t.Errorf("golden quorum streams hold no %s (have %v)", want, seen)
		}
	}
}

// goldenQuorumRecords returns every record decoded from the golden quorum
// streams, for fuzz seeds.
func goldenQuorumRecords(tb testing.TB) []Record {
	tb.Helper()
	var out []Record
	for file, blocks := range readBlocks(tb, "quorum", "*.txt") {
		for _, bl := range blocks {
			out = append(out, decodeQuorumPacket(tb, file+": "+bl.label, bl.data)...)
		}
	}
	return out
}
