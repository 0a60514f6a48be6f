package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gokeeper/gokeeper/jute"
)

// writePersistence turns the server's txn logs and snapshots (in
// version2, ZooKeeper's dataDir/version-2) into annotated hex text under
// out. Each file keeps every byte of the original in order, split into
// labelled blocks; the preallocated zero tail of a txn log is dropped.
func writePersistence(out, version2, version string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(out, "*.txt"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(version2)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(version2, name))
		if err != nil {
			return err
		}
		var blocks []block
		switch {
		case strings.HasPrefix(name, "log."):
			blocks, err = txnLogBlocks(b)
		case strings.HasPrefix(name, "snapshot."):
			blocks, err = snapshotBlocks(b)
		default:
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		var sb strings.Builder
		fmt.Fprintf(&sb, "# %s from the dataDir of the capture's server, captured by `go run ./jute/internal/capture`.\n", name)
		fmt.Fprintf(&sb, "# Server: %s (Debian package), standalone; restarted once so it snapshots its tree.\n", version)
		fmt.Fprintf(&sb, "# Every byte of the file in order (a txn log without its preallocated zero tail), in labelled blocks of hex.\n")
		for _, bl := range blocks {
			fmt.Fprintf(&sb, "\n%s len=%d\n", bl.label, len(bl.data))
			for off := 0; off < len(bl.data); off += 32 {
				sb.WriteString(hex.EncodeToString(bl.data[off:min(off+32, len(bl.data))]))
				sb.WriteByte('\n')
			}
		}
		path := filepath.Join(out, name+".txt")
		if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
			return err
		}
		log.Printf("wrote %s (%d blocks)", path, len(blocks))
	}
	return nil
}

type block struct {
	label string
	data  []byte
}

// txnLogBlocks splits a txn log: FileHeader, then per txn the Adler32
// checksum (long), the txn bytes as a buffer and the end-of-record byte
// 'B'. A zero checksum and length mark the preallocated tail.
func txnLogBlocks(b []byte) ([]block, error) {
	if len(b) < 16 {
		return nil, fmt.Errorf("%d bytes, no file header", len(b))
	}
	blocks := []block{{"fileheader", b[:16]}}
	off := 16
	for i := 1; off+12 <= len(b); i++ {
		crc := binary.BigEndian.Uint64(b[off:])
		n := int(int32(binary.BigEndian.Uint32(b[off+8:])))
		if crc == 0 && n == 0 {
			break
		}
		end := off + 12 + n + 1
		if n < 0 || end > len(b) {
			return nil, fmt.Errorf("txn %d at offset %d: bad length %d", i, off, n)
		}
		var h jute.TxnHeader
		d := jute.NewDecoder(b[off+12:off+12+n], 0)
		h.Decode(d)
		label := fmt.Sprintf("txn %d %s zxid=0x%x cxid=%d session=0x%x", i, jute.OpCode(h.Type), h.Zxid, h.Cxid, h.ClientId)
		blocks = append(blocks, block{label, b[off:end]})
		off = end
	}
	return blocks, nil
}

// snapshotBlocks splits a snapshot: FileHeader, the session table, the
// ACL cache, one block per znode (path, then data, acl id and
// StatPersisted), the "/" that ends the tree, and the seal (checksum and
// "/"), the zxid digest and its seal.
func snapshotBlocks(b []byte) ([]block, error) {
	d := jute.NewDecoder(b, 0)
	var blocks []block
	mark := 0
	cut := func(label string) {
		blocks = append(blocks, block{label, b[mark:d.Offset()]})
		mark = d.Offset()
	}
	var fh jute.FileHeader
	fh.Decode(d)
	cut("fileheader")
	n := int(d.Int())
	for i := 0; i < n && d.Err() == nil; i++ {
		d.Long()
		d.Int()
	}
	cut(fmt.Sprintf("sessions count=%d", n))
	n = int(d.Int())
	for i := 0; i < n && d.Err() == nil; i++ {
		d.Long()
		for c, j := d.VectorLen(12), 0; j < c; j++ {
			var a jute.ACL
			a.Decode(d)
		}
	}
	cut(fmt.Sprintf("acl cache count=%d", n))
	for d.Err() == nil {
		path := d.String()
		if path == "/" {
			cut("end of tree")
			break
		}
		d.Buffer()
		d.Long()
		var st jute.StatPersisted
		st.Decode(d)
		cut(fmt.Sprintf("node %q", path))
	}
	for seal := 1; d.Err() == nil && d.Remaining() > 0; seal++ {
		d.Long()
		_ = d.String()
		cut(fmt.Sprintf("seal %d", seal))
		if d.Remaining() > 0 {
			d.Long()
			d.Int()
			d.Long()
			cut("zxid digest")
		}
	}
	if d.Err() != nil {
		return nil, d.Err()
	}
	return blocks, nil
}
