package server

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gokeeper/gokeeper/datatree"
	"github.com/gokeeper/gokeeper/jute"
)

// fakeQuorum is the ensemble as the prep of a reconfig sees it.
type fakeQuorum struct {
	pending bool
	synced  []int64
}

func (f *fakeQuorum) reconfigPending() bool { return f.pending }

func (f *fakeQuorum) quorumSynced(voters []int64) bool {
	n := 0
	for _, v := range voters {
		for _, s := range f.synced {
			if s == v {
				n++
			}
		}
	}
	return n > len(voters)/2
}

const reconfigBase = "server.1=127.0.0.1:2001:3001:participant;0.0.0.0:4001\n" +
	"server.2=127.0.0.1:2002:3002:participant;0.0.0.0:4002\n" +
	"server.3=127.0.0.1:2003:3003:participant;0.0.0.0:4003\n" +
	"version=100000000"

// newReconfigHarness is a leader's prep whose /zookeeper/config holds
// three voters at version 0x100000000, with followers 2, 3 and the
// joining server 4 synced.
func newReconfigHarness(t *testing.T, o PrepOptions) (*prepHarness, *fakeQuorum) {
	tree := datatree.New(datatree.Options{ConfigData: []byte(reconfigBase), ConfigZxid: 0x100000000})
	h := &prepHarness{t: t, tree: tree, p: NewPrepper(tree, o), o: o, now: 1_700_000_000_000, zxid: 0x200000000}
	q := &fakeQuorum{synced: []int64{1, 2, 3, 4}}
	h.p.quorum = q
	return h, q
}

func strp(s string) *string { return &s }

