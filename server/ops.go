package server

import (
	"github.com/gokeeper/gokeeper/datatree"
	"github.com/gokeeper/gokeeper/jute"
)

// Request is one client request after its RequestHeader.
type Request struct {
	// Session is the session id (the ephemeral owner of what it creates).
	Session int64
	// Cxid is the RequestHeader xid.
	Cxid int32
	// Op is the RequestHeader type.
	Op jute.OpCode
	// Body is the request record bytes that followed the RequestHeader; it
	// may be malformed. For OpCreateSession it is a jute.CreateSessionTxn;
	// for OpDeleteContainer a DeleteContainerRequest (a jute buffer holding
	// the path) or the bare path bytes.
	Body []byte
	// Auth is the session's authenticated ids, e.g. {ip 127.0.0.1},
	// {digest user:hash}, {super ""}.
	Auth []jute.Id
	// Time is the wall clock in milliseconds for ctime/mtime, set by the
	// caller.
	Time int64
	// Learner is, on an ensemble's leader, the member that forwarded
	// this request (0: a client of this member's own).
	Learner int64

	// decoded is Body's request record as Prepper.Reject decoded it, or
	// nil; Prep uses it instead of decoding Body again. It holds its own
	// copies of every string and buffer, none of Body's bytes.
	decoded jute.Record
}

// Txn is a prepared txn: ZooKeeper's header and txn record, ready to be
// logged and applied.
type Txn struct {
	// Hdr is the txn header; Hdr.Type selects Body's type.
	Hdr jute.TxnHeader
	// Body has the concrete type jute.NewTxnRecord(Hdr.Type) returns.
	Body jute.Record
	// Digest is the TxnDigest that follows the body in ZooKeeper 3.6+'s
	// log entries and PROPOSALs: the tree's digest once the txn is
	// applied. Version 0 means the txn carries none (an ErrorTxn, a txn
	// without a body, or one from an older writer).
	Digest jute.TxnDigest
}

// IsWrite reports whether op goes through Prep (writes, which become txns)
// rather than Read.
func IsWrite(op jute.OpCode) bool {
	switch op {
	case jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer, jute.OpCreateTTL,
		jute.OpDelete, jute.OpDeleteContainer, jute.OpSetData, jute.OpSetACL,
		jute.OpCheck, jute.OpMulti, jute.OpReconfig,
		jute.OpCreateSession, jute.OpCloseSession:
		return true
	}
	return false
}

// opsDecode decodes a request record from body the way ZooKeeper's jute
// archive does: trailing bytes are ignored, a short or oversized record
// fails (MarshallingError at the client boundary).
func opsDecode(body []byte, maxBuffer int, r jute.Record) bool {
	var d jute.Decoder
	d.Reset(body, maxBuffer)
	if !opsDecodeKnown(&d, r) {
		return opsDecodeAny(body, maxBuffer, r)
	}
	return d.Err() == nil
}

// opsDecodeKnown decodes r from d and reports true if r is one of the
// request records the server decodes (every one prepNewRequest and
// readNewRequest make); it leaves r alone and reports false for any
// other. Check d.Err() afterwards.
//
// NB: a Decoder or record handed to an interface method escapes to the
// heap, so these records are decoded through their concrete types: the
// Decoder, and a record that does not outlive the request, stay on the
// caller's stack.
func opsDecodeKnown(d *jute.Decoder, r jute.Record) bool {
	switch r := r.(type) {
	case *jute.SetDataRequest:
		r.Decode(d)
	case *jute.CreateRequest:
		r.Decode(d)
	case *jute.CreateTTLRequest:
		r.Decode(d)
	case *jute.DeleteRequest:
		r.Decode(d)
	case *jute.SetACLRequest:
		r.Decode(d)
	case *jute.CheckVersionRequest:
		r.Decode(d)
	case *jute.ReconfigRequest:
		r.Decode(d)
	case *jute.CreateSessionTxn:
		r.Decode(d)
	case *jute.ExistsRequest:
		r.Decode(d)
	case *jute.GetDataRequest:
		r.Decode(d)
	case *jute.GetChildrenRequest:
		r.Decode(d)
	case *jute.GetChildren2Request:
		r.Decode(d)
	case *jute.GetACLRequest:
		r.Decode(d)
	case *jute.GetAllChildrenNumberRequest:
		r.Decode(d)
	case *jute.GetEphemeralsRequest:
		r.Decode(d)
	case *jute.AddWatchRequest:
		r.Decode(d)
	case *jute.CheckWatchesRequest:
		r.Decode(d)
	case *jute.RemoveWatchesRequest:
		r.Decode(d)
	case *jute.SetWatches:
		r.Decode(d)
	case *jute.SetWatches2:
		r.Decode(d)
	case *jute.SyncRequest:
		r.Decode(d)
	default:
		return false
	}
	return true
}

