package jute

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// goldenFrame is one frame of a golden file.
type goldenFrame struct {
	file   string
	seq    int
	c2s    bool
	header string // the header line as written by the capture tool
	op     string // op named in the header line
	data   []byte // the whole frame, length prefix included
}

func (f goldenFrame) String() string { return fmt.Sprintf("%s frame %d (%s)", f.file, f.seq, f.header) }

// readGolden parses every file under testdata/golden.
func readGolden(tb testing.TB) map[string][]goldenFrame {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.txt"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		tb.Fatal("no golden files under testdata/golden")
	}
	out := map[string][]goldenFrame{}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			tb.Fatal(err)
		}
		var frames []goldenFrame
		sc := bufio.NewScanner(f)
		for line := 1; sc.Scan(); line++ {
			text := strings.TrimSpace(sc.Text())
			switch {
			case text == "" || strings.HasPrefix(text, "#"):
			case strings.HasPrefix(text, "c2s ") || strings.HasPrefix(text, "s2c "):
				words := strings.Fields(text)
				if len(words) < 4 {
					tb.Fatalf("%s:%d: short header %q", name, line, text)
				}
				seq, err := strconv.Atoi(words[1])
				if err != nil {
					tb.Fatalf("%s:%d: %v", name, line, err)
				}
				frames = append(frames, goldenFrame{
					file: filepath.Base(name), seq: seq, c2s: words[0] == "c2s", header: text, op: words[2],
				})
			default:
				if len(frames) == 0 {
					tb.Fatalf("%s:%d: hex before any header", name, line)
				}
				b, err := hex.DecodeString(text)
				if err != nil {
					tb.Fatalf("%s:%d: %v", name, line, err)
				}
				last := &frames[len(frames)-1]
				last.data = append(last.data, b...)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			tb.Fatal(err)
		}
		out[filepath.Base(name)] = frames
	}
	return out
}

// requestBody returns the record that follows a RequestHeader of op, or
// nil if the request has no body.
func requestBody(op OpCode) (Record, error) {
	switch op {
	case OpCreate, OpCreate2, OpCreateContainer:
		return new(CreateRequest), nil
	case OpCreateTTL:
		return new(CreateTTLRequest), nil
	case OpDelete:
		return new(DeleteRequest), nil
	case OpExists:
		return new(ExistsRequest), nil
	case OpGetData:
		return new(GetDataRequest), nil
	case OpSetData:
		return new(SetDataRequest), nil
	case OpGetACL:
		return new(GetACLRequest), nil
	case OpSetACL:
		return new(SetACLRequest), nil
	case OpGetChildren:
		return new(GetChildrenRequest), nil
	case OpGetChildren2:
		return new(GetChildren2Request), nil
	case OpSync:
		return new(SyncRequest), nil
	case OpCheck:
		return new(CheckVersionRequest), nil
	case OpAuth:
		return new(AuthPacket), nil
	case OpSetWatches:
		return new(SetWatches), nil
	case OpSetWatches2:
		return new(SetWatches2), nil
	case OpAddWatch:
		return new(AddWatchRequest), nil
	case OpGetEphemerals:
		return new(GetEphemeralsRequest), nil
	case OpGetAllChildrenNumber:
		return new(GetAllChildrenNumberRequest), nil
	case OpRemoveWatches:
		return new(RemoveWatchesRequest), nil
	case OpCheckWatches:
		return new(CheckWatchesRequest), nil
	case OpReconfig:
		return new(ReconfigRequest), nil
	case OpPing, OpCloseSession, OpWhoAmI:
		return nil, nil
	}
	return nil, fmt.Errorf("no request body known for op %v", op)
}

