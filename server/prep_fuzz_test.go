package server

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gokeeper/gokeeper/datatree"
	"github.com/gokeeper/gokeeper/jute"
)

var fuzzWriteOps = []jute.OpCode{
	jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer, jute.OpCreateTTL, jute.OpDelete,
	jute.OpDeleteContainer, jute.OpSetData, jute.OpSetACL, jute.OpCheck, jute.OpMulti,
	jute.OpReconfig, jute.OpCreateSession, jute.OpCloseSession, jute.OpGetData,
}

// FuzzPrep feeds arbitrary bodies to every write op: Prep never panics,
// always returns a txn of the type its header names, and the tree applies
// it.
func FuzzPrep(f *testing.F) {
	f.Add(uint8(0), createReq("/x", "d", openACL, jute.ModeEphemeralSequential).Body)
	f.Add(uint8(3), req(jute.OpCreateTTL, &jute.CreateTTLRequest{Path: "/t", Acl: openACL, Flags: 5, Ttl: 10}).Body)
	f.Add(uint8(4), deleteReq("/a/b", -1).Body)
	f.Add(uint8(6), setDataReq("/a", "x", 0).Body)
	f.Add(uint8(7), setACLReq("/a", jute.CreatorAllACL(), -1).Body)
	f.Add(uint8(9), multiBody(jute.OpCreate, &jute.CreateRequest{Path: "/m", Acl: openACL}, jute.OpDelete, &jute.DeleteRequest{Path: "/m", Version: -1}))
	f.Add(uint8(9), multiBody(jute.OpCreate, &jute.CreateRequest{Path: "/m", Acl: openACL, Flags: 6}, jute.OpCheck, &jute.CheckVersionRequest{Path: "/a", Version: 3}))
	f.Add(uint8(5), []byte("/ctr"))
	f.Add(uint8(12), []byte{})
	f.Fuzz(func(t *testing.T, opIdx uint8, body []byte) {
		h := newPrepHarness(t, PrepOptions{ExtendedTypesEnabled: opIdx&0x80 != 0, EnforceQuota: true})
		setupTree(h)
		op := fuzzWriteOps[int(opIdx&0x7f)%len(fuzzWriteOps)]
		r := &Request{Session: 1, Cxid: 2, Op: op, Body: body, Auth: []jute.Id{digestID, ipLocalID}}
		tx := h.prep(r) // checks header and body type
		res := h.apply(tx)
		if c := txnCode(tx); c != jute.CodeOK && res.Err != c {
			t.Fatalf("ErrorTxn %v applied as %v", c, res.Err)
		}
		if op != jute.OpMulti && txnCode(tx) == jute.CodeOK && res.Err != jute.CodeOK {
			t.Fatalf("%v prepared OK but failed to apply: %v (%+v)", op, res.Err, tx.Body)
		}
		if op == jute.OpMulti && jute.OpCode(tx.Hdr.Type) == jute.OpMulti {
			mt := tx.Body.(*jute.MultiTxn)
			failed := false
			for _, s := range mt.Txns {
				failed = failed || jute.OpCode(s.Type) == jute.OpError
			}
			if !failed && res.Err != jute.CodeOK {
				t.Fatalf("multi prepared OK but failed to apply: %v", res.Err)
			}
		}
		WriteResponse(nil, op, &res)
		if h.p.Outstanding() != 0 {
			t.Fatalf("%d outstanding after Applied", h.p.Outstanding())
		}
	})
}

