package jute

import (
	"bytes"
	"reflect"
	"runtime"
	"slices"
	"testing"
)

// Record families, as ZooKeeper's zookeeper.jute groups them. Each fuzz
// target decodes the family's record picked by the input's first byte.
var (
	dataFamily = []string{"Id", "ACL", "Stat", "StatPersisted", "ClientInfo"}

	protoRequestFamily = []string{
		"ConnectRequest", "SetWatches", "SetWatches2", "RequestHeader", "MultiHeader", "AuthPacket",
		"GetDataRequest", "SetDataRequest", "ReconfigRequest", "GetSASLRequest", "SetSASLRequest",
		"CreateRequest", "CreateTTLRequest", "DeleteRequest", "GetChildrenRequest",
		"GetAllChildrenNumberRequest", "GetChildren2Request", "CheckVersionRequest",
		"GetMaxChildrenRequest", "SetMaxChildrenRequest", "SyncRequest", "GetACLRequest",
		"SetACLRequest", "AddWatchRequest", "ExistsRequest", "CheckWatchesRequest",
		"RemoveWatchesRequest", "GetEphemeralsRequest",
	}

	protoResponseFamily = []string{
		"ConnectResponse", "ReplyHeader", "SetDataResponse", "SetSASLResponse",
		"GetMaxChildrenResponse", "SyncResponse", "SetACLResponse", "WatcherEvent", "ErrorResponse",
		"CreateResponse", "Create2Response", "ExistsResponse", "GetDataResponse", "GetChildrenResponse",
		"GetAllChildrenNumberResponse", "GetChildren2Response", "GetACLResponse",
		"GetEphemeralsResponse", "WhoAmIResponse",
	}

	quorumFamily = []string{"LearnerInfo", "QuorumPacket", "QuorumAuthPacket"}

	persistenceFamily = []string{"FileHeader"}

	txnFamily = []string{
		"TxnDigest", "TxnHeader", "CreateTxnV0", "CreateTxn", "CreateTTLTxn", "CreateContainerTxn",
		"DeleteTxn", "SetDataTxn", "CheckVersionTxn", "SetACLTxn", "SetMaxChildrenTxn",
		"CreateSessionTxn", "CloseSessionTxn", "ErrorTxn", "Txn", "MultiTxn",
	}

	families = [][]string{dataFamily, protoRequestFamily, protoResponseFamily, quorumFamily, persistenceFamily, txnFamily}
)

// TestFamiliesCoverAllRecords keeps the fuzz families in step with the
// schema: every record is fuzzed, exactly once.
func TestFamiliesCoverAllRecords(t *testing.T) {
	var all []string
	for _, f := range families {
		all = append(all, f...)
	}
	slices.Sort(all)
	want := RecordNames()
	slices.Sort(want)
	if !slices.Equal(all, want) {
		t.Fatalf("fuzz families hold\n%v\nschema has\n%v", all, want)
	}
}

// fuzzSeeds adds, for each record of family, random encodings and every
// encoding of that record found in the golden frames, txn log and quorum
// streams, each prefixed with the record's index in family.
func fuzzSeeds(f *testing.F, family []string) {
	index := map[string]byte{}
	for i, name := range family {
		index[name] = byte(i)
	}
	rng := newTestRand()
	for i, name := range family {
		for range 3 {
			r := NewRecord(name)
			fillRandom(rng, reflect.ValueOf(r))
			f.Add(append([]byte{byte(i)}, r.Encode(nil)...))
		}
	}
	seen := map[string]bool{}
	golden := append(goldenPersistenceRecords(f), goldenQuorumRecords(f)...)
	for _, recs := range goldenRecords(f) {
		golden = append(golden, recs...)
	}
	for _, r := range golden {
		name := reflect.TypeOf(r).Elem().Name()
		i, ok := index[name]
		if !ok {
			continue
		}
		seed := append([]byte{i}, r.Encode(nil)...)
		if !seen[string(seed)] {
			seen[string(seed)] = true
			f.Add(seed)
		}
	}
}

