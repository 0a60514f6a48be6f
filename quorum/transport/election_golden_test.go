package transport

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// TestGoldenElection decodes the election connections of a real
// three-server ZooKeeper 3.8 ensemble (jute/testdata/quorum/election,
// written by `go run ./jute/internal/capture`): every handshake reads and
// re-encodes byte for byte, and so does every notification, which
// ZooKeeper sends in version 2 with its config text.
func TestGoldenElection(t *testing.T) {
	handshakes, notifications := 0, 0
	for file, recs := range readGolden(t, "quorum/election") {
		for i, rec := range recs {
			label := file + ": " + rec.label
			kind := strings.Fields(rec.label)[2]
			switch kind {
			case "HANDSHAKE":
				if i != 0 || !strings.HasPrefix(rec.label, "d2r ") {
					t.Fatalf("%s: a handshake that is not the dialer's first record", label)
				}
				r := bytes.NewReader(rec.data)
				h, err := ReadHandshake(r)
				if err != nil || r.Len() != 0 {
					t.Fatalf("%s: %+v, %v, %d bytes left", label, h, err, r.Len())
				}
				if h.Version != ProtocolV1 || h.SID <= 0 || len(h.Addrs) != 1 || !strings.HasPrefix(h.Addrs[0], "127.0.0.1:") {
					t.Errorf("%s: %+v", label, h)
				}
				if enc, err := h.Encode(nil); err != nil || !bytes.Equal(enc, rec.data) {
					t.Fatalf("%s: re-encodes as % x, %v", label, enc, err)
				}
				handshakes++
			case "NOTIFICATION":
				if n := int(binary.BigEndian.Uint32(rec.data)); n != len(rec.data)-4 {
					t.Fatalf("%s: frame length %d for %d bytes", label, n, len(rec.data)-4)
				}
				payload := rec.data[4:]
				n, err := DecodeNotification(payload)
				if err != nil {
					t.Fatalf("%s: %v", label, err)
				}
				if n.Version != NotificationVersion || !n.State.Valid() || n.State.String() != strings.Fields(rec.label)[3] ||
					!strings.HasPrefix(n.Config, "server.1=") || !strings.Contains(n.Config, "\nversion=") {
					t.Errorf("%s: %+v", label, n)
				}
				if enc := n.Encode(nil); !bytes.Equal(enc, payload) {
					t.Fatalf("%s: re-encodes as % x\nwant % x", label, enc, payload)
				}
				notifications++
			default:
				t.Fatalf("%s: unknown record", label)
			}
		}
	}
	if handshakes == 0 || notifications == 0 {
		t.Fatalf("%d handshakes and %d notifications captured", handshakes, notifications)
	}
}

// TestGoldenElectionIntoManager plays what each captured ZooKeeper dialer
// sent into a Manager with a smaller sid, which keeps the connection and
// delivers every notification as it came.
func TestGoldenElectionIntoManager(t *testing.T) {
	for file, recs := range readGolden(t, "quorum/election") {
		var stream []byte
		var want [][]byte
		for _, rec := range recs {
			if strings.HasPrefix(rec.label, "d2r ") {
				stream = append(stream, rec.data...)
				if strings.Fields(rec.label)[2] == "NOTIFICATION" {
					want = append(want, rec.data[4:])
				}
			}
		}
		if len(want) == 0 {
			continue
		}
		t.Run(file, func(t *testing.T) {
			c := newCluster(t, 0)
			m := c.mgrs[0]
			h, err := ReadHandshake(bytes.NewReader(stream))
			if err != nil {
				t.Fatal(err)
			}
			nc := rawDial(t, m)
			if _, err := nc.Write(stream); err != nil {
				t.Fatal(err)
			}
			for _, w := range want {
				msg := recvOne(t, m)
				if msg.From != h.SID || !bytes.Equal(msg.Data, w) {
					t.Fatalf("received %d bytes from %d, want %d from %d", len(msg.Data), msg.From, len(w), h.SID)
				}
			}
		})
	}
}