// responseBody returns the record that follows a successful ReplyHeader
// for op, or nil if the reply has no body.
func responseBody(op OpCode) (Record, error) {
	switch op {
	case OpCreate:
		return new(CreateResponse), nil
	case OpCreate2, OpCreateContainer, OpCreateTTL:
		return new(Create2Response), nil
	case OpExists:
		return new(ExistsResponse), nil
	case OpGetData:
		return new(GetDataResponse), nil
	case OpSetData:
		return new(SetDataResponse), nil
	case OpGetACL:
		return new(GetACLResponse), nil
	case OpSetACL:
		return new(SetACLResponse), nil
	case OpGetChildren:
		return new(GetChildrenResponse), nil
	case OpGetChildren2:
		return new(GetChildren2Response), nil
	case OpSync:
		return new(SyncResponse), nil
	case OpAddWatch, OpError:
		return new(ErrorResponse), nil
	case OpGetEphemerals:
		return new(GetEphemeralsResponse), nil
	case OpGetAllChildrenNumber:
		return new(GetAllChildrenNumberResponse), nil
	case OpWhoAmI:
		return new(WhoAmIResponse), nil
	case OpNotification:
		return new(WatcherEvent), nil
	case OpDelete, OpCheck, OpPing, OpAuth, OpSetWatches, OpSetWatches2, OpCloseSession, OpRemoveWatches, OpCheckWatches:
		return nil, nil
	}
	return nil, fmt.Errorf("no response body known for op %v", op)
}

// decodeMulti reads a multi body: MultiHeader, op body, ... up to the
// MultiHeader with done set.
func decodeMulti(d *Decoder, body func(OpCode) (Record, error)) ([]Record, error) {
	var recs []Record
	for {
		h := new(MultiHeader)
		h.Decode(d)
		if err := d.Err(); err != nil {
			return nil, err
		}
		recs = append(recs, h)
		if h.Done {
			if h.Type != -1 || h.Err != -1 {
				return nil, fmt.Errorf("multi end marker %+v, want type -1 err -1", h)
			}
			return recs, nil
		}
		r, err := body(OpCode(h.Type))
		if err != nil {
			return nil, err
		}
		if r != nil {
			r.Decode(d)
			recs = append(recs, r)
		}
	}
}

// decodeGoldenFrame decodes one frame's payload (after the length prefix)
// into its records. xidOp maps the connection's request xids to their ops
// and is updated by requests. legacy reports a connect record without the
// trailing readOnly byte.
func decodeGoldenFrame(f goldenFrame, first bool, xidOp map[int32]OpCode) (recs []Record, op string, legacy bool, err error) {
	if len(f.data) < 4 || int(binary.BigEndian.Uint32(f.data)) != len(f.data)-4 {
		return nil, "", false, fmt.Errorf("length prefix does not match the frame's %d bytes", len(f.data))
	}
	body := f.data[4:]
	if first {
		var r Record = new(ConnectResponse)
		if f.c2s {
			r = new(ConnectRequest)
		}
		d := NewDecoder(body, 0)
		r.Decode(d)
		switch {
		case d.Err() == nil && d.Remaining() == 0:
		case errors.Is(d.Err(), ErrShortBuffer) && len(body) == r.Size()-1:
			// A client that predates read-only mode sends no readOnly
			// byte, and ZooKeeper answers it without one.
			legacy = true
		default:
			return nil, "", false, fmt.Errorf("connect: %v, %d trailing bytes", d.Err(), d.Remaining())
		}
		return []Record{r}, "connect", legacy, nil
	}
	d := NewDecoder(body, 0)
	var bodyFn func(OpCode) (Record, error)
	var opc OpCode
	if f.c2s {
		h := new(RequestHeader)
		h.Decode(d)
		recs = append(recs, h)
		opc = OpCode(h.Type)
		xidOp[h.Xid] = opc
		bodyFn = requestBody
	} else {
		h := new(ReplyHeader)
		h.Decode(d)
		recs = append(recs, h)
		if h.Xid == XidNotification {
			opc = OpNotification
		} else {
			o, ok := xidOp[h.Xid]
			if !ok {
				return nil, "", false, fmt.Errorf("reply to unknown xid %d", h.Xid)
			}
			opc = o
		}
		bodyFn = responseBody
		if h.Err != 0 && opc != OpMulti && opc != OpMultiRead {
			// A failed request is answered with the header alone.
			if d.Remaining() != 0 {
				return nil, "", false, fmt.Errorf("error reply %d has %d body bytes", h.Err, d.Remaining())
			}
			return recs, opc.String(), false, d.Err()
		}
	}
	if d.Err() != nil {
		return nil, "", false, d.Err()
	}
	if opc == OpMulti || opc == OpMultiRead {
		rs, err := decodeMulti(d, bodyFn)
		if err != nil {
			return nil, "", false, fmt.Errorf("multi: %w", err)
		}
		recs = append(recs, rs...)
	} else {
		r, err := bodyFn(opc)
		if err != nil {
			return nil, "", false, err
		}
		if r != nil {
			r.Decode(d)
			recs = append(recs, r)
		}
	}
	if d.Err() != nil {
		return nil, "", false, d.Err()
	}
	if d.Remaining() != 0 {
		return nil, "", false, fmt.Errorf("%d bytes left after the records", d.Remaining())
	}
	return recs, opc.String(), false, nil
}

