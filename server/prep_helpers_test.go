package server

import (
	"testing"

	"github.com/gokeeper/gokeeper/datatree"
	"github.com/gokeeper/gokeeper/jute"
)

// prepHarness drives a Prepper over a real tree: Prep assigns the next
// zxid, apply hands the txn to the tree and tells the Prepper.
type prepHarness struct {
	t    *testing.T
	tree *datatree.Tree
	p    *Prepper
	o    PrepOptions
	zxid int64
	now  int64
}

func newPrepHarness(t *testing.T, o PrepOptions) *prepHarness {
	t.Helper()
	tree := datatree.New(datatree.Options{})
	return &prepHarness{t: t, tree: tree, p: NewPrepper(tree, o), o: o, now: 1_700_000_000_000}
}

// prep prepares r with the next zxid and checks the header invariants.
func (h *prepHarness) prep(r *Request) Txn {
	h.t.Helper()
	h.zxid++
	h.now++
	if r.Time == 0 {
		r.Time = h.now
	}
	tx := h.p.Prep(r, h.zxid)
	if tx.Hdr.Zxid != h.zxid || tx.Hdr.ClientId != r.Session || tx.Hdr.Cxid != r.Cxid || tx.Hdr.Time != r.Time {
		h.t.Fatalf("Prep(%v) header %+v does not carry zxid %d, session %d, cxid %d, time %d",
			r.Op, tx.Hdr, h.zxid, r.Session, r.Cxid, r.Time)
	}
	want := jute.NewTxnRecord(jute.OpCode(tx.Hdr.Type))
	if want == nil || tx.Body == nil {
		h.t.Fatalf("Prep(%v) = type %v body %T", r.Op, jute.OpCode(tx.Hdr.Type), tx.Body)
	}
	if got, exp := typeName(tx.Body), typeName(want); got != exp {
		h.t.Fatalf("Prep(%v) body %s, want %s for %v", r.Op, got, exp, jute.OpCode(tx.Hdr.Type))
	}
	return tx
}

func typeName(r jute.Record) string {
	switch r.(type) {
	case *jute.CreateTxn:
		return "CreateTxn"
	case *jute.CreateTTLTxn:
		return "CreateTTLTxn"
	case *jute.CreateContainerTxn:
		return "CreateContainerTxn"
	case *jute.DeleteTxn:
		return "DeleteTxn"
	case *jute.SetDataTxn:
		return "SetDataTxn"
	case *jute.SetACLTxn:
		return "SetACLTxn"
	case *jute.CheckVersionTxn:
		return "CheckVersionTxn"
	case *jute.MultiTxn:
		return "MultiTxn"
	case *jute.CreateSessionTxn:
		return "CreateSessionTxn"
	case *jute.CloseSessionTxn:
		return "CloseSessionTxn"
	case *jute.ErrorTxn:
		return "ErrorTxn"
	}
	return "?"
}

// apply applies a prepared txn and acknowledges it to the Prepper. The
// txn's TxnDigest, which prep computed from the tree and the changes
// still outstanding, must be the tree's digest once it is applied; an
// ErrorTxn carries none, as ZooKeeper's.
func (h *prepHarness) apply(tx Txn) datatree.Result {
	h.t.Helper()
	res := h.tree.Apply(&tx.Hdr, tx.Body)
	h.p.Applied(tx.Hdr.Zxid)
	switch d := tx.Digest; {
	case jute.OpCode(tx.Hdr.Type) == jute.OpError || tx.Body == nil:
		if d.Version != 0 {
			h.t.Fatalf("txn 0x%x (%v) carries a digest %+v", tx.Hdr.Zxid, jute.OpCode(tx.Hdr.Type), d)
		}
	case d.Version != datatree.DigestVersion:
		h.t.Fatalf("txn 0x%x (%v) has digest version %d", tx.Hdr.Zxid, jute.OpCode(tx.Hdr.Type), d.Version)
	case d.TreeDigest != res.Digest:
		h.t.Fatalf("txn 0x%x (%v): prepared digest %#x, tree's after it %#x", tx.Hdr.Zxid, jute.OpCode(tx.Hdr.Type), d.TreeDigest, res.Digest)
	}
	return res
}

