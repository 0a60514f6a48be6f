package jute

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"hash/adler32"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// File magics of ZooKeeper's txn log ("ZKLG") and snapshot ("ZKSN").
const (
	txnLogMagic   = 0x5a4b4c47
	snapshotMagic = 0x5a4b534e
)

// persistBlock is one labelled block of a persistence golden file.
type persistBlock struct {
	label string
	data  []byte
}

// readPersistence reads the golden files whose names match pattern under
// testdata/persistence, each as its blocks in order.
func readPersistence(tb testing.TB, pattern string) map[string][]persistBlock {
	tb.Helper()
	return readBlocks(tb, "persistence", pattern)
}

// readBlocks reads the labelled-hex files matching pattern under
// testdata/dir: a label line has a space, a hex line has none.
func readBlocks(tb testing.TB, dir, pattern string) map[string][]persistBlock {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, pattern))
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		tb.Fatalf("no testdata/%s/%s", dir, pattern)
	}
	out := map[string][]persistBlock{}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			tb.Fatal(err)
		}
		var blocks []persistBlock
		sc := bufio.NewScanner(f)
		for line := 1; sc.Scan(); line++ {
			text := strings.TrimSpace(sc.Text())
			switch {
			case text == "" || strings.HasPrefix(text, "#"):
			case strings.Contains(text, " "): // labels have spaces, hex has none
				blocks = append(blocks, persistBlock{label: text})
			default:
				b, err := hex.DecodeString(text)
				if err != nil || len(blocks) == 0 {
					tb.Fatalf("%s:%d: bad hex line %q (%v)", name, line, text, err)
				}
				blocks[len(blocks)-1].data = append(blocks[len(blocks)-1].data, b...)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			tb.Fatal(err)
		}
		out[filepath.Base(name)] = blocks
	}
	return out
}

// decodeTxnEntry checks one txn log entry (checksum, length-prefixed txn,
// end-of-record byte) and decodes its txn: TxnHeader, the body
// NewTxnRecord picks, and the TxnDigest ZooKeeper 3.6+ appends. For a
// multi, the sub-txns are decoded too and returned after the MultiTxn.
func decodeTxnEntry(tb testing.TB, label string, entry []byte) (recs []Record, sub []Record) {
	tb.Helper()
	if len(entry) < 13 {
		tb.Fatalf("%s: %d bytes", label, len(entry))
	}
	crc := binary.BigEndian.Uint64(entry)
	n := int(int32(binary.BigEndian.Uint32(entry[8:])))
	if n < 0 || len(entry) != 12+n+1 {
		tb.Fatalf("%s: length %d in a %d-byte entry", label, n, len(entry))
	}
	txn := entry[12 : 12+n]
	if got := uint64(adler32.Checksum(txn)); got != crc {
		tb.Fatalf("%s: Adler32 %#x, log says %#x", label, got, crc)
	}
	if entry[len(entry)-1] != 'B' {
		tb.Fatalf("%s: end-of-record byte %#x, want 'B'", label, entry[len(entry)-1])
	}
	return decodeTxn(tb, label, txn)
}

// decodeTxn decodes a serialized txn as ZooKeeper logs and proposes it:
// TxnHeader, the txn record, and an optional TxnDigest.
func decodeTxn(tb testing.TB, label string, txn []byte) (recs []Record, sub []Record) {
	tb.Helper()
	d := NewDecoder(txn, 0)
	h := new(TxnHeader)
	h.Decode(d)
	body := NewTxnRecord(OpCode(h.Type))
	if body == nil {
		tb.Fatalf("%s: no txn record for type %v", label, OpCode(h.Type))
	}
	body.Decode(d)
	recs = []Record{h, body}
	if d.Remaining() > 0 {
		dg := new(TxnDigest)
		dg.Decode(d)
		recs = append(recs, dg)
	}
	if d.Err() != nil || d.Remaining() != 0 {
		tb.Fatalf("%s: %v, %d bytes left", label, d.Err(), d.Remaining())
	}
	if mt, ok := body.(*MultiTxn); ok {
		for i, t := range mt.Txns {
			r := NewTxnRecord(OpCode(t.Type))
			if r == nil {
				tb.Fatalf("%s: sub-txn %d has type %v", label, i, OpCode(t.Type))
			}
			if err := Unmarshal(t.Data, r, 0); err != nil {
				tb.Fatalf("%s: sub-txn %d (%v): %v", label, i, OpCode(t.Type), err)
			}
			if re := r.Encode(nil); !bytes.Equal(re, t.Data) {
				tb.Fatalf("%s: sub-txn %d re-encodes as % x, want % x", label, i, re, t.Data)
			}
			sub = append(sub, r)
		}
	}
	var enc []byte
	for _, r := range recs {
		enc = r.Encode(enc)
	}
	if !bytes.Equal(enc, txn) {
		tb.Fatalf("%s: re-encoding differs\n got % x\nwant % x", label, enc, txn)
	}
	return recs, sub
}

