package server

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/gokeeper/gokeeper/datatree"
	"github.com/gokeeper/gokeeper/jute"
)

// setupTree builds the tree the per-op tables run against:
//
//	/a            open, data "a"
//	/a/b          open
//	/eph          ephemeral of session 1
//	/ro           world READ only
//	/wonly        world WRITE only
//	/nocreate     everything but CREATE; child /nocreate/c
//	/nodelete     everything but DELETE; child /nodelete/c
//	/digest       digest user:pw ALL
//	/ip           ip 10.0.0.0/8 ALL
//	/ctr          container
func setupTree(h *prepHarness) {
	h.t.Helper()
	h.must(createReq("/a", "a", openACL, jute.ModePersistent))
	h.must(createReq("/a/b", "", openACL, jute.ModePersistent))
	h.must(createReq("/eph", "", openACL, jute.ModeEphemeral))
	h.must(createReq("/ro", "", []jute.ACL{acl(jute.PermRead, "world", "anyone")}, jute.ModePersistent))
	h.must(createReq("/wonly", "", []jute.ACL{acl(jute.PermWrite, "world", "anyone")}, jute.ModePersistent))
	h.must(createReq("/nocreate", "", []jute.ACL{acl(jute.PermAll&^jute.PermCreate, "world", "anyone")}, jute.ModePersistent))
	h.must(createReq("/nodelete", "", []jute.ACL{acl(jute.PermAll&^jute.PermDelete, "world", "anyone")}, jute.ModePersistent))
	h.must(createReq("/nocreate/c", "", openACL, jute.ModePersistent, superID))
	h.must(createReq("/nodelete/c", "", openACL, jute.ModePersistent))
	h.must(createReq("/digest", "", []jute.ACL{acl(jute.PermAll, "digest", DigestOf("user:pw"))}, jute.ModePersistent))
	h.must(createReq("/ip", "", []jute.ACL{acl(jute.PermAll, "ip", "10.0.0.0/8")}, jute.ModePersistent))
	h.must(req(jute.OpCreateContainer, &jute.CreateRequest{Path: "/ctr", Acl: openACL, Flags: int32(jute.ModeContainer)}))
}

// prepCodeCase is one request against setupTree's tree and the code
// ZooKeeper answers.
type prepCodeCase struct {
	name     string
	r        *Request
	extended bool
	want     jute.Code
}