// do prepares and applies r, returning the reply code WriteResponse gives.
func (h *prepHarness) do(r *Request) (Txn, datatree.Result, jute.Code) {
	h.t.Helper()
	tx := h.prep(r)
	res := h.apply(tx)
	_, code := WriteResponse(nil, r.Op, &res)
	return tx, res, code
}

// must runs r and fails the test unless it succeeds.
func (h *prepHarness) must(r *Request) datatree.Result {
	h.t.Helper()
	_, res, code := h.do(r)
	if code != jute.CodeOK || res.Err != jute.CodeOK {
		h.t.Fatalf("%v: code %v, result %v", r.Op, code, res.Err)
	}
	return res
}

// txnCode returns the ErrorTxn code of tx, or CodeOK.
func txnCode(tx Txn) jute.Code {
	if jute.OpCode(tx.Hdr.Type) == jute.OpError {
		return jute.Code(tx.Body.(*jute.ErrorTxn).Err)
	}
	return jute.CodeOK
}

// Request builders.

func req(op jute.OpCode, rec jute.Record, auth ...jute.Id) *Request {
	var body []byte
	if rec != nil {
		body = rec.Encode(nil)
	}
	return &Request{Session: 1, Cxid: 7, Op: op, Body: body, Auth: auth}
}

func createReq(path string, data string, acl []jute.ACL, mode jute.CreateMode, auth ...jute.Id) *Request {
	return req(jute.OpCreate, &jute.CreateRequest{Path: path, Data: []byte(data), Acl: acl, Flags: int32(mode)}, auth...)
}

func deleteReq(path string, version int32, auth ...jute.Id) *Request {
	return req(jute.OpDelete, &jute.DeleteRequest{Path: path, Version: version}, auth...)
}

func setDataReq(path, data string, version int32, auth ...jute.Id) *Request {
	return req(jute.OpSetData, &jute.SetDataRequest{Path: path, Data: []byte(data), Version: version}, auth...)
}

func setACLReq(path string, acl []jute.ACL, version int32, auth ...jute.Id) *Request {
	return req(jute.OpSetACL, &jute.SetACLRequest{Path: path, Acl: acl, Version: version}, auth...)
}

func checkReq(path string, version int32, auth ...jute.Id) *Request {
	return req(jute.OpCheck, &jute.CheckVersionRequest{Path: path, Version: version}, auth...)
}

// multiBody encodes a MultiOperationRecord of (op, request) pairs.
func multiBody(ops ...any) []byte {
	var b []byte
	for i := 0; i < len(ops); i += 2 {
		op := ops[i].(jute.OpCode)
		b = (&jute.MultiHeader{Type: int32(op), Done: false, Err: -1}).Encode(b)
		b = ops[i+1].(jute.Record).Encode(b)
	}
	return (&jute.MultiHeader{Type: -1, Done: true, Err: -1}).Encode(b)
}

func multiReq(ops ...any) *Request {
	return &Request{Session: 1, Cxid: 7, Op: jute.OpMulti, Body: multiBody(ops...)}
}

func acl(perms int32, scheme, id string) jute.ACL {
	return jute.ACL{Perms: perms, Id: jute.Id{Scheme: scheme, Id: id}}
}

var (
	openACL   = jute.OpenACLUnsafe()
	digestID  = jute.Id{Scheme: SchemeDigest, Id: DigestOf("user:pw")}
	superID   = jute.Id{Scheme: SchemeSuper, Id: ""}
	ipLocalID = jute.Id{Scheme: SchemeIP, Id: "10.1.2.3"}
	ipOtherID = jute.Id{Scheme: SchemeIP, Id: "11.0.0.1"}
)
