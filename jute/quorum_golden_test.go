package jute

import (
	"bytes"
	"strings"
	"testing"
)

// decodeQuorumPacket decodes one captured QuorumPacket, re-encodes it and
// decodes the payload the packet type implies: LearnerInfo in
// FOLLOWERINFO, a txn in PROPOSAL, a forwarded client request in REQUEST.
// It returns every record it decoded.
func decodeQuorumPacket(tb testing.TB, label string, b []byte) []Record {
	tb.Helper()
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
	case PacketProposal:
		r, sub := decodeTxn(tb, label, qp.Data)
		if hz := r[0].(*TxnHeader).Zxid; hz != qp.Zxid {
			tb.Errorf("%s: proposal zxid %#x, its txn's %#x", label, qp.Zxid, hz)
		}
		recs = append(append(recs, r...), sub...)
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

// TestGoldenQuorum decodes the quorum streams of a real three-server
// ZooKeeper 3.8 ensemble, captured by the same command as TestGoldenFrames
// (it writes testdata/quorum): each learner's connection to the leader's
// quorum port, QuorumPacket by QuorumPacket, with the learner handshake,
// proposals, commits, forwarded requests, syncs and pings.
func TestGoldenQuorum(t *testing.T) {
	seen := map[string]int{}
	for file, blocks := range readBlocks(t, "quorum", "*.txt") {
		for _, bl := range blocks {
			words := strings.Fields(bl.label)
			if len(words) < 3 {
				t.Fatalf("%s: label %q", file, bl.label)
			}
			recs := decodeQuorumPacket(t, file+": "+bl.label, bl.data)
			typ := PacketType(recs[0].(*QuorumPacket).Type).String()
			if typ != words[2] {
				t.Errorf("%s: %q decoded as %s", file, bl.label, typ)
			}
			seen[words[0]+" "+typ]++
		}
	}
	for _, want := range []string{
		"l2L FOLLOWERINFO", "L2l LEADERINFO", "l2L ACKEPOCH", "L2l DIFF", "L2l NEWLEADER", "L2l UPTODATE",
		"L2l PROPOSAL", "l2L ACK", "L2l COMMIT", "l2L PING", "L2l PING", "l2L REQUEST", "L2l SYNC",
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