func prepCodeCases() []prepCodeCase {
	ttl := func(path string, flags jute.CreateMode, ttl int64) *Request {
		return req(jute.OpCreateTTL, &jute.CreateTTLRequest{Path: path, Acl: openACL, Flags: int32(flags), Ttl: ttl})
	}
	return []prepCodeCase{
		// create, in PrepRequestProcessor's order of checks.
		{"create", createReq("/x", "d", openACL, jute.ModePersistent), false, jute.CodeOK},
		{"create no slash", createReq("x", "", openACL, jute.ModePersistent), false, jute.CodeBadArguments},
		{"create NUL", createReq("/a\x00b", "", openACL, jute.ModePersistent), false, jute.CodeBadArguments},
		{"create bad flags", createReq("/x", "", openACL, 7), false, jute.CodeBadArguments},
		{"create empty ACL", createReq("/x", "", nil, jute.ModePersistent), false, jute.CodeInvalidACL},
		{"create bad ACL before NoNode", createReq("/nope/x", "", nil, jute.ModePersistent), false, jute.CodeInvalidACL},
		{"create world:bob", createReq("/x", "", []jute.ACL{acl(31, "world", "bob")}, jute.ModePersistent), false, jute.CodeInvalidACL},
		{"create unknown scheme", createReq("/x", "", []jute.ACL{acl(31, "x509", "cn")}, jute.ModePersistent), false, jute.CodeInvalidACL},
		{"create bad digest id", createReq("/x", "", []jute.ACL{acl(31, "digest", "user:")}, jute.ModePersistent), false, jute.CodeInvalidACL},
		{"create bad ip id", createReq("/x", "", []jute.ACL{acl(31, "ip", "10.0.0.0/33")}, jute.ModePersistent), false, jute.CodeInvalidACL},
		{"create auth without ids", createReq("/x", "", jute.CreatorAllACL(), jute.ModePersistent), false, jute.CodeInvalidACL},
		{"create auth with ip only", createReq("/x", "", jute.CreatorAllACL(), jute.ModePersistent, ipLocalID), false, jute.CodeInvalidACL},
		{"create auth with digest", createReq("/x", "", jute.CreatorAllACL(), jute.ModePersistent, digestID), false, jute.CodeOK},
		{"create no parent", createReq("/nope/x", "", openACL, jute.ModePersistent), false, jute.CodeNoNode},
		{"create dot parent", createReq("/a/./x", "", openACL, jute.ModePersistent), false, jute.CodeNoNode},
		{"create NoAuth before bad path", createReq("/ro/.", "", openACL, jute.ModePersistent), false, jute.CodeNoAuth},
		{"create dot name", createReq("/a/.", "", openACL, jute.ModePersistent), false, jute.CodeBadArguments},
		{"create trailing slash", createReq("/a/", "", openACL, jute.ModePersistent), false, jute.CodeBadArguments},
		{"create trailing slash sequential", createReq("/a/", "", openACL, jute.ModePersistentSequential), false, jute.CodeOK},
		{"create read-only parent", createReq("/ro/x", "", openACL, jute.ModePersistent), false, jute.CodeNoAuth},
		{"create NoAuth before NodeExists", createReq("/nocreate/c", "", openACL, jute.ModePersistent), false, jute.CodeNoAuth},
		{"create under nocreate", createReq("/nocreate/x", "", openACL, jute.ModePersistent), false, jute.CodeNoAuth},
		{"create super bypass", createReq("/nocreate/x", "", openACL, jute.ModePersistent, superID), false, jute.CodeOK},
		{"create digest parent no auth", createReq("/digest/x", "", openACL, jute.ModePersistent), false, jute.CodeNoAuth},
		{"create digest parent wrong user", createReq("/digest/x", "", openACL, jute.ModePersistent, jute.Id{Scheme: "digest", Id: DigestOf("user:bad")}), false, jute.CodeNoAuth},
		{"create digest parent", createReq("/digest/x", "", openACL, jute.ModePersistent, digestID), false, jute.CodeOK},
		{"create ip parent inside", createReq("/ip/x", "", openACL, jute.ModePersistent, ipLocalID), false, jute.CodeOK},
		{"create ip parent outside", createReq("/ip/x", "", openACL, jute.ModePersistent, ipOtherID), false, jute.CodeNoAuth},
		{"create exists", createReq("/a", "", openACL, jute.ModePersistent), false, jute.CodeNodeExists},
		{"create root", createReq("/", "", openACL, jute.ModePersistent), false, jute.CodeNodeExists},
		{"create under ephemeral", createReq("/eph/x", "", openACL, jute.ModePersistent), false, jute.CodeNoChildrenForEphemerals},
		{"create NodeExists before ephemeral parent", createReq("/eph", "", openACL, jute.ModePersistent), false, jute.CodeNodeExists},
		{"create under container", createReq("/ctr/x", "", openACL, jute.ModePersistent), false, jute.CodeOK},
		{"create under /zookeeper", createReq("/zookeeper/x", "", openACL, jute.ModePersistent), false, jute.CodeOK},
		{"create ephemeral", createReq("/e2", "", openACL, jute.ModeEphemeral), false, jute.CodeOK},
		{"create2", req(jute.OpCreate2, &jute.CreateRequest{Path: "/x", Acl: openACL}), false, jute.CodeOK},
		{"createContainer", req(jute.OpCreateContainer, &jute.CreateRequest{Path: "/x", Acl: openACL, Flags: int32(jute.ModeContainer)}), false, jute.CodeOK},
		// TTL.
		{"ttl disabled", ttl("/t", jute.ModePersistentWithTTL, 1000), false, jute.CodeUnimplemented},
		{"ttl flag on create disabled", createReq("/t", "", openACL, jute.ModePersistentWithTTL), false, jute.CodeUnimplemented},
		{"ttl flag on create", createReq("/t", "", openACL, jute.ModePersistentWithTTL), true, jute.CodeBadArguments},
		{"ttl", ttl("/t", jute.ModePersistentWithTTL, 1000), true, jute.CodeOK},
		{"ttl sequential", ttl("/t", jute.ModePersistentSequentialWithTTL, 1000), true, jute.CodeOK},
		{"ttl zero", ttl("/t", jute.ModePersistentWithTTL, 0), true, jute.CodeBadArguments},
		{"ttl too large", ttl("/t", jute.ModePersistentWithTTL, datatree.MaxTTL+1), true, jute.CodeBadArguments},
		{"ttl max", ttl("/t", jute.ModePersistentWithTTL, datatree.MaxTTL), true, jute.CodeOK},
		{"ttl for persistent mode", ttl("/t", jute.ModePersistent, 1000), true, jute.CodeBadArguments},
		{"ttl op without ttl mode", ttl("/t", jute.ModePersistent, -1), true, jute.CodeBadArguments},
		{"ttl range before path", ttl("x", jute.ModePersistentWithTTL, 0), true, jute.CodeBadArguments},
		{"ttl under ephemeral", ttl("/eph/t", jute.ModePersistentWithTTL, 5), true, jute.CodeNoChildrenForEphemerals},
		// delete.
		{"delete", deleteReq("/a/b", -1), false, jute.CodeOK},
		{"delete version", deleteReq("/a/b", 0), false, jute.CodeOK},
		{"delete bad version", deleteReq("/a/b", 5), false, jute.CodeBadVersion},
		{"delete not empty", deleteReq("/a", -1), false, jute.CodeNotEmpty},
		{"delete BadVersion before NotEmpty", deleteReq("/a", 3), false, jute.CodeBadVersion},
		{"delete missing", deleteReq("/nope", -1), false, jute.CodeNoNode},
		{"delete missing parent", deleteReq("/nope/x", -1), false, jute.CodeNoNode},
		{"delete no slash", deleteReq("abc", -1), false, jute.CodeBadArguments},
		{"delete root", deleteReq("/", -1), false, jute.CodeBadArguments},
		{"delete /zookeeper", deleteReq("/zookeeper", -1), false, jute.CodeBadArguments},
		{"delete /zookeeper/quota", deleteReq("/zookeeper/quota", -1), false, jute.CodeBadArguments},
		{"delete /zookeeper/config", deleteReq("/zookeeper/config", -1), false, jute.CodeBadArguments},
		{"delete no DELETE on parent", deleteReq("/nodelete/c", -1), false, jute.CodeNoAuth},
		{"delete NoAuth before NoNode", deleteReq("/nodelete/missing", -1), false, jute.CodeNoAuth},
		{"delete super", deleteReq("/nodelete/c", -1, superID), false, jute.CodeOK},
		{"delete ephemeral", deleteReq("/eph", -1), false, jute.CodeOK},
		{"delete container", deleteReq("/ctr", -1), false, jute.CodeOK},
		// setData.
		{"setData", setDataReq("/a", "x", -1), false, jute.CodeOK},
		{"setData version", setDataReq("/a", "x", 0), false, jute.CodeOK},
		{"setData bad version", setDataReq("/a", "x", 1), false, jute.CodeBadVersion},
		{"setData missing", setDataReq("/nope", "x", -1), false, jute.CodeNoNode},
		{"setData bad path", setDataReq("/a/", "x", -1), false, jute.CodeBadArguments},
		{"setData no WRITE", setDataReq("/ro", "x", -1), false, jute.CodeNoAuth},
		{"setData NoAuth before BadVersion", setDataReq("/ro", "x", 9), false, jute.CodeNoAuth},
		{"setData write only", setDataReq("/wonly", "x", -1), false, jute.CodeOK},
		{"setData digest", setDataReq("/digest", "x", -1, digestID), false, jute.CodeOK},
		{"setData /zookeeper", setDataReq("/zookeeper", "x", -1), false, jute.CodeOK},
		{"setData /zookeeper/config", setDataReq("/zookeeper/config", "x", -1), false, jute.CodeNoAuth},
		// setACL.
		{"setACL", setACLReq("/a", openACL, -1), false, jute.CodeOK},
		{"setACL aversion", setACLReq("/a", openACL, 0), false, jute.CodeOK},
		{"setACL bad aversion", setACLReq("/a", openACL, 1), false, jute.CodeBadVersion},
		{"setACL invalid", setACLReq("/a", nil, -1), false, jute.CodeInvalidACL},
		{"setACL invalid before NoNode", setACLReq("/nope", nil, -1), false, jute.CodeInvalidACL},
		{"setACL missing", setACLReq("/nope", openACL, -1), false, jute.CodeNoNode},
		{"setACL bad path", setACLReq("//", openACL, -1), false, jute.CodeBadArguments},
		{"setACL no ADMIN", setACLReq("/ro", openACL, -1), false, jute.CodeNoAuth},
		{"setACL ADMIN via nocreate", setACLReq("/nocreate", openACL, -1), false, jute.CodeOK},
		{"setACL /zookeeper/config", setACLReq("/zookeeper/config", openACL, -1), false, jute.CodeNoAuth},
		// check.
		{"check", checkReq("/a", 0), false, jute.CodeOK},
		{"check any", checkReq("/a", -1), false, jute.CodeOK},
		{"check bad version", checkReq("/a", 1), false, jute.CodeBadVersion},
		{"check missing", checkReq("/nope", 0), false, jute.CodeNoNode},
		{"check bad path", checkReq("a", 0), false, jute.CodeBadArguments},
		{"check no READ", checkReq("/wonly", 0), false, jute.CodeNoAuth},
		// others.
		{"reconfig", req(jute.OpReconfig, &jute.ReconfigRequest{CurConfigId: -1}), false, jute.CodeReconfigDisabled},
		{"reconfig malformed", &Request{Op: jute.OpReconfig, Body: []byte{1}}, false, jute.CodeMarshallingError},
		{"read op", req(jute.OpGetData, &jute.GetDataRequest{Path: "/a"}), false, jute.CodeUnimplemented},
		{"malformed create", &Request{Op: jute.OpCreate, Body: []byte{0, 0}}, false, jute.CodeMarshallingError},
		{"malformed delete", &Request{Op: jute.OpDelete, Body: nil}, false, jute.CodeMarshallingError},
		{"oversized path", &Request{Op: jute.OpSetData, Body: []byte{0x7f, 0, 0, 0, '/'}}, false, jute.CodeMarshallingError},
		{"createSession", &Request{Op: jute.OpCreateSession, Session: 5, Body: (&jute.CreateSessionTxn{TimeOut: 3000}).Encode(nil)}, false, jute.CodeOK},
		{"createSession malformed", &Request{Op: jute.OpCreateSession, Session: 5}, false, jute.CodeMarshallingError},
		{"closeSession", &Request{Op: jute.OpCloseSession, Session: 1}, false, jute.CodeOK},
		{"deleteContainer", &Request{Op: jute.OpDeleteContainer, Body: []byte("/ctr")}, false, jute.CodeOK},
		{"deleteContainer buffer", &Request{Op: jute.OpDeleteContainer, Body: jute.AppendBuffer(nil, []byte("/ctr"))}, false, jute.CodeOK},
		{"deleteContainer ephemeral", &Request{Op: jute.OpDeleteContainer, Body: []byte("/eph")}, false, jute.CodeBadVersion},
		{"deleteContainer not empty", &Request{Op: jute.OpDeleteContainer, Body: []byte("/a")}, false, jute.CodeNotEmpty},
		{"deleteContainer missing", &Request{Op: jute.OpDeleteContainer, Body: []byte("/nope")}, false, jute.CodeNoNode},
		{"deleteContainer /zookeeper", &Request{Op: jute.OpDeleteContainer, Body: []byte("/zookeeper")}, false, jute.CodeBadArguments},
		{"deleteContainer malformed", &Request{Op: jute.OpDeleteContainer, Body: []byte{0, 0, 0, 9}}, false, jute.CodeMarshallingError},
	}
}