// opsDecodeAny is opsDecode for a record of any type.
func opsDecodeAny(body []byte, maxBuffer int, r jute.Record) bool {
	d := jute.NewDecoder(body, maxBuffer)
	r.Decode(d)
	return d.Err() == nil
}

// opsMultiOp is one operation of a multi or multiRead request.
type opsMultiOp struct {
	op  jute.OpCode
	req jute.Record
}

// opsDecodeMulti decodes a MultiOperationRecord: MultiHeaders each followed
// by its op's request, up to a header with done set. As ZooKeeper's
// MultiOperationRecord, a create whose flags name a TTL mode becomes a
// createTTL (with ttl -1) and one naming a container a createContainer; an
// unknown create flag, an op type other than the transactional ones or the
// two reads, and a mix of reads and writes are all malformed. It returns
// ok false for a malformed record.
func opsDecodeMulti(body []byte, maxBuffer int) (ops []opsMultiOp, reads bool, ok bool) {
	var dec jute.Decoder
	dec.Reset(body, maxBuffer)
	d := &dec // NB: only concrete Decode methods below, so dec stays on the stack
	var h jute.MultiHeader
	h.Decode(d)
	kind := 0 // 1 = writes, 2 = reads
	for d.Err() == nil && !h.Done {
		var o opsMultiOp
		k := 1
		switch op := jute.OpCode(h.Type); op {
		case jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer:
			cr := new(jute.CreateRequest)
			cr.Decode(d)
			mode := jute.CreateMode(cr.Flags)
			switch {
			case d.Err() != nil:
			case !mode.Valid():
				return nil, false, false
			case mode.TTL():
				o = opsMultiOp{jute.OpCreateTTL, &jute.CreateTTLRequest{Path: cr.Path, Data: cr.Data, Acl: cr.Acl, Flags: cr.Flags, Ttl: -1}}
			case mode.Container():
				o = opsMultiOp{jute.OpCreateContainer, cr}
			default:
				o = opsMultiOp{op, cr}
			}
		case jute.OpCreateTTL:
			cr := new(jute.CreateTTLRequest)
			cr.Decode(d)
			o = opsMultiOp{op, cr}
		case jute.OpDelete:
			r := new(jute.DeleteRequest)
			r.Decode(d)
			o = opsMultiOp{op, r}
		case jute.OpSetData:
			r := new(jute.SetDataRequest)
			r.Decode(d)
			o = opsMultiOp{op, r}
		case jute.OpCheck:
			r := new(jute.CheckVersionRequest)
			r.Decode(d)
			o = opsMultiOp{op, r}
		case jute.OpGetChildren:
			r := new(jute.GetChildrenRequest)
			r.Decode(d)
			o = opsMultiOp{op, r}
			k = 2
		case jute.OpGetData:
			r := new(jute.GetDataRequest)
			r.Decode(d)
			o = opsMultiOp{op, r}
			k = 2
		default:
			return nil, false, false
		}
		if kind != 0 && kind != k {
			return nil, false, false
		}
		kind = k
		ops = append(ops, o)
		h.Decode(d)
	}
	if d.Err() != nil {
		return nil, false, false
	}
	return ops, kind == 2, true
}