// FuzzRead feeds arbitrary bodies to every read op: Read never panics and
// writes a body only on success.
func FuzzRead(f *testing.F) {
	ops := []jute.OpCode{jute.OpExists, jute.OpGetData, jute.OpGetChildren, jute.OpGetChildren2, jute.OpGetACL,
		jute.OpGetAllChildrenNumber, jute.OpGetEphemerals, jute.OpMultiRead, jute.OpWhoAmI, jute.OpAddWatch,
		jute.OpCheckWatches, jute.OpRemoveWatches, jute.OpSetWatches, jute.OpSetWatches2, jute.OpSync}
	f.Add(uint8(1), (&jute.GetDataRequest{Path: "/a", Watch: true}).Encode(nil))
	f.Add(uint8(7), multiBody(jute.OpGetData, &jute.GetDataRequest{Path: "/a"}, jute.OpGetChildren, &jute.GetChildrenRequest{Path: "/x"}))
	f.Add(uint8(13), (&jute.SetWatches2{DataWatches: []string{"/a"}, ExistWatches: []string{"/q"}}).Encode(nil))
	f.Fuzz(func(t *testing.T, opIdx uint8, body []byte) {
		h := newPrepHarness(t, PrepOptions{})
		setupTree(h)
		op := ops[int(opIdx)%len(ops)]
		b, code, _ := Read(h.tree, &Request{Session: 1, Op: op, Body: body, Auth: []jute.Id{ipLocalID}}, 3, nil, nil)
		if code != jute.CodeOK && len(b) != 0 {
			t.Fatalf("%v: code %v with body %x", op, code, b)
		}
	})
}

// TestPrepPipelineEquivalence runs random op sequences twice: one request
// at a time (prep, apply), and in random batches (several preps before the
// applies). Every request must get the same answer and the trees must end
// the same: the outstanding changes stand in exactly for the unapplied txns.
func TestPrepPipelineEquivalence(t *testing.T) {
	paths := []string{"/a", "/a/b", "/a/b/c", "/d", "/d/e", "/zookeeper/z"}
	for seed := uint64(1); seed <= 40; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		var reqs []*Request
		for range 120 {
			p := paths[rng.IntN(len(paths))]
			v := int32(rng.IntN(3)) - 1
			var r *Request
			switch rng.IntN(9) {
			case 0, 1:
				r = createReq(p, "x", openACL, jute.CreateMode(rng.IntN(5)))
			case 2:
				r = deleteReq(p, v)
			case 3:
				r = setDataReq(p, fmt.Sprint(rng.IntN(100)), v)
			case 4:
				r = setACLReq(p, []jute.ACL{acl(jute.PermAll&^int32(rng.IntN(2)*int(jute.PermCreate)), "world", "anyone")}, v)
			case 5:
				r = checkReq(p, v)
			case 6:
				q := paths[rng.IntN(len(paths))]
				r = multiReq(jute.OpCreate, &jute.CreateRequest{Path: p, Acl: openACL, Flags: int32(rng.IntN(4))},
					jute.OpSetData, &jute.SetDataRequest{Path: q, Version: v},
					jute.OpDelete, &jute.DeleteRequest{Path: q, Version: -1})
			case 7:
				r = &Request{Op: jute.OpCloseSession}
			case 8:
				r = &Request{Op: jute.OpDeleteContainer, Body: []byte(p)}
			}
			r.Session = int64(1 + rng.IntN(2))
			reqs = append(reqs, r)
		}
		serial := newPrepHarness(t, PrepOptions{})
		var want []string
		for _, r := range reqs {
			tx, res, code := serial.do(r)
			want = append(want, fmt.Sprintf("%v %v %+v", txnCode(tx), code, res.Multi))
		}
		piped := newPrepHarness(t, PrepOptions{})
		for i := 0; i < len(reqs); {
			n := 1 + rng.IntN(8)
			var batch []Txn
			for ; n > 0 && i < len(reqs); n-- {
				batch = append(batch, piped.prep(reqs[i]))
				i++
			}
			for j, tx := range batch {
				res := piped.apply(tx)
				_, code := WriteResponse(nil, reqs[i-len(batch)+j].Op, &res)
				got := fmt.Sprintf("%v %v %+v", txnCode(tx), code, res.Multi)
				if k := i - len(batch) + j; got != want[k] {
					t.Fatalf("seed %d request %d (%v): pipelined %s, serial %s", seed, k, reqs[k].Op, got, want[k])
				}
			}
		}
		if a, b := treeDump(t, serial.tree), treeDump(t, piped.tree); a != b {
			t.Fatalf("seed %d: trees differ\nserial:\n%s\npipelined:\n%s", seed, a, b)
		}
	}
}

func treeDump(t *testing.T, tree *datatree.Tree) string {
	t.Helper()
	s := ""
	err := tree.Walk(nil, func(n *datatree.SnapshotNode) error {
		s += fmt.Sprintf("%s %q %v %+v\n", n.Path, n.Data, n.ACL, n.Stat)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