// TestPrepReconfigCodes: each refusal of PrepRequestProcessor's reconfig
// case, in its order.
func TestPrepReconfigCodes(t *testing.T) {
	join4 := "server.4=127.0.0.1:2004:3004:participant;4004"
	cases := []struct {
		name    string
		opts    PrepOptions
		alone   bool
		pending bool
		synced  []int64
		rec     jute.ReconfigRequest
		auth    []jute.Id
		want    jute.Code
	}{
		{name: "reconfigEnabled is off", rec: jute.ReconfigRequest{JoiningServers: &join4, CurConfigId: -1}, auth: []jute.Id{superID}, want: jute.CodeReconfigDisabled},
		{name: "standalone", opts: PrepOptions{ReconfigEnabled: true}, alone: true, rec: jute.ReconfigRequest{JoiningServers: &join4, CurConfigId: -1}, auth: []jute.Id{superID}, want: jute.CodeUnimplemented},
		{name: "a reconfig is pending in the quorum", opts: PrepOptions{ReconfigEnabled: true}, pending: true, rec: jute.ReconfigRequest{JoiningServers: &join4, CurConfigId: -1}, auth: []jute.Id{superID}, want: jute.CodeReconfigInProgress},
		{name: "fromConfig is not the last config", opts: PrepOptions{ReconfigEnabled: true}, rec: jute.ReconfigRequest{JoiningServers: &join4, CurConfigId: 0x1}, auth: []jute.Id{superID}, want: jute.CodeBadVersion},
		{name: "a joiner without a client port", opts: PrepOptions{ReconfigEnabled: true}, rec: jute.ReconfigRequest{JoiningServers: strp("server.4=127.0.0.1:2004:3004"), CurConfigId: -1}, auth: []jute.Id{superID}, want: jute.CodeBadArguments},
		{name: "a joiner on a member's port", opts: PrepOptions{ReconfigEnabled: true}, rec: jute.ReconfigRequest{JoiningServers: strp("server.4=127.0.0.1:2001:3004;4004"), CurConfigId: -1}, auth: []jute.Id{superID}, want: jute.CodeBadArguments},
		{name: "one voter left", opts: PrepOptions{ReconfigEnabled: true}, rec: jute.ReconfigRequest{LeavingServers: strp("2,3"), CurConfigId: -1}, auth: []jute.Id{superID}, want: jute.CodeBadArguments},
		{name: "a leaving id that is not a number", opts: PrepOptions{ReconfigEnabled: true}, rec: jute.ReconfigRequest{LeavingServers: strp("x"), CurConfigId: -1}, auth: []jute.Id{superID}, want: jute.CodeMarshallingError},
		{name: "the new voters are not synced", opts: PrepOptions{ReconfigEnabled: true}, synced: []int64{1, 2}, rec: jute.ReconfigRequest{NewMembers: strp("server.1=127.0.0.1:2001:3001;4001,server.4=127.0.0.1:2004:3004;4004,server.5=127.0.0.1:2005:3005;4005"), CurConfigId: -1}, auth: []jute.Id{superID}, want: jute.CodeNewConfigNoQuorum},
		{name: "no WRITE on /zookeeper/config", opts: PrepOptions{ReconfigEnabled: true}, rec: jute.ReconfigRequest{JoiningServers: &join4, CurConfigId: -1}, want: jute.CodeNoAuth},
		{name: "skipACL", opts: PrepOptions{ReconfigEnabled: true, SkipACL: true}, rec: jute.ReconfigRequest{JoiningServers: &join4, CurConfigId: -1}, want: jute.CodeOK},
		{name: "the superuser, fromConfig matching", opts: PrepOptions{ReconfigEnabled: true}, rec: jute.ReconfigRequest{JoiningServers: &join4, CurConfigId: 0x100000000}, auth: []jute.Id{superID}, want: jute.CodeOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, q := newReconfigHarness(t, tc.opts)
			q.pending = tc.pending
			if tc.synced != nil {
				q.synced = tc.synced
			}
			if tc.alone {
				h.p.quorum = nil
			}
			tx := h.prep(req(jute.OpReconfig, &tc.rec, tc.auth...))
			if got := txnCode(tx); got != tc.want {
				t.Fatalf("code %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPrepReconfigApplies: an incremental reconfig's txn sets
// /zookeeper/config to the new membership, versioned with its zxid, and
// fires its data watch; the reply is the new config and the node's stat;
// a second reconfig while the first is outstanding is ReconfigInProgress;
// a non-incremental one replaces the member list.
func TestPrepReconfigApplies(t *testing.T) {
	h, _ := newReconfigHarness(t, PrepOptions{ReconfigEnabled: true})
	rec := jute.ReconfigRequest{JoiningServers: strp("server.4=127.0.0.1:2004:3004:participant;4004"), LeavingServers: strp("3"), CurConfigId: -1}
	tx := h.prep(req(jute.OpReconfig, &rec, superID))
	if code := txnCode(tx); code != jute.CodeOK {
		t.Fatalf("reconfig: %v", code)
	}
	if again := h.prep(req(jute.OpReconfig, &rec, superID)); txnCode(again) != jute.CodeReconfigInProgress {
		t.Errorf("a second reconfig while one is outstanding: %v, want ReconfigInProgress", txnCode(again))
	}
	want := "server.1=127.0.0.1:2001:3001:participant;0.0.0.0:4001\n" +
		"server.2=127.0.0.1:2002:3002:participant;0.0.0.0:4002\n" +
		"server.4=127.0.0.1:2004:3004:participant;0.0.0.0:4004\n" +
		"version=200000001"
	if jute.OpCode(tx.Hdr.Type) != jute.OpReconfig || tx.Hdr.Zxid != 0x200000001 {
		t.Fatalf("txn header %+v, want a reconfig at 0x200000001", tx.Hdr)
	}
	if sd := tx.Body.(*jute.SetDataTxn); sd.Path != "/zookeeper/config" || string(sd.Data) != want || sd.Version != -1 {
		t.Fatalf("txn %+v (%q), want /zookeeper/config %q version -1", sd, sd.Data, want)
	}
	h.tree.GetData("/zookeeper/config", 42) // a data watch
	res := h.tree.Apply(&tx.Hdr, tx.Body)
	// NB: the reply may leave before Applied: the next reconfig is not
	// refused for the one the tree has.
	if next := h.prep(req(jute.OpReconfig, &jute.ReconfigRequest{LeavingServers: strp("4"), CurConfigId: 0x1}, superID)); txnCode(next) != jute.CodeBadVersion {
		t.Errorf("a reconfig after the applied one: %v, want BadVersion (from its fromConfig), not ReconfigInProgress", txnCode(next))
	}
	h.p.Applied(tx.Hdr.Zxid)
	data, st, _ := h.tree.GetData("/zookeeper/config", 0)
	if string(data) != want || st.Version != -1 || st.Mzxid != tx.Hdr.Zxid {
		t.Errorf("/zookeeper/config = %q, stat %+v", data, st)
	}
	if len(res.Events) != 1 || res.Events[0].Type != jute.EventNodeDataChanged || res.Events[0].Path != "/zookeeper/config" {
		t.Errorf("events %+v, want NodeDataChanged on /zookeeper/config", res.Events)
	}
	body, code := WriteResponse(nil, jute.OpReconfig, &res)
	var reply jute.GetDataResponse
	if err := jute.Unmarshal(body, &reply, len(body)); err != nil || code != jute.CodeOK || string(reply.Data) != want || reply.Stat != st {
		t.Errorf("reply %q %+v (%v, %v), want the new config and its stat", reply.Data, reply.Stat, code, err)
	}

	full := jute.ReconfigRequest{NewMembers: strp("server.1=127.0.0.1:2001:3001;4001\nserver.2=127.0.0.1:2002:3002;4002,server.4=127.0.0.1:2004:3004:observer;4004"), CurConfigId: 0x200000001}
	tx = h.prep(req(jute.OpReconfig, &full, superID))
	sd, ok := tx.Body.(*jute.SetDataTxn)
	if !ok || !strings.HasSuffix(string(sd.Data), fmt.Sprintf("server.4=127.0.0.1:2004:3004:observer;0.0.0.0:4004\nversion=%x", tx.Hdr.Zxid)) || strings.Contains(string(sd.Data), "server.3") {
		t.Errorf("non-incremental reconfig: %v %+v", txnCode(tx), tx.Body)
	}
}

// TestWriteDynamicConfig: activation writes zoo.cfg.dynamic.<hex version>
// with the sorted server lines and no version, and rewrites zoo.cfg
// without its server and client port lines, pointing at it; parsing the
// file gives the membership back.
func TestWriteDynamicConfig(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "zoo.cfg")
	static := "tickTime=2000\ndataDir=/data\nclientPort=4001\nserver.1=127.0.0.1:2001:3001\nserver.2=127.0.0.1:2002:3002\nreconfigEnabled=true\n"
	if err := os.WriteFile(cfgFile, []byte(static), 0o644); err != nil {
		t.Fatal(err)
	}
	servers, _, err := parseMembership(reconfigBase, true)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := writeDynamicConfig(cfgFile, 1, servers, 0x200000001)
	if err != nil {
		t.Fatal(err)
	}
	if dyn != cfgFile+".dynamic.200000001" {
		t.Errorf("dynamic file %s", dyn)
	}
	got, _ := os.ReadFile(dyn)
	if want := strings.TrimSuffix(reconfigBase, "\nversion=100000000"); string(got) != want {
		t.Errorf("dynamic file holds %q, want %q", got, want)
	}
	back, _, err := parseMembership(string(got), false)
	if err != nil || len(back) != 3 || back[2].ID != 3 || back[2].ClientPort != 4003 {
		t.Errorf("parsed back: %+v, %v", back, err)
	}
	cfg, _ := os.ReadFile(cfgFile)
	if want := "tickTime=2000\ndataDir=/data\nreconfigEnabled=true\ndynamicConfigFile=" + dyn + "\n"; string(cfg) != want {
		t.Errorf("zoo.cfg is\n%s\nwant\n%s", cfg, want)
	}
}