// WriteResponse appends the response body for a write op given its apply
// result and returns the reply's error code. A failed op (res.Err not OK)
// has no body. Multi answers ZooKeeper's MultiResponse: per op a
// MultiHeader and the op's response (create: CreateResponse; create2,
// createTTL and createContainer: a create2 header and Create2Response;
// delete and check: nothing; setData: SetDataResponse; a failed op: an
// error header and ErrorResponse), then the done header {-1, true, -1}. Its
// reply code is CodeOK even when an op failed, as FinalRequestProcessor
// sets it: the errors travel in the MultiResponse.
func WriteResponse(b []byte, op jute.OpCode, res *datatree.Result) ([]byte, jute.Code) {
	if op == jute.OpMulti {
		if res.Multi == nil && res.Err != jute.CodeOK {
			// A multi that never became a MultiTxn (malformed request).
			return b, res.Err
		}
		for i := range res.Multi {
			b = opsAppendMultiResult(b, &res.Multi[i])
		}
		h := jute.MultiHeader{Type: -1, Done: true, Err: -1}
		return h.Encode(b), jute.CodeOK
	}
	if res.Err != jute.CodeOK {
		return b, res.Err
	}
	switch op {
	case jute.OpCreate:
		r := jute.CreateResponse{Path: res.Path}
		b = r.Encode(b)
	case jute.OpCreate2, jute.OpCreateTTL, jute.OpCreateContainer:
		r := jute.Create2Response{Path: res.Path, Stat: res.Stat}
		b = r.Encode(b)
	case jute.OpSetData, jute.OpCheck:
		r := jute.SetDataResponse{Stat: res.Stat}
		b = r.Encode(b)
	case jute.OpSetACL:
		r := jute.SetACLResponse{Stat: res.Stat}
		b = r.Encode(b)
	case jute.OpReconfig:
		r := jute.GetDataResponse{Data: res.Data, Stat: res.Stat}
		b = r.Encode(b)
	case jute.OpSync:
		r := jute.SyncResponse{Path: res.Path}
		b = r.Encode(b)
	}
	return b, jute.CodeOK
}

// opsAppendMultiResult appends one op's MultiHeader and response.
func opsAppendMultiResult(b []byte, r *datatree.OpResult) []byte {
	typ := r.Type
	if r.Err != jute.CodeOK {
		typ = jute.OpError
	}
	switch typ {
	case jute.OpCreate:
		b = (&jute.MultiHeader{Type: int32(jute.OpCreate)}).Encode(b)
		b = (&jute.CreateResponse{Path: r.Path}).Encode(b)
	case jute.OpCreate2, jute.OpCreateTTL, jute.OpCreateContainer:
		b = (&jute.MultiHeader{Type: int32(jute.OpCreate2)}).Encode(b)
		b = (&jute.Create2Response{Path: r.Path, Stat: r.Stat}).Encode(b)
	case jute.OpDelete, jute.OpDeleteContainer:
		b = (&jute.MultiHeader{Type: int32(jute.OpDelete)}).Encode(b)
	case jute.OpCheck:
		b = (&jute.MultiHeader{Type: int32(jute.OpCheck)}).Encode(b)
	case jute.OpSetData:
		b = (&jute.MultiHeader{Type: int32(jute.OpSetData)}).Encode(b)
		b = (&jute.SetDataResponse{Stat: r.Stat}).Encode(b)
	default:
		b = (&jute.MultiHeader{Type: int32(jute.OpError), Err: int32(r.Err)}).Encode(b)
		b = (&jute.ErrorResponse{Err: int32(r.Err)}).Encode(b)
	}
	return b
}