// TestGoldenTxnLog decodes every txn of the txn log a real ZooKeeper 3.8
// wrote during the golden capture (see TestGoldenFrames for how to
// capture again: the same command writes testdata/persistence) and
// re-encodes it byte for byte.
func TestGoldenTxnLog(t *testing.T) {
	types := map[string]int{}
	digests := 0
	for file, blocks := range readPersistence(t, "log.*.txt") {
		if len(blocks) < 2 || blocks[0].label != "fileheader len=16" {
			t.Fatalf("%s: starts with %q", file, blocks[0].label)
		}
		var fh FileHeader
		if err := Unmarshal(blocks[0].data, &fh, 0); err != nil {
			t.Fatal(err)
		}
		if fh.Magic != txnLogMagic || fh.Version != 2 {
			t.Errorf("%s: file header %+v, want magic ZKLG version 2", file, fh)
		}
		for _, bl := range blocks[1:] {
			recs, sub := decodeTxnEntry(t, file+": "+bl.label, bl.data)
			op := OpCode(recs[0].(*TxnHeader).Type).String()
			if !strings.HasPrefix(bl.label, "txn ") || !strings.Contains(bl.label, " "+op+" ") {
				t.Errorf("%s: %q decoded as %s", file, bl.label, op)
			}
			types[op]++
			for _, s := range sub {
				types["multi:"+reflect.TypeOf(s).Elem().Name()]++
			}
			if len(recs) == 3 {
				digests++
			}
		}
	}
	for _, want := range []string{
		"createSession", "closeSession", "create", "create2", "createContainer", "createTTL",
		"delete", "setData", "setACL", "multi", "error",
		"multi:CreateTxn", "multi:SetDataTxn", "multi:DeleteTxn", "multi:CheckVersionTxn", "multi:ErrorTxn",
	} {
		if types[want] == 0 {
			t.Errorf("golden txn log holds no %s txn (has %v)", want, types)
		}
	}
	if digests == 0 {
		t.Error("no txn carries a TxnDigest")
	}
}

// TestGoldenSnapshot walks the snapshots ZooKeeper 3.8 wrote during the
// golden capture: FileHeader, the session table, the ACL cache (a long
// then a vector<ACL> per entry), every znode (path, data buffer, ACL id,
// StatPersisted), the "/" that ends the tree, then the Adler32 seal, the
// zxid digest and a second seal. Every record re-encodes byte for byte.
func TestGoldenSnapshot(t *testing.T) {
	for file, blocks := range readPersistence(t, "snapshot.*.txt") {
		t.Run(file, func(t *testing.T) {
			var b []byte
			for _, bl := range blocks {
				b = append(b, bl.data...)
			}
			d := NewDecoder(b, 0)
			// same re-encodes r and checks it against the bytes just read.
			same := func(r Record, from int) {
				t.Helper()
				if d.Err() != nil {
					t.Fatalf("at offset %d: %v", from, d.Err())
				}
				if enc := r.Encode(nil); !bytes.Equal(enc, b[from:d.Offset()]) {
					t.Fatalf("%T at offset %d re-encodes as % x, want % x", r, from, enc, b[from:d.Offset()])
				}
			}
			var fh FileHeader
			fh.Decode(d)
			same(&fh, 0)
			if fh.Magic != snapshotMagic || fh.Version != 2 {
				t.Errorf("file header %+v, want magic ZKSN version 2", fh)
			}
			sessions := d.Int()
			for i := int32(0); i < sessions; i++ {
				if id, timeout := d.Long(), d.Int(); id == 0 || timeout <= 0 {
					t.Errorf("session %#x with timeout %d", id, timeout)
				}
			}
			aclEntries := d.Int()
			for i := int32(0); i < aclEntries; i++ {
				d.Long()
				n := d.VectorLen(12)
				for j := 0; j < n; j++ {
					from := d.Offset()
					var a ACL
					a.Decode(d)
					same(&a, from)
				}
			}
			nodes := 0
			for d.Err() == nil {
				path := d.String()
				if path == "/" {
					break
				}
				nodes++
				d.Buffer()
				d.Long()
				from := d.Offset()
				var st StatPersisted
				st.Decode(d)
				same(&st, from)
				if path == "/zookeeper" && (st.Czxid != 0 || st.EphemeralOwner != 0) {
					t.Errorf("/zookeeper has stat %+v", st)
				}
			}
			if nodes < 4 {
				t.Errorf("%d znodes, want at least \"\", /zookeeper, /zookeeper/config, /zookeeper/quota", nodes)
			}
			for seal := 1; d.Err() == nil && d.Remaining() > 0; seal++ {
				sum := uint64(adler32.Checksum(b[:d.Offset()]))
				if got := uint64(d.Long()); got != sum {
					t.Errorf("seal %d: checksum %#x, Adler32 of the bytes before it %#x", seal, got, sum)
				}
				if s := d.String(); s != "/" {
					t.Errorf("seal %d ends with %q, want \"/\"", seal, s)
				}
				if d.Remaining() > 0 {
					d.Long() // zxid
					if v := d.Int(); v != 2 {
						t.Errorf("digest version %d, want 2", v)
					}
					d.Long() // digest
				}
			}
			if d.Err() != nil || d.Remaining() != 0 {
				t.Fatalf("%v, %d bytes left", d.Err(), d.Remaining())
			}
		})
	}
}

// goldenPersistenceRecords returns every record decoded from the golden
// txn logs and snapshot headers, for fuzz seeds.
func goldenPersistenceRecords(tb testing.TB) []Record {
	tb.Helper()
	var out []Record
	for file, blocks := range readPersistence(tb, "log.*.txt") {
		var fh FileHeader
		if err := Unmarshal(blocks[0].data, &fh, 0); err != nil {
			tb.Fatal(err)
		}
		out = append(out, &fh)
		for _, bl := range blocks[1:] {
			recs, sub := decodeTxnEntry(tb, file+": "+bl.label, bl.data)
			out = append(out, recs...)
			out = append(out, sub...)
			if mt, ok := recs[1].(*MultiTxn); ok {
				for i := range mt.Txns {
					out = append(out, &mt.Txns[i])
				}
			}
		}
	}
	return out
}