func TestPrepCodes(t *testing.T) {
	for _, tc := range prepCodeCases() {
		t.Run(tc.name, func(t *testing.T) {
			h := newPrepHarness(t, PrepOptions{ExtendedTypesEnabled: tc.extended})
			setupTree(h)
			before := h.tree.NodeCount()
			tx := h.prep(tc.r)
			if got := txnCode(tx); got != tc.want {
				t.Fatalf("Prep code = %v (%d), want %v (%d)", got, got, tc.want, tc.want)
			}
			if tc.want != jute.CodeOK {
				if h.p.Outstanding() != 0 {
					t.Fatalf("a refused request left %d outstanding changes", h.p.Outstanding())
				}
				res := h.apply(tx)
				if res.Err != tc.want || h.tree.NodeCount() != before {
					t.Fatalf("applying the ErrorTxn: err %v, nodes %d -> %d", res.Err, before, h.tree.NodeCount())
				}
				return
			}
			if res := h.apply(tx); res.Err != jute.CodeOK {
				t.Fatalf("Apply of the prepared txn failed: %v", res.Err)
			}
			if h.p.Outstanding() != 0 {
				t.Fatalf("Applied left %d outstanding changes", h.p.Outstanding())
			}
		})
	}
}

// TestPrepRejectDecodesOnce: a request Reject accepted is prepared from
// the record Reject decoded, as Client.Handle does (the reader's buffer is
// reused and Body dropped), into exactly the txn Prep makes from the body.
func TestPrepRejectDecodesOnce(t *testing.T) {
	for _, tc := range prepCodeCases() {
		t.Run(tc.name, func(t *testing.T) {
			o := PrepOptions{ExtendedTypesEnabled: tc.extended}
			fromBody, fromRecord := newPrepHarness(t, o), newPrepHarness(t, o)
			setupTree(fromBody)
			setupTree(fromRecord)
			r := *tc.r
			r.Body = slices.Clone(tc.r.Body)
			if _, rejected := fromRecord.p.Reject(&r); rejected {
				t.Skip("refused before prep")
			}
			if keeps := prepNewRequest(r.Op) != nil || r.Op == jute.OpReconfig; keeps != (r.decoded != nil) {
				t.Fatalf("Reject accepted %v and kept record %T", r.Op, r.decoded)
			}
			if r.decoded != nil {
				for i := range r.Body {
					r.Body[i] = 0xa5 // the reader reuses its buffer
				}
				r.Body = nil
			}
			want := EncodeTxn(nil, new(fromBody.prep(tc.r)))
			got := EncodeTxn(nil, new(fromRecord.prep(&r)))
			if !bytes.Equal(got, want) {
				t.Fatalf("txn from Reject's record\n%x\nwant (from the body)\n%x", got, want)
			}
		})
	}
}