// fuzzDecode is the body of every family's fuzz target. It decodes the
// record the first byte picks from the rest of the input and checks that
// decoding does not panic, allocates no more than the input justifies,
// and that a successful decode survives encode -> decode unchanged.
func fuzzDecode(t *testing.T, family []string, in []byte) {
	if len(in) == 0 {
		return
	}
	name := family[int(in[0])%len(family)]
	body := in[1:]

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := NewRecord(name)
	d := NewDecoder(body, 0)
	r.Decode(d)
	runtime.ReadMemStats(&after)
	// A decoded record holds at most a few times its input: a 16-byte
	// string header per 4-byte empty ustring, a 40-byte ACL per 12
	// input bytes. Anything beyond that is an allocation trusted to a
	// length prefix.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<10+16*uint64(len(body)) {
		t.Fatalf("%s: decoding %d bytes allocated %d bytes", name, len(body), grew)
	}
	if d.Err() != nil {
		return
	}
	consumed := body[:d.Offset()]

	enc := r.Encode(nil)
	if len(enc) != r.Size() {
		t.Fatalf("%s: Encode wrote %d bytes, Size() = %d", name, len(enc), r.Size())
	}
	if len(enc) > len(consumed) {
		t.Fatalf("%s: re-encoding is %d bytes, longer than the %d decoded", name, len(enc), len(consumed))
	}
	back := NewRecord(name)
	if err := Unmarshal(enc, back, 0); err != nil {
		t.Fatalf("%s: decoding its own encoding % x: %v", name, enc, err)
	}
	if !reflect.DeepEqual(r, back) {
		t.Fatalf("%s: decode -> encode -> decode changed the record:\n got %#v\nwant %#v", name, back, r)
	}
	if re := back.Encode(nil); !bytes.Equal(re, enc) {
		t.Fatalf("%s: encoding is not stable:\n% x\n% x", name, enc, re)
	}
}

func fuzzFamily(f *testing.F, family []string) {
	fuzzSeeds(f, family)
	f.Fuzz(func(t *testing.T, in []byte) { fuzzDecode(t, family, in) })
}

func FuzzDecodeData(f *testing.F)          { fuzzFamily(f, dataFamily) }
func FuzzDecodeProtoRequest(f *testing.F)  { fuzzFamily(f, protoRequestFamily) }
func FuzzDecodeProtoResponse(f *testing.F) { fuzzFamily(f, protoResponseFamily) }
func FuzzDecodeTxn(f *testing.F)           { fuzzFamily(f, txnFamily) }
func FuzzDecodeQuorum(f *testing.F)        { fuzzFamily(f, quorumFamily) }
func FuzzDecodePersistence(f *testing.F)   { fuzzFamily(f, persistenceFamily) }

// FuzzGoldenFrame decodes whole client frames the way the golden test
// does, so multi bodies (a MultiHeader sequence) are fuzzed too. The
// first byte picks the direction and the op the reply answers.
func FuzzGoldenFrame(f *testing.F) {
	for _, frames := range readGolden(f) {
		xidOp := map[int32]OpCode{}
		for i, fr := range frames {
			if i < 2 {
				continue // connect
			}
			b := []byte{0}
			if !fr.c2s {
				b[0] = 1
				var h ReplyHeader
				_ = Unmarshal(fr.data[4:20], &h, 0)
				if op, ok := xidOp[h.Xid]; ok {
					b = AppendInt(b, int32(op))
				} else {
					b = AppendInt(b, int32(OpNotification))
				}
			} else {
				var h RequestHeader
				_ = Unmarshal(fr.data[4:12], &h, 0)
				xidOp[h.Xid] = OpCode(h.Type)
				b = AppendInt(b, 0)
			}
			f.Add(append(b, fr.data[4:]...))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 5 {
			return
		}
		c2s := in[0]&1 == 0
		op := OpCode(int32(in[1])<<24 | int32(in[2])<<16 | int32(in[3])<<8 | int32(in[4]))
		payload := in[5:]
		frame := append(AppendInt(nil, int32(len(payload))), payload...)
		// The reply's xid is mapped to op, as a request would have done.
		xidOp := map[int32]OpCode{}
		if !c2s && len(payload) >= 4 {
			xidOp[int32(uint32(payload[0])<<24|uint32(payload[1])<<16|uint32(payload[2])<<8|uint32(payload[3]))] = op
		}
		recs, _, _, err := decodeGoldenFrame(goldenFrame{c2s: c2s, data: frame}, false, xidOp)
		if err != nil {
			return
		}
		var enc []byte
		for _, r := range recs {
			enc = r.Encode(enc)
		}
		// Null ustrings decode as empty ones, so the bytes may differ;
		// the records may not.
		again, _, _, err := decodeGoldenFrame(goldenFrame{c2s: c2s, data: append(AppendInt(nil, int32(len(enc))), enc...)}, false, xidOp)
		if err != nil {
			t.Fatalf("re-encoded frame % x does not decode: %v", enc, err)
		}
		if !reflect.DeepEqual(recs, again) {
			t.Fatalf("frame changed on re-encoding:\n got %#v\nwant %#v", again, recs)
		}
	})
}
