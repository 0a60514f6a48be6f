package transport

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gokeeper/gokeeper/jute"
)

// goldenPacket is one packet of a captured quorum connection.
type goldenPacket struct {
	label string // "<l2L|L2l> <seq> <TYPE> zxid=... len=..."
	data  []byte
}

// readGoldenQuorum reads ../../jute/testdata/quorum/*.txt: per file, the
// packets of one learner connection in the order they were captured.
func readGoldenQuorum(tb testing.TB) map[string][]goldenPacket {
	return readGolden(tb, "quorum")
}

// readGolden reads the captured connections in jute/testdata/<dir>/*.txt:
// label lines, each followed by its bytes in hex.
func readGolden(tb testing.TB, dir string) map[string][]goldenPacket {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "jute", "testdata", dir, "*.txt"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no golden streams in %s: %v", dir, err)
	}
	out := map[string][]goldenPacket{}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			tb.Fatal(err)
		}
		var pkts []goldenPacket
		sc := bufio.NewScanner(f)
		for line := 1; sc.Scan(); line++ {
			text := strings.TrimSpace(sc.Text())
			switch {
			case text == "" || strings.HasPrefix(text, "#"):
			case strings.Contains(text, " "):
				pkts = append(pkts, goldenPacket{label: text})
			default:
				b, err := hex.DecodeString(text)
				if err != nil || len(pkts) == 0 {
					tb.Fatalf("%s:%d: bad hex line %q (%v)", name, line, text, err)
				}
				pkts[len(pkts)-1].data = append(pkts[len(pkts)-1].data, b...)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			tb.Fatal(err)
		}
		out[filepath.Base(name)] = pkts
	}
	return out
}

// TestGoldenQuorumStreams replays each direction of every captured learner
// connection through PacketReader, as the bytes arrived (back to back),
// and writes the decoded packets back through PacketWriter: the stream out
// must be the stream in, byte for byte.
func TestGoldenQuorumStreams(t *testing.T) {
	total := 0
	for file, pkts := range readGoldenQuorum(t) {
		for _, dir := range []string{"l2L", "L2l"} {
			var in []byte
			var want []goldenPacket
			for _, p := range pkts {
				if strings.HasPrefix(p.label, dir+" ") {
					in = append(in, p.data...)
					want = append(want, p)
				}
			}
			br := bufio.NewReader(bytes.NewReader(in))
			r := NewPacketReader(br, FieldLimit(0))
			var out bytes.Buffer
			w := NewPacketWriter(&out)
			var qp jute.QuorumPacket
			for i, p := range want {
				if strings.Fields(p.label)[2] == "SNAPSTREAM" {
					// NB: the snapshot after SNAP is read from the same
					// buffered stream, as the peer does.
					snap := make([]byte, len(p.data))
					if _, err := io.ReadFull(br, snap); err != nil || !bytes.Equal(snap, p.data) {
						t.Fatalf("%s: %s: the snapshot read back differs (%v)", file, p.label, err)
					}
					if err := w.Flush(); err != nil {
						t.Fatal(err)
					}
					out.Write(snap)
					continue
				}
				if err := r.Read(&qp); err != nil {
					t.Fatalf("%s: %s: %v", file, p.label, err)
				}
				if typ := strings.Fields(p.label)[2]; jute.PacketType(qp.Type).String() != typ {
					t.Fatalf("%s: %s: read a %v", file, p.label, jute.PacketType(qp.Type))
				}
				if enc := qp.Encode(nil); !bytes.Equal(enc, p.data) {
					t.Fatalf("%s: %s: re-encodes as % x\nwant % x", file, p.label, enc, p.data)
				}
				if err := w.Write(&qp); err != nil {
					t.Fatal(err)
				}
				if i == 0 && out.Len() != 0 {
					t.Fatalf("%s: %d bytes written before Flush", file, out.Len())
				}
			}
			if err := r.Read(&qp); err != io.EOF {
				t.Fatalf("%s %s: after the last packet: %v, want io.EOF", file, dir, err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), in) {
				t.Fatalf("%s %s: %d bytes written back differ from the %d captured", file, dir, out.Len(), len(in))
			}
			total += len(want)
		}
	}
	if total == 0 {
		t.Fatal("no packets")
	}
	t.Logf("%d packets", total)
}

// packetHeader is a QuorumPacket's type and zxid.
func packetHeader(typ jute.PacketType, zxid int64) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(nil, uint32(typ)), uint64(zxid))
}

func appendLen(b []byte, n int32) []byte { return binary.BigEndian.AppendUint32(b, uint32(n)) }