// TestPrepTxnContents checks the txn records field by field.
func TestPrepTxnContents(t *testing.T) {
	h := newPrepHarness(t, PrepOptions{ExtendedTypesEnabled: true})
	setupTree(h)

	tx := h.prep(createReq("/s-", "d", jute.CreatorAllACL(), jute.ModeEphemeralSequential, digestID, ipLocalID))
	ct := tx.Body.(*jute.CreateTxn)
	root, _ := h.tree.Node("/")
	wantPath := fmt.Sprintf("/s-%010d", root.PersistedCversion)
	if ct.Path != wantPath || string(ct.Data) != "d" || !ct.Ephemeral || ct.ParentCVersion != root.PersistedCversion+1 {
		t.Fatalf("CreateTxn = %+v, want path %s parentCVersion %d", ct, wantPath, root.PersistedCversion+1)
	}
	// "auth" expands to the authenticated (digest) ids only.
	if !slices.Equal(ct.Acl, []jute.ACL{{Perms: jute.PermAll, Id: digestID}}) {
		t.Fatalf("auth ACL expanded to %v", ct.Acl)
	}
	res := h.apply(tx)
	if res.Path != wantPath || res.Stat.EphemeralOwner != 1 {
		t.Fatalf("applied %+v", res)
	}

	tx = h.prep(req(jute.OpCreateTTL, &jute.CreateTTLRequest{Path: "/ttl", Acl: openACL, Flags: int32(jute.ModePersistentWithTTL), Ttl: 1234}))
	if tt := tx.Body.(*jute.CreateTTLTxn); tt.Ttl != 1234 || tt.Path != "/ttl" {
		t.Fatalf("CreateTTLTxn = %+v", tt)
	}
	h.apply(tx)
	if n, _ := h.tree.Node("/ttl"); func() bool { v, ok := datatree.EphemeralTTL(n.EphemeralOwner); return !ok || v != 1234 }() {
		t.Fatalf("ttl node owner %x", n.EphemeralOwner)
	}

	tx = h.prep(setDataReq("/a", "new", 0))
	if sd := tx.Body.(*jute.SetDataTxn); sd.Version != 1 || string(sd.Data) != "new" {
		t.Fatalf("SetDataTxn = %+v", sd)
	}
	h.apply(tx)

	tx = h.prep(checkReq("/a", 1))
	if cv := tx.Body.(*jute.CheckVersionTxn); cv.Version != 2 || cv.Path != "/a" {
		t.Fatalf("CheckVersionTxn = %+v, want the next version 2 as ZooKeeper logs", cv)
	}
	h.apply(tx)

	tx = h.prep(setACLReq("/a", []jute.ACL{acl(jute.PermRead, "world", "anyone"), acl(jute.PermRead, "world", "anyone")}, 0))
	if sa := tx.Body.(*jute.SetACLTxn); sa.Version != 1 || len(sa.Acl) != 1 {
		t.Fatalf("SetACLTxn = %+v, want aversion 1 and duplicates dropped", sa)
	}
	res = h.apply(tx)
	if res.Stat.Aversion != 1 {
		t.Fatalf("aversion after setACL = %d", res.Stat.Aversion)
	}

	tx = h.prep(&Request{Op: jute.OpCreateSession, Session: 9, Body: (&jute.CreateSessionTxn{TimeOut: 4000}).Encode(nil)})
	if cs := tx.Body.(*jute.CreateSessionTxn); cs.TimeOut != 4000 || tx.Hdr.ClientId != 9 {
		t.Fatalf("CreateSessionTxn = %+v hdr %+v", cs, tx.Hdr)
	}
}

// TestPrepVersionWrap checks ZOOKEEPER-4743: the version after MaxInt32
// wraps to MinInt32 and then skips -1.
func TestPrepVersionWrap(t *testing.T) {
	for _, tc := range []struct{ cur, exp, next int32 }{
		{0, -1, 1}, {5, 5, 6}, {-2, -1, 0}, {2147483647, -1, -2147483648},
	} {
		got, code := prepNextVersion(tc.cur, tc.exp)
		if code != jute.CodeOK || got != tc.next {
			t.Errorf("prepNextVersion(%d, %d) = %d, %v; want %d", tc.cur, tc.exp, got, code, tc.next)
		}
	}
	if _, code := prepNextVersion(3, 2); code != jute.CodeBadVersion {
		t.Errorf("mismatch = %v", code)
	}
}

