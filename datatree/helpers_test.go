package datatree

import (
	"testing"

	"github.com/gokeeper/gokeeper/jute"
)

// txnBuilder stamps txns with increasing zxids and times, like a leader.
type txnBuilder struct {
	zxid int64
	time int64
}

func (b *txnBuilder) hdr(op jute.OpCode, session int64) *jute.TxnHeader {
	b.zxid++
	b.time += 10
	return &jute.TxnHeader{ClientId: session, Cxid: int32(b.zxid), Zxid: b.zxid, Time: b.time, Type: int32(op)}
}

// parentCV returns what prep puts in CreateTxn.ParentCVersion.
func parentCV(t *Tree, path string) int32 {
	parent, _ := splitPath(path)
	if parent == "" {
		parent = "/"
	}
	ni, ok := t.Node(parent)
	if !ok {
		return -1
	}
	return ni.PersistedCversion + 1
}

func mustOK(tb testing.TB, r Result) Result {
	tb.Helper()
	if r.Err != jute.CodeOK {
		tb.Fatalf("apply: got %v, want OK", r.Err)
	}
	return r
}

func (b *txnBuilder) create(t *Tree, path string, data string, session int64, ephemeral bool) Result {
	return t.Apply(b.hdr(jute.OpCreate2, session), &jute.CreateTxn{
		Path: path, Data: []byte(data), Acl: jute.OpenACLUnsafe(), Ephemeral: ephemeral, ParentCVersion: parentCV(t, path),
	})
}

func (b *txnBuilder) delete(t *Tree, path string) Result {
	return t.Apply(b.hdr(jute.OpDelete, 1), &jute.DeleteTxn{Path: path})
}

func (b *txnBuilder) setData(t *Tree, path, data string) Result {
	v := int32(0)
	if ni, ok := t.Node(path); ok {
		v = ni.Stat.Version + 1
	}
	return t.Apply(b.hdr(jute.OpSetData, 1), &jute.SetDataTxn{Path: path, Data: []byte(data), Version: v})
}

// encodeTxn builds a multi sub-txn.
func encodeTxn(op jute.OpCode, r jute.Record) jute.Txn {
	return jute.Txn{Type: int32(op), Data: r.Encode(nil)}
}