// goldenRecords decodes every golden frame and returns its records, in
// file order. It fails tb on any frame it cannot decode.
func goldenRecords(tb testing.TB) [][]Record {
	tb.Helper()
	var all [][]Record
	for _, frames := range readGolden(tb) {
		xidOp := map[int32]OpCode{}
		seenC2S, seenS2C := false, false
		for _, f := range frames {
			first := (f.c2s && !seenC2S) || (!f.c2s && !seenS2C)
			seenC2S, seenS2C = seenC2S || f.c2s, seenS2C || !f.c2s
			recs, _, _, err := decodeGoldenFrame(f, first, xidOp)
			if err != nil {
				tb.Fatalf("%v: %v", f, err)
			}
			all = append(all, recs)
		}
	}
	return all
}

// TestGoldenFrames decodes every frame that Apache ZooKeeper 3.8 and real
// clients exchanged and re-encodes it byte for byte.
//
// The frames under testdata/golden were captured with
//
//	go run ./jute/internal/capture -out jute/testdata/golden
//
// run from the repository root on a machine with Debian's zookeeper
// 3.8.0, zookeeper-bin and python3-kazoo packages and Java 17. The tool
// starts a standalone ZooKeeper (tickTime=500, extended types enabled) on
// a free 127.0.0.1 port, puts a loopback TCP proxy in front of it and
// drives real clients through the proxy: go-zookeeper v1.0.4 in process
// (no readOnly byte in its connect request, and ZooKeeper answers without
// one; errors, containers, TTL nodes, multi with and without a failing
// op, watch notifications, a ping, and a dropped connection that makes it
// send setWatches), kazoo 2.8.0 (readOnly byte, create2, getChildren, its
// own multi), the Java zkCli.sh once per command and once as an
// interactive session fed on stdin (addWatch, whoAmI, reconfig with null
// strings, removeWatches, and a dropped connection that makes it send
// setWatches2), and the C client cli_mt -r (readOnly = 1). Each
// connection is one file; each frame a header line then the frame's hex.
// The same run restarts the server on its dataDir and writes the txn log
// and snapshots to testdata/persistence (TestGoldenTxnLog,
// TestGoldenSnapshot), then runs three voters and an observer whose quorum
// streams go through recording proxies and writes them to testdata/quorum
// (TestGoldenQuorum). Nothing rewrites these files but that command.
func TestGoldenFrames(t *testing.T) {
	ops := map[string]int{}
	legacyConnects := 0
	for file, frames := range readGolden(t) {
		t.Run(file, func(t *testing.T) {
			xidOp := map[int32]OpCode{}
			seenC2S, seenS2C := false, false
			for _, f := range frames {
				first := (f.c2s && !seenC2S) || (!f.c2s && !seenS2C)
				seenC2S, seenS2C = seenC2S || f.c2s, seenS2C || !f.c2s
				recs, op, legacy, err := decodeGoldenFrame(f, first, xidOp)
				if err != nil {
					t.Fatalf("%v: %v", f, err)
				}
				if op != f.op {
					t.Errorf("%v: decoded as %s", f, op)
				}
				dir := "s2c "
				if f.c2s {
					dir = "c2s "
				}
				ops[dir+op]++
				var enc []byte
				size := 0
				for _, r := range recs {
					enc = r.Encode(enc)
					size += r.Size()
				}
				if legacy {
					legacyConnects++
					if enc[len(enc)-1] != 0 {
						t.Fatalf("%v: legacy connect decoded readOnly = true", f)
					}
					enc, size = enc[:len(enc)-1], size-1
				}
				if size != len(f.data)-4 {
					t.Errorf("%v: records' Size() sums to %d, frame has %d bytes", f, size, len(f.data)-4)
				}
				if !bytes.Equal(enc, f.data[4:]) {
					t.Fatalf("%v: re-encoding differs\n got % x\nwant % x", f, enc, f.data[4:])
				}
			}
		})
	}
	// The capture must cover what the golden test promises.
	for _, want := range []string{
		"c2s connect", "s2c connect", "c2s create", "s2c create", "c2s create2", "s2c create2",
		"c2s createContainer", "c2s createTTL", "c2s getData", "s2c getData",
		"c2s getChildren", "s2c getChildren", "c2s getChildren2", "s2c getChildren2",
		"c2s multi", "s2c multi", "s2c notification", "c2s ping", "s2c ping",
		"c2s setData", "s2c setData", "c2s delete", "c2s exists", "s2c exists",
		"c2s getACL", "s2c getACL", "c2s setACL", "s2c setACL", "c2s setWatches",
		"c2s auth", "s2c auth", "c2s sync", "s2c sync", "c2s closeSession",
		"c2s addWatch", "s2c addWatch", "s2c whoAmI", "s2c getEphemerals", "s2c getAllChildrenNumber",
		"c2s setWatches2", "c2s removeWatches", "c2s reconfig", "s2c reconfig", "s2c closeSession",
	} {
		if ops[want] == 0 {
			t.Errorf("golden files hold no %s frame", want)
		}
	}
	if legacyConnects == 0 {
		t.Error("golden files hold no connect without the readOnly byte")
	}
}