func TestPrepPipelined(t *testing.T) {
	t.Run("parent and child before apply", func(t *testing.T) {
		h := newPrepHarness(t, PrepOptions{})
		t1 := h.prep(createReq("/p", "", openACL, jute.ModePersistent))
		t2 := h.prep(createReq("/p/q", "", openACL, jute.ModePersistent))
		t3 := h.prep(createReq("/p/q/r", "", openACL, jute.ModeEphemeral))
		t4 := h.prep(createReq("/p/q/r/s", "", openACL, jute.ModePersistent))
		for i, tx := range []Txn{t1, t2, t3} {
			if c := txnCode(tx); c != jute.CodeOK {
				t.Fatalf("txn %d: %v", i, c)
			}
		}
		if c := txnCode(t4); c != jute.CodeNoChildrenForEphemerals {
			t.Fatalf("child of in-flight ephemeral: %v", c)
		}
		for _, tx := range []Txn{t1, t2, t3, t4} {
			h.apply(tx)
		}
		if _, ok := h.tree.Node("/p/q/r"); !ok {
			t.Fatal("/p/q/r missing after apply")
		}
		if h.p.Outstanding() != 0 {
			t.Fatalf("%d outstanding", h.p.Outstanding())
		}
	})
	t.Run("same path twice", func(t *testing.T) {
		h := newPrepHarness(t, PrepOptions{})
		t1 := h.prep(createReq("/d", "", openACL, jute.ModePersistent))
		t2 := h.prep(createReq("/d", "", openACL, jute.ModePersistent))
		if txnCode(t1) != jute.CodeOK || txnCode(t2) != jute.CodeNodeExists {
			t.Fatalf("codes %v %v", txnCode(t1), txnCode(t2))
		}
	})
	t.Run("sequential numbers keep counting", func(t *testing.T) {
		h := newPrepHarness(t, PrepOptions{})
		h.must(createReq("/s", "", openACL, jute.ModePersistent))
		var txns []Txn
		for range 3 {
			txns = append(txns, h.prep(createReq("/s/n-", "", openACL, jute.ModePersistentSequential)))
		}
		// A delete in flight does not move the sequence (cversion counts creates).
		txns = append(txns, h.prep(deleteReq("/s/n-0000000001", -1)))
		txns = append(txns, h.prep(createReq("/s/n-", "", openACL, jute.ModeEphemeralSequential)))
		var paths []string
		for _, tx := range txns {
			if c := txnCode(tx); c != jute.CodeOK {
				t.Fatalf("%v", c)
			}
			res := h.apply(tx)
			if res.Err != jute.CodeOK {
				t.Fatalf("apply: %v", res.Err)
			}
			if res.Path != "" && jute.OpCode(tx.Hdr.Type) == jute.OpCreate {
				paths = append(paths, res.Path)
			}
		}
		want := []string{"/s/n-0000000000", "/s/n-0000000001", "/s/n-0000000002", "/s/n-0000000003"}
		if !slices.Equal(paths, want) {
			t.Fatalf("created %v, want %v", paths, want)
		}
		// Unpipelined, the next number is the same the tree would give.
		res := h.must(createReq("/s/n-", "", openACL, jute.ModePersistentSequential))
		if res.Path != "/s/n-0000000004" {
			t.Fatalf("next sequential = %s", res.Path)
		}
	})
	t.Run("versions chain", func(t *testing.T) {
		h := newPrepHarness(t, PrepOptions{})
		h.must(createReq("/v", "", openACL, jute.ModePersistent))
		t1 := h.prep(setDataReq("/v", "1", 0))
		t2 := h.prep(setDataReq("/v", "2", 1))
		t3 := h.prep(setDataReq("/v", "3", 1))
		t4 := h.prep(setACLReq("/v", []jute.ACL{acl(jute.PermRead, "world", "anyone")}, 0))
		t5 := h.prep(setDataReq("/v", "4", -1))
		t6 := h.prep(checkReq("/v", 2))
		want := []jute.Code{jute.CodeOK, jute.CodeOK, jute.CodeBadVersion, jute.CodeOK, jute.CodeNoAuth, jute.CodeOK}
		for i, tx := range []Txn{t1, t2, t3, t4, t5, t6} {
			if got := txnCode(tx); got != want[i] {
				t.Errorf("txn %d: %v, want %v", i+1, got, want[i])
			}
			h.apply(tx)
		}
		data, stat, _ := h.tree.GetData("/v", 0)
		if string(data) != "2" || stat.Version != 2 || stat.Aversion != 1 {
			t.Fatalf("final data %q version %d aversion %d", data, stat.Version, stat.Aversion)
		}
	})
	t.Run("delete children then parent", func(t *testing.T) {
		h := newPrepHarness(t, PrepOptions{})
		h.must(createReq("/p", "", openACL, jute.ModePersistent))
		h.must(createReq("/p/c", "", openACL, jute.ModePersistent))
		t1 := h.prep(deleteReq("/p", -1))
		t2 := h.prep(deleteReq("/p/c", -1))
		t3 := h.prep(deleteReq("/p/c", -1))
		t4 := h.prep(deleteReq("/p", -1))
		t5 := h.prep(createReq("/p/c", "", openACL, jute.ModePersistent))
		t6 := h.prep(createReq("/p", "", openACL, jute.ModePersistent))
		want := []jute.Code{jute.CodeNotEmpty, jute.CodeOK, jute.CodeNoNode, jute.CodeOK, jute.CodeNoNode, jute.CodeOK}
		for i, tx := range []Txn{t1, t2, t3, t4, t5, t6} {
			if got := txnCode(tx); got != want[i] {
				t.Errorf("txn %d: %v, want %v", i+1, got, want[i])
			}
		}
	})
	t.Run("applied in part", func(t *testing.T) {
		h := newPrepHarness(t, PrepOptions{})
		t1 := h.prep(createReq("/x", "", openACL, jute.ModePersistent))
		t2 := h.prep(setDataReq("/x", "d", 0))
		h.apply(t1)
		if h.p.Outstanding() != 1 {
			t.Fatalf("after applying the first of two: %d outstanding, want 1 (setData)", h.p.Outstanding())
		}
		// The setData record still shadows the tree's version 0.
		if c := txnCode(h.prep(setDataReq("/x", "e", 0))); c != jute.CodeBadVersion {
			t.Fatalf("version from in-flight setData not seen: %v", c)
		}
		h.apply(t2)
	})
	t.Run("abort forgets", func(t *testing.T) {
		h := newPrepHarness(t, PrepOptions{})
		if c := txnCode(h.prep(createReq("/x", "", openACL, jute.ModePersistent))); c != jute.CodeOK {
			t.Fatal(c)
		}
		h.p.Abort()
		if h.p.Outstanding() != 0 {
			t.Fatal("Abort kept changes")
		}
		if c := txnCode(h.prep(createReq("/x", "", openACL, jute.ModePersistent))); c != jute.CodeOK {
			t.Fatalf("after Abort the lost create still counts: %v", c)
		}
	})
}

func TestPrepCloseSession(t *testing.T) {
	h := newPrepHarness(t, PrepOptions{})
	h.must(createReq("/e1", "", openACL, jute.ModeEphemeral))
	h.must(createReq("/e2", "", openACL, jute.ModeEphemeral))
	other := createReq("/o", "", openACL, jute.ModeEphemeral)
	other.Session = 2
	h.must(other)
	// In flight: a new ephemeral, the deletion of /e2, a persistent node.
	t1 := h.prep(createReq("/e3", "", openACL, jute.ModeEphemeral))
	t2 := h.prep(deleteReq("/e2", -1))
	t3 := h.prep(createReq("/p", "", openACL, jute.ModePersistent))
	tc := h.prep(&Request{Op: jute.OpCloseSession, Session: 1})
	cs := tc.Body.(*jute.CloseSessionTxn)
	if !slices.Equal(cs.Paths2Delete, []string{"/e1", "/e3"}) {
		t.Fatalf("Paths2Delete = %v, want [/e1 /e3]", cs.Paths2Delete)
	}
	// Later requests see the ephemerals gone.
	if c := txnCode(h.prep(setDataReq("/e1", "x", -1))); c != jute.CodeNoNode {
		t.Fatalf("setData on a closing session's ephemeral: %v", c)
	}
	for _, tx := range []Txn{t1, t2, t3, tc} {
		h.apply(tx)
	}
	if got := h.tree.Ephemerals(1); len(got) != 0 {
		t.Fatalf("ephemerals left: %v", got)
	}
	if got := h.tree.Ephemerals(2); !slices.Equal(got, []string{"/o"}) {
		t.Fatalf("other session's ephemerals: %v", got)
	}
	// A session without ephemerals: an empty, non-null list.
	tx := h.prep(&Request{Op: jute.OpCloseSession, Session: 42})
	if cs := tx.Body.(*jute.CloseSessionTxn); cs.Paths2Delete == nil || len(cs.Paths2Delete) != 0 {
		t.Fatalf("empty close = %#v", cs.Paths2Delete)
	}
}