func TestPacketReaderLimits(t *testing.T) {
	const limit = 64
	ping := (&jute.QuorumPacket{Type: int32(jute.PacketPing), Zxid: 1}).Encode(nil)
	withData := func(n int32, data []byte) []byte {
		return appendLen(append(appendLen(packetHeader(jute.PacketProposal, 2), n), data...), -1)
	}
	withIDs := func(count int32, ids ...string) []byte {
		b := appendLen(packetHeader(jute.PacketRequest, -1), -1)
		b = appendLen(b, count)
		for _, s := range ids {
			b = append(appendLen(b, int32(len(s))), s...)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want error // nil: decodes, and the next Read is io.EOF
	}{
		{"null data and authinfo", ping, nil},
		{"data at the limit", withData(limit, make([]byte, limit)), nil},
		{"empty data", withData(0, nil), nil},
		{"authinfo", withIDs(1, "ip", "127.0.0.1"), nil},
		{"data above the limit", withData(limit+1, make([]byte, limit+1)), ErrPacketTooLarge},
		{"data length -2", withData(-2, nil), ErrPacketTooLarge},
		{"huge data length, nothing behind it", withData(0x7fffffff, nil), ErrPacketTooLarge},
		{"authinfo count above the limit", withIDs(limit + 1), ErrPacketTooLarge},
		{"authinfo count -5", withIDs(-5), ErrPacketTooLarge},
		{"authinfo string above the limit", withIDs(1, strings.Repeat("s", limit+1)), ErrPacketTooLarge},
		{"authinfo above the limit in all", withIDs(4, strings.Repeat("s", 30), strings.Repeat("i", 30), strings.Repeat("s", 30), "i"),
			ErrPacketTooLarge},
		{"cut in the header", ping[:7], io.ErrUnexpectedEOF},
		{"cut in the data", withData(10, make([]byte, 3)), io.ErrUnexpectedEOF},
		{"cut in the authinfo", withIDs(2, "ip", "127.0.0.1"), io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewPacketReader(bytes.NewReader(tc.in), limit)
			var qp jute.QuorumPacket
			err := r.Read(&qp)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("Read = %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if enc := qp.Encode(nil); !bytes.Equal(enc, tc.in) {
				t.Fatalf("re-encodes as % x, want % x", enc, tc.in)
			}
			if err := r.Read(&qp); err != io.EOF {
				t.Fatalf("second Read = %v, want io.EOF", err)
			}
		})
	}
}

// TestTimeoutConn checks that a read timeout applies to every Read (as a
// Java socket's SO_TIMEOUT does), and that 0 lifts it.
func TestTimeoutConn(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := NewTimeoutConn(a)
	r := NewPacketReader(c, FieldLimit(0))
	if err := c.SetReadTimeout(10 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var qp jute.QuorumPacket
	if err := r.Read(&qp); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read with nothing sent = %v, want a deadline error", err)
	}
	if err := c.SetReadTimeout(0); err != nil {
		t.Fatal(err)
	}
	sent := &jute.QuorumPacket{Type: int32(jute.PacketAck), Zxid: 0x100000001}
	go func() {
		w := NewPacketWriter(b)
		_ = w.Write(sent)
		_ = w.Flush()
	}()
	if err := r.Read(&qp); err != nil || qp.Type != sent.Type || qp.Zxid != sent.Zxid {
		t.Fatalf("Read = %+v, %v", qp, err)
	}
}

// FuzzPacketReader reads packets from arbitrary bytes until an error: no
// panic, and every packet read re-encodes as the bytes it came from, but
// for a null authinfo string, which jute's Id reads as empty (same size).
func FuzzPacketReader(f *testing.F) {
	for _, pkts := range readGoldenQuorum(f) {
		for i, p := range pkts {
			if i < 12 {
				f.Add(p.data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		src := bytes.NewReader(b)
		r := NewPacketReader(src, 1024)
		consumed := 0
		for {
			var qp jute.QuorumPacket
			if err := r.Read(&qp); err != nil {
				if err == io.EOF && consumed != len(b) {
					t.Fatalf("io.EOF after %d of %d bytes", consumed, len(b))
				}
				return
			}
			enc := qp.Encode(nil)
			if consumed+len(enc) > len(b) {
				t.Fatalf("packet at %d re-encodes as %d bytes, %d left", consumed, len(enc), len(b)-consumed)
			}
			if !bytes.Equal(enc, b[consumed:consumed+len(enc)]) {
				var again jute.QuorumPacket
				if err := NewPacketReader(bytes.NewReader(enc), 1024).Read(&again); err != nil || !reflect.DeepEqual(again, qp) {
					t.Fatalf("packet at %d re-encodes as % x, which reads as %+v, %v", consumed, enc, again, err)
				}
			}
			consumed += len(enc)
		}
	})
}