// TestGoldenHandChecked pins a few facts of the captured bytes by hand, so
// that a wrong golden file cannot pass unnoticed.
func TestGoldenHandChecked(t *testing.T) {
	all := readGolden(t)
	find := func(file, prefix string) goldenFrame {
		for _, f := range all[file] {
			if strings.HasPrefix(f.header, prefix) {
				return f
			}
		}
		t.Fatalf("%s has no frame %q", file, prefix)
		return goldenFrame{}
	}
	// go-zookeeper's connect is 44 bytes: it has no readOnly byte.
	f := find("go-zookeeper-1.txt", "c2s 0 connect")
	if len(f.data) != 4+44 {
		t.Errorf("go-zookeeper connect is %d bytes, want 48", len(f.data))
	}
	// kazoo's connect carries the readOnly byte: 45 bytes.
	f = find("kazoo-1.txt", "c2s 0 connect")
	if len(f.data) != 4+45 || f.data[len(f.data)-1] != 0 {
		t.Errorf("kazoo connect is % x, want 45 bytes ending in readOnly=0", f.data)
	}
	// The C client started with -r allows read-only mode: readOnly = 1.
	f = find("cli_mt-1.txt", "c2s 0 connect")
	if len(f.data) != 4+45 || f.data[len(f.data)-1] != 1 {
		t.Errorf("cli_mt -r connect is % x, want 45 bytes ending in readOnly=1", f.data)
	}
	// A NoNode reply is the 16-byte header alone, err -101 (ff ff ff 9b).
	for _, f := range all["go-zookeeper-1.txt"] {
		if strings.Contains(f.header, "err=-101") {
			if len(f.data) != 20 || !bytes.Equal(f.data[16:], []byte{0xff, 0xff, 0xff, 0x9b}) {
				t.Errorf("%v: % x is not a bare NoNode header", f, f.data)
			}
		}
	}
	// A ping request is xid -2, type 11.
	f = find("go-zookeeper-1.txt", "c2s")
	for _, g := range all["go-zookeeper-1.txt"] {
		if g.c2s && g.op == "ping" {
			f = g
		}
	}
	if want := []byte{0, 0, 0, 8, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 11}; !bytes.Equal(f.data, want) {
		t.Errorf("ping request % x, want % x", f.data, want)
	}
}