func TestPrepMulti(t *testing.T) {
	ops := func(fail int, failOp ...any) []any {
		all := []any{
			jute.OpCreate, &jute.CreateRequest{Path: "/m", Acl: openACL},
			jute.OpCreate2, &jute.CreateRequest{Path: "/m/c", Acl: openACL, Flags: int32(jute.ModePersistentSequential)},
			jute.OpSetData, &jute.SetDataRequest{Path: "/m", Data: []byte("x"), Version: 0},
			jute.OpCheck, &jute.CheckVersionRequest{Path: "/m", Version: 1},
			jute.OpDelete, &jute.DeleteRequest{Path: "/m/c0000000000", Version: 0},
		}
		if fail >= 0 {
			all[2*fail], all[2*fail+1] = failOp[0], failOp[1]
		}
		return all
	}
	t.Run("success sees earlier ops", func(t *testing.T) {
		h := newPrepHarness(t, PrepOptions{})
		tx, res, code := h.do(multiReq(ops(-1)...))
		if code != jute.CodeOK || res.Err != jute.CodeOK {
			t.Fatalf("multi: %v %v", code, res.Err)
		}
		mt := tx.Body.(*jute.MultiTxn)
		types := []jute.OpCode{jute.OpCreate, jute.OpCreate2, jute.OpSetData, jute.OpCheck, jute.OpDelete}
		for i, sub := range mt.Txns {
			if jute.OpCode(sub.Type) != types[i] {
				t.Fatalf("sub-txn %d type %v, want %v", i, jute.OpCode(sub.Type), types[i])
			}
		}
		data, stat, code2 := h.tree.GetData("/m", 0)
		if code2 != jute.CodeOK || string(data) != "x" || stat.NumChildren != 0 || stat.Cversion != 2 {
			t.Fatalf("/m after multi: %q %+v %v", data, stat, code2)
		}
	})
	failures := []struct {
		op   jute.OpCode
		rec  jute.Record
		code jute.Code
	}{
		{jute.OpCreate, &jute.CreateRequest{Path: "/zookeeper", Acl: openACL}, jute.CodeNodeExists},
		{jute.OpCreate, &jute.CreateRequest{Path: "/nope/c", Acl: openACL}, jute.CodeNoNode},
		{jute.OpSetData, &jute.SetDataRequest{Path: "/m", Version: 7}, jute.CodeBadVersion},
		{jute.OpCheck, &jute.CheckVersionRequest{Path: "/m", Version: 0}, jute.CodeBadVersion},
		{jute.OpDelete, &jute.DeleteRequest{Path: "/m", Version: -1}, jute.CodeNotEmpty},
	}
	for pos, f := range failures {
		t.Run(fmt.Sprintf("fails at %d", pos), func(t *testing.T) {
			h := newPrepHarness(t, PrepOptions{})
			h.must(createReq("/keep", "", openACL, jute.ModePersistent))
			before := h.tree.NodeCount()
			// An unrelated in-flight change must survive the rollback.
			pending := h.prep(setDataReq("/keep", "k", 0))
			tx := h.prep(multiReq(ops(pos, f.op, f.rec)...))
			if jute.OpCode(tx.Hdr.Type) != jute.OpMulti {
				t.Fatalf("failed multi header type %v, want multi", jute.OpCode(tx.Hdr.Type))
			}
			mt := tx.Body.(*jute.MultiTxn)
			if len(mt.Txns) != 5 {
				t.Fatalf("%d sub-txns", len(mt.Txns))
			}
			for i, sub := range mt.Txns {
				want := jute.CodeOK
				switch {
				case i == pos:
					want = f.code
				case i > pos:
					want = jute.CodeRuntimeInconsistency
				}
				var et jute.ErrorTxn
				if jute.OpCode(sub.Type) != jute.OpError || jute.Unmarshal(sub.Data, &et, 0) != nil || jute.Code(et.Err) != want {
					t.Fatalf("sub-txn %d: type %v err %v, want error %v", i, jute.OpCode(sub.Type), jute.Code(et.Err), want)
				}
			}
			if h.p.Outstanding() != 1 {
				t.Fatalf("rollback left %d outstanding changes, want only the pending setData", h.p.Outstanding())
			}
			// The pending setData is still seen; the multi's changes are not.
			if c := txnCode(h.prep(setDataReq("/keep", "k", 0))); c != jute.CodeBadVersion {
				t.Fatalf("pending change lost in rollback: %v", c)
			}
			if c := txnCode(h.prep(createReq("/m", "", openACL, jute.ModePersistent))); c != jute.CodeOK {
				t.Fatalf("multi's create survived the rollback: %v", c)
			}
			h.p.Abort()
			h.apply(pending)
			res := h.apply(tx)
			body, code := WriteResponse(nil, jute.OpMulti, &res)
			if code != jute.CodeOK || res.Err != f.code {
				t.Fatalf("reply code %v (ZooKeeper answers OK), result err %v", code, res.Err)
			}
			if h.tree.NodeCount() != before {
				t.Fatalf("failed multi changed the tree")
			}
			// The response: error results, then done.
			d := jute.NewDecoder(body, 0)
			for i := range 5 {
				var mh jute.MultiHeader
				var er jute.ErrorResponse
				mh.Decode(d)
				er.Decode(d)
				if jute.OpCode(mh.Type) != jute.OpError || mh.Err != er.Err || mh.Done {
					t.Fatalf("result %d: %+v %+v", i, mh, er)
				}
			}
			var done jute.MultiHeader
			done.Decode(d)
			if !done.Done || done.Type != -1 || done.Err != -1 || d.Remaining() != 0 || d.Err() != nil {
				t.Fatalf("done header %+v, %d left", done, d.Remaining())
			}
		})
	}
	t.Run("failed sequential create does not consume the number", func(t *testing.T) {
		h := newPrepHarness(t, PrepOptions{})
		h.must(createReq("/s", "", openACL, jute.ModePersistent))
		tx := h.prep(multiReq(
			jute.OpCreate, &jute.CreateRequest{Path: "/s/n", Acl: openACL, Flags: int32(jute.ModePersistentSequential)},
			jute.OpDelete, &jute.DeleteRequest{Path: "/nope", Version: -1}))
		if txnCode(tx) != jute.CodeOK {
			t.Fatal("multi itself must not be an ErrorTxn")
		}
		if c := txnCode(h.prep(createReq("/s/n", "", openACL, jute.ModePersistentSequential))); c != jute.CodeOK {
			t.Fatal(c)
		}
		h.p.Abort()
		h.apply(tx)
		res := h.must(createReq("/s/n", "", openACL, jute.ModePersistentSequential))
		if res.Path != "/s/n0000000000" {
			t.Fatalf("after a failed multi the sequence is at %s", res.Path)
		}
	})
	t.Run("flags choose the op", func(t *testing.T) {
		h := newPrepHarness(t, PrepOptions{ExtendedTypesEnabled: true})
		tx := h.prep(multiReq(jute.OpCreate, &jute.CreateRequest{Path: "/c", Acl: openACL, Flags: int32(jute.ModeContainer)}))
		if sub := tx.Body.(*jute.MultiTxn).Txns[0]; jute.OpCode(sub.Type) != jute.OpCreateContainer {
			t.Fatalf("container flag in a multi create became %v", jute.OpCode(sub.Type))
		}
		tx = h.prep(multiReq(jute.OpCreate, &jute.CreateRequest{Path: "/t", Acl: openACL, Flags: int32(jute.ModePersistentWithTTL)}))
		sub := tx.Body.(*jute.MultiTxn).Txns[0]
		var et jute.ErrorTxn
		if jute.OpCode(sub.Type) != jute.OpError || jute.Unmarshal(sub.Data, &et, 0) != nil || jute.Code(et.Err) != jute.CodeBadArguments {
			t.Fatalf("TTL flag without a ttl in a multi: %v %v", jute.OpCode(sub.Type), et)
		}
	})
	malformed := map[string][]byte{
		"read op in multi": multiBody(jute.OpGetData, &jute.GetDataRequest{Path: "/"}),
		"mixed":            multiBody(jute.OpCheck, &jute.CheckVersionRequest{Path: "/", Version: -1}, jute.OpGetData, &jute.GetDataRequest{Path: "/"}),
		"bad create flag":  multiBody(jute.OpCreate, &jute.CreateRequest{Path: "/x", Acl: openACL, Flags: 9}),
		"setACL in multi":  multiBody(jute.OpSetACL, &jute.SetACLRequest{Path: "/", Acl: openACL, Version: -1}),
		"no done header":   multiBody(jute.OpCheck, &jute.CheckVersionRequest{Path: "/", Version: -1})[:21],
		"empty":            nil,
	}
	for name, body := range malformed {
		t.Run(name, func(t *testing.T) {
			h := newPrepHarness(t, PrepOptions{})
			tx := h.prep(&Request{Op: jute.OpMulti, Body: body})
			if txnCode(tx) != jute.CodeMarshallingError {
				t.Fatalf("got %v, want MarshallingError", txnCode(tx))
			}
			res := h.apply(tx)
			if b, code := WriteResponse(nil, jute.OpMulti, &res); code != jute.CodeMarshallingError || len(b) != 0 {
				t.Fatalf("reply %v %x", code, b)
			}
		})
	}
	t.Run("empty multi", func(t *testing.T) {
		h := newPrepHarness(t, PrepOptions{})
		_, res, code := h.do(multiReq())
		b, _ := WriteResponse(nil, jute.OpMulti, &res)
		if code != jute.CodeOK || !bytes.Equal(b, []byte{0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff}) {
			t.Fatalf("empty multi: %v %x", code, b)
		}
	})
}

