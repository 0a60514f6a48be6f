package datatree

import (
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/gokeeper/gokeeper/jute"
)

// TestNodeBuf checks the data||name layout of node.buf: null and empty
// data stay distinct, the data handed out is clipped so an append cannot
// reach the name, and a data change keeps the name and leaves the old
// slice unchanged.
func TestNodeBuf(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"", nil}, {"", []byte{}}, {"", []byte("root")},
		{"n1", nil}, {"n1", []byte{}}, {"n1", []byte("x")},
		{"a-name-longer-than-8", make([]byte, 100)},
	} {
		n := newNode(tc.name, tc.data)
		check := func(step string, want []byte) {
			t.Helper()
			got := n.data()
			if (got == nil) != (want == nil) || string(got) != string(want) || cap(got) != len(got) {
				t.Fatalf("%q %s: data %q (nil %v, cap %d), want %q (nil %v)", tc.name, step, got, got == nil, cap(got), want, want == nil)
			}
			if string(n.name()) != tc.name {
				t.Fatalf("%q %s: name %q", tc.name, step, n.name())
			}
			if int(n.stat().DataLength) != len(want) {
				t.Fatalf("%q %s: DataLength %d", tc.name, step, n.stat().DataLength)
			}
		}
		check("new", tc.data)
		_ = append(n.data(), "zzzzzzzz"...)
		check("after a reader's append", tc.data)
		old := n.data()
		n.setData([]byte("new data"))
		check("after setData", []byte("new data"))
		if string(old) != string(tc.data) {
			t.Fatalf("%q: old data became %q", tc.name, old)
		}
		n.setData(nil)
		check("after setData(nil)", nil)
		n.setData([]byte{})
		check("after setData(empty)", []byte{})
	}
}

// TestChildSetTable grows and shrinks a child set across the switch from
// list to table (smallChildren) and back (smallChildren/2) several times,
// with names whose first 8 bytes tie, checking it against a map.
func TestChildSetTable(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	var c childSet
	want := map[string]*node{}
	check := func(step int) {
		t.Helper()
		if c.len() != len(want) {
			t.Fatalf("step %d: len %d, want %d", step, c.len(), len(want))
		}
		if c.table != nil && len(want) <= smallChildren/2 || c.table == nil && len(want) > smallChildren {
			t.Fatalf("step %d: table %v with %d children", step, c.table != nil, len(want))
		}
		for name, n := range want {
			if c.get(name) != n {
				t.Fatalf("step %d: get(%q) wrong", step, name)
			}
		}
		var got []string
		for n := range c.all {
			got = append(got, string(n.name()))
		}
		if len(got) != len(want) {
			t.Fatalf("step %d: all yields %d", step, len(got))
		}
		names := c.names()
		if !slices.IsSorted(names) || len(names) != len(want) {
			t.Fatalf("step %d: names not sorted or wrong count", step)
		}
		slices.Sort(got)
		if !slices.Equal(got, names) {
			t.Fatalf("step %d: all and names disagree", step)
		}
	}
	step := 0
	for round := 0; round < 3; round++ {
		for len(want) < 3*smallChildren {
			name := fmt.Sprintf("lock-%010d", rng.Intn(8*smallChildren))
			if c.get(name) == nil {
				n := newNode(name, nil)
				c.add(name, n)
				want[name] = n
			}
			if step++; step%500 == 0 {
				check(step)
			}
		}
		check(step)
		for len(want) > 100 {
			name := fmt.Sprintf("lock-%010d", rng.Intn(8*smallChildren))
			if rng.Intn(4) == 0 {
				name = "absent"
			}
			c.remove(name)
			delete(want, name)
			if step++; step%500 == 0 {
				check(step)
			}
		}
		check(step)
	}
	if c.get("lock-") != nil || c.get("lock-000000000") != nil {
		t.Fatal("prefix of a name found")
	}
}

// TestNULName checks that a name with a NUL byte, which would make a
// child's key ambiguous, is neither stored nor found.
func TestNULName(t *testing.T) {
	var b txnBuilder
	tr := New(Options{})
	mustOK(t, b.create(tr, "/a", "x", 1, false))
	if r := b.create(tr, "/a\x00", "y", 1, false); r.Err != jute.CodeBadArguments {
		t.Fatalf("create with NUL: %v", r.Err)
	}
	if _, _, code := tr.GetData("/a\x00", 0); code != jute.CodeNoNode {
		t.Fatalf("GetData with NUL: %v", code)
	}
	if _, _, code := tr.GetData("/a", 0); code != jute.CodeOK {
		t.Fatalf("GetData: %v", code)
	}
	rt := New(Options{})
	if err := rt.Restore(&SnapshotNode{Path: ""}); err != nil {
		t.Fatal(err)
	}
	if err := rt.Restore(&SnapshotNode{Path: "/b\x00"}); !errors.Is(err, ErrRestoreBadName) {
		t.Fatalf("Restore with NUL: %v", err)
	}
}

// TestWideSnapshotRoundTrip walks and restores a parent held in a table,
// with null, empty and changed data, and compares the trees.
func TestWideSnapshotRoundTrip(t *testing.T) {
	var b txnBuilder
	tr := New(Options{})
	mustOK(t, b.create(tr, "/w", "", 1, false))
	for i := range 2 * smallChildren {
		p := fmt.Sprintf("/w/member_%010d", i)
		switch i % 3 {
		case 0:
			mustOK(t, tr.Apply(b.hdr(jute.OpCreate, 1), &jute.CreateTxn{Path: p, Acl: jute.OpenACLUnsafe(), ParentCVersion: -1}))
		case 1:
			mustOK(t, b.create(tr, p, "", 1, false))
		default:
			mustOK(t, b.create(tr, p, "data", 1, false))
			mustOK(t, b.setData(tr, p, fmt.Sprint("changed", i)))
		}
	}
	var snap []SnapshotNode
	if err := tr.Walk(nil, func(n *SnapshotNode) error {
		snap = append(snap, *n)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rt := restoreFrom(t, snap, b.zxid)
	for i := range 2 * smallChildren {
		p := fmt.Sprintf("/w/member_%010d", i)
		d1, s1, _ := tr.GetData(p, 0)
		d2, s2, code := rt.GetData(p, 0)
		if code != jute.CodeOK || (d1 == nil) != (d2 == nil) || string(d1) != string(d2) || s1 != s2 {
			t.Fatalf("%s: restored %q %+v (%v), want %q %+v", p, d2, s2, code, d1, s1)
		}
	}
	k1, s1, _ := tr.GetChildren("/w", 0)
	k2, s2, _ := rt.GetChildren("/w", 0)
	if !slices.Equal(k1, k2) || s1 != s2 {
		t.Fatal("restored /w differs")
	}
}