// TestWriteResponseGolden compares with bytes captured from Apache
// ZooKeeper 3.8.0: a multi of create /b, create /a (exists), delete /zz.
func TestWriteResponseGolden(t *testing.T) {
	h := newPrepHarness(t, PrepOptions{})
	h.must(createReq("/a", "", openACL, jute.ModePersistent))
	_, res, code := h.do(multiReq(
		jute.OpCreate, &jute.CreateRequest{Path: "/b", Acl: openACL},
		jute.OpCreate, &jute.CreateRequest{Path: "/a", Acl: openACL},
		jute.OpDelete, &jute.DeleteRequest{Path: "/zz", Version: -1}))
	got, _ := WriteResponse(nil, jute.OpMulti, &res)
	want := "ffffffff000000000000000000" + "ffffffff00ffffff92ffffff92" + "ffffffff00fffffffefffffffe" + "ffffffff01ffffffff"
	if code != jute.CodeOK || fmt.Sprintf("%x", got) != want {
		t.Fatalf("got %v %x\nwant %s", code, got, want)
	}

	// Single ops.
	_, res, _ = h.do(createReq("/c", "", openACL, jute.ModePersistent))
	if b, code := WriteResponse(nil, jute.OpCreate, &res); code != jute.CodeOK || fmt.Sprintf("%x", b) != "000000022f63" {
		t.Fatalf("create reply %v %x", code, b)
	}
	r2 := req(jute.OpCreate2, &jute.CreateRequest{Path: "/d", Acl: openACL})
	_, res, _ = h.do(r2)
	b, _ := WriteResponse(nil, jute.OpCreate2, &res)
	var c2 jute.Create2Response
	if jute.Unmarshal(b, &c2, 0) != nil || c2.Path != "/d" || c2.Stat != res.Stat || c2.Stat.Czxid != h.zxid {
		t.Fatalf("create2 reply %+v", c2)
	}
	_, res, _ = h.do(setDataReq("/d", "x", -1))
	b, _ = WriteResponse(nil, jute.OpSetData, &res)
	var sd jute.SetDataResponse
	if jute.Unmarshal(b, &sd, 0) != nil || sd.Stat.Version != 1 || sd.Stat.DataLength != 1 {
		t.Fatalf("setData reply %+v", sd)
	}
	_, res, _ = h.do(deleteReq("/d", -1))
	if b, code := WriteResponse(nil, jute.OpDelete, &res); code != jute.CodeOK || len(b) != 0 {
		t.Fatalf("delete reply %v %x", code, b)
	}
	_, res, _ = h.do(deleteReq("/d", -1))
	if b, code := WriteResponse(nil, jute.OpDelete, &res); code != jute.CodeNoNode || len(b) != 0 {
		t.Fatalf("failed delete reply %v %x", code, b)
	}
}

func TestPrepQuota(t *testing.T) {
	h := newPrepHarness(t, PrepOptions{EnforceQuota: true})
	h.must(createReq("/q", "", openACL, jute.ModePersistent))
	h.must(createReq("/zookeeper/quota/q", "", openACL, jute.ModePersistent))
	h.must(createReq("/zookeeper/quota/q/zookeeper_limits", "count=-1,bytes=-1=;byteHardLimit=10;countHardLimit=3", openACL, jute.ModePersistent))
	h.must(createReq("/zookeeper/quota/q/zookeeper_stats", "count=0,bytes=0", openACL, jute.ModePersistent))
	h.must(createReq("/q/a", "12345", openACL, jute.ModePersistent))
	tests := []struct {
		r    *Request
		want jute.Code
	}{
		{createReq("/q/b", "123456", openACL, jute.ModePersistent), jute.CodeQuotaExceeded}, // 11 bytes
		{setDataReq("/q/a", "12345678901", -1), jute.CodeQuotaExceeded},
		{setDataReq("/q/a", "1234567890", -1), jute.CodeOK},
		{createReq("/q/b", "", openACL, jute.ModePersistent), jute.CodeOK}, // count 3
		{createReq("/q/c", "", openACL, jute.ModePersistent), jute.CodeQuotaExceeded},
		{createReq("/other", "0123456789012", openACL, jute.ModePersistent), jute.CodeOK},
	}
	for i, tc := range tests {
		tx := h.prep(tc.r)
		if got := txnCode(tx); got != tc.want {
			t.Fatalf("step %d (%v): %v, want %v", i, tc.r.Op, got, tc.want)
		}
		h.apply(tx)
	}
	// Without EnforceQuota nothing is refused.
	h2 := newPrepHarness(t, PrepOptions{})
	h2.must(createReq("/q", "", openACL, jute.ModePersistent))
	h2.must(createReq("/zookeeper/quota/q", "", openACL, jute.ModePersistent))
	h2.must(createReq("/zookeeper/quota/q/zookeeper_limits", "count=-1,bytes=-1=;countHardLimit=0", openACL, jute.ModePersistent))
	h2.must(createReq("/zookeeper/quota/q/zookeeper_stats", "count=0,bytes=0", openACL, jute.ModePersistent))
	h2.must(createReq("/q/a", "", openACL, jute.ModePersistent))
}

func TestPrepSkipACL(t *testing.T) {
	h := newPrepHarness(t, PrepOptions{SkipACL: true})
	setupTree(h)
	for _, r := range []*Request{
		createReq("/ro/x", "", openACL, jute.ModePersistent),
		setDataReq("/ro", "x", -1),
		setACLReq("/ro", openACL, -1),
		deleteReq("/nodelete/c", -1),
	} {
		if c := txnCode(h.prep(r)); c != jute.CodeOK {
			t.Fatalf("%v with skipACL: %v", r.Op, c)
		}
	}
	// ACL validity is still checked.
	if c := txnCode(h.prep(createReq("/y", "", nil, jute.ModePersistent))); c != jute.CodeInvalidACL {
		t.Fatalf("empty ACL with skipACL: %v", c)
	}
}

func TestIsWrite(t *testing.T) {
	for op, want := range map[jute.OpCode]bool{
		jute.OpCreate: true, jute.OpCreate2: true, jute.OpCreateTTL: true, jute.OpCreateContainer: true,
		jute.OpDelete: true, jute.OpDeleteContainer: true, jute.OpSetData: true, jute.OpSetACL: true,
		jute.OpCheck: true, jute.OpMulti: true, jute.OpReconfig: true, jute.OpCreateSession: true,
		jute.OpCloseSession: true, jute.OpGetData: false, jute.OpExists: false, jute.OpMultiRead: false,
		jute.OpSync: false, jute.OpSetWatches: false, jute.OpAddWatch: false, jute.OpWhoAmI: false,
	} {
		if IsWrite(op) != want {
			t.Errorf("IsWrite(%v) = %v", op, !want)
		}
	}
}

func TestPrepReject(t *testing.T) {
	p := NewPrepper(datatree.New(datatree.Options{}), PrepOptions{})
	joining := "server.2=127.0.0.1:1:2:participant;127.0.0.1:3"
	dc := func(path string) []byte { return jute.AppendBuffer(nil, []byte(path)) }
	tests := []struct {
		name string
		op   jute.OpCode
		body []byte
		code jute.Code // CodeOK: not rejected
	}{
		{"create ok", jute.OpCreate, (&jute.CreateRequest{Path: "/a", Acl: openACL}).Encode(nil), jute.CodeOK},
		{"create bad flags still preps", jute.OpCreate, (&jute.CreateRequest{Path: "/a", Flags: 99}).Encode(nil), jute.CodeOK},
		{"create empty", jute.OpCreate, nil, jute.CodeMarshallingError},
		{"create truncated", jute.OpCreate, []byte{0, 0, 0, 10, '/'}, jute.CodeMarshallingError},
		{"create2 empty", jute.OpCreate2, nil, jute.CodeMarshallingError},
		{"createContainer empty", jute.OpCreateContainer, nil, jute.CodeMarshallingError},
		{"createTTL short", jute.OpCreateTTL, (&jute.CreateRequest{Path: "/a", Acl: openACL}).Encode(nil), jute.CodeMarshallingError},
		{"delete empty", jute.OpDelete, nil, jute.CodeMarshallingError},
		{"delete ok", jute.OpDelete, (&jute.DeleteRequest{Path: "/a", Version: -1}).Encode(nil), jute.CodeOK},
		{"setData empty", jute.OpSetData, []byte{0, 0, 0}, jute.CodeMarshallingError},
		{"setACL empty", jute.OpSetACL, nil, jute.CodeMarshallingError},
		{"reconfig empty", jute.OpReconfig, nil, jute.CodeMarshallingError},
		{"reconfig ok", jute.OpReconfig, (&jute.ReconfigRequest{JoiningServers: &joining, CurConfigId: -1}).Encode(nil), jute.CodeOK},
		{"deleteContainer empty", jute.OpDeleteContainer, nil, jute.CodeMarshallingError},
		{"deleteContainer null", jute.OpDeleteContainer, []byte{0xff, 0xff, 0xff, 0xff}, jute.CodeMarshallingError},
		{"deleteContainer bare path", jute.OpDeleteContainer, []byte("/a/b"), jute.CodeMarshallingError},
		{"deleteContainer ok", jute.OpDeleteContainer, dc("/a"), jute.CodeOK},
		{"check alone", jute.OpCheck, (&jute.CheckVersionRequest{Path: "/a", Version: 1}).Encode(nil), jute.CodeUnimplemented},
		{"multi empty takes a zxid", jute.OpMulti, nil, jute.CodeOK},
		{"createSession", jute.OpCreateSession, nil, jute.CodeOK},
		{"closeSession", jute.OpCloseSession, nil, jute.CodeOK},
		{"read op", jute.OpGetData, nil, jute.CodeOK},
	}
	for _, tc := range tests {
		code, rejected := p.Reject(&Request{Session: 1, Op: tc.op, Body: tc.body})
		if rejected != (tc.code != jute.CodeOK) || (rejected && code != tc.code) {
			t.Errorf("%s: Reject = %v, %v; want %v", tc.name, code, rejected, tc.code)
		}
	}
	if p.Outstanding() != 0 {
		t.Fatalf("Reject left %d outstanding changes", p.Outstanding())
	}
}
