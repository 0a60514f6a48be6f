package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
)

// rawHandshake builds handshake bytes field by field, valid or not.
func rawHandshake(version, sid int64, n int32, addr string) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(version))
	b = binary.BigEndian.AppendUint64(b, uint64(sid))
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	return append(b, addr...)
}

func TestHandshakeEncode(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    Handshake
		want []byte
	}{
		{"v1", Handshake{Version: ProtocolV1, SID: 2, Addrs: []string{"127.0.0.1:3888"}},
			rawHandshake(-65536, 2, 14, "127.0.0.1:3888")},
		{"v2", Handshake{Version: ProtocolV2, SID: 3, Addrs: []string{"127.0.0.1:3888", "[::1]:3889"}},
			rawHandshake(-65535, 3, 25, "127.0.0.1:3888|[::1]:3889")},
		{"bare sid", Handshake{Version: ProtocolBare, SID: 5}, []byte{0, 0, 0, 0, 0, 0, 0, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.h.Encode(nil)
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("Encode = % x, %v\nwant % x", got, err, tc.want)
			}
			back, err := ReadHandshake(bytes.NewReader(got))
			if err != nil || back.Version != tc.h.Version || back.SID != tc.h.SID || !slices.Equal(back.Addrs, tc.h.Addrs) {
				t.Fatalf("ReadHandshake = %+v, %v; want %+v", back, err, tc.h)
			}
		})
	}
	for _, h := range []Handshake{
		{Version: ProtocolV1, SID: 1},
		{Version: ProtocolV1, SID: 1, Addrs: []string{"a:1", "b:2"}},
		{Version: ProtocolV2, SID: 1},
		{Version: ProtocolV2, SID: 1, Addrs: []string{"a:1|b:2"}},
		{Version: ProtocolV2, SID: 1, Addrs: []string{strings.Repeat("a", 2048) + ":1"}},
		{Version: ProtocolBare, SID: -1},
		{Version: ProtocolBare, SID: 1, Addrs: []string{"a:1"}},
		{Version: -3, SID: 1, Addrs: []string{"a:1"}},
	} {
		if b, err := h.Encode(nil); !errors.Is(err, ErrBadHandshake) {
			t.Errorf("Encode(%+v) = % x, %v; want ErrBadHandshake", h, b, err)
		}
	}
}

func TestReadHandshake(t *testing.T) {
	long := strings.Repeat("h", 2048-5) + ":3888"
	for _, tc := range []struct {
		name  string
		in    []byte
		want  Handshake
		bad   bool
		extra int // bytes after the handshake that must stay unread
	}{
		{name: "v1", in: rawHandshake(ProtocolV1, 1, 14, "127.0.0.1:3888"),
			want: Handshake{Version: ProtocolV1, SID: 1, Addrs: []string{"127.0.0.1:3888"}}},
		{name: "v1 then a frame", in: append(rawHandshake(ProtocolV1, 1, 14, "127.0.0.1:3888"), 0, 0, 0, 1, 9),
			want: Handshake{Version: ProtocolV1, SID: 1, Addrs: []string{"127.0.0.1:3888"}}, extra: 5},
		{name: "v1 with two addresses, as ZooKeeper accepts", in: rawHandshake(ProtocolV1, 1, 13, "a:1|[::1]:222"),
			want: Handshake{Version: ProtocolV1, SID: 1, Addrs: []string{"a:1", "[::1]:222"}}},
		{name: "v2 drops wildcards", in: rawHandshake(ProtocolV2, 7, 30, "0.0.0.0:1|[::]:2|10.0.0.1:3888"),
			want: Handshake{Version: ProtocolV2, SID: 7, Addrs: []string{"10.0.0.1:3888"}}},
		{name: "n = 2048", in: rawHandshake(ProtocolV1, 1, 2048, long),
			want: Handshake{Version: ProtocolV1, SID: 1, Addrs: []string{long}}},
		{name: "observer id", in: rawHandshake(ProtocolV1, ObserverID, 3, "a:1"),
			want: Handshake{Version: ProtocolV1, SID: ObserverID, Addrs: []string{"a:1"}}},
		{name: "bare sid 0", in: []byte{0, 0, 0, 0, 0, 0, 0, 0, 0xff}, want: Handshake{}, extra: 1},
		{name: "bare sid", in: []byte{0, 0, 0, 0, 0, 0, 1, 0}, want: Handshake{SID: 256}},
		{name: "other negative version", in: rawHandshake(-65534, 1, 3, "a:1"), bad: true},
		{name: "-1", in: rawHandshake(-1, 1, 3, "a:1"), bad: true},
		{name: "n = 0", in: rawHandshake(ProtocolV1, 1, 0, ""), bad: true},
		{name: "n < 0", in: rawHandshake(ProtocolV1, 1, -1, ""), bad: true},
		{name: "n = 2049", in: rawHandshake(ProtocolV1, 1, 2049, long+"x"), bad: true},
		{name: "short address", in: rawHandshake(ProtocolV1, 1, 14, "127.0.0.1:38"), bad: true},
		{name: "short sid", in: rawHandshake(ProtocolV1, 1, 3, "a:1")[:12], bad: true},
		{name: "short version", in: []byte{0xff, 0xff}, bad: true},
		{name: "empty", in: nil, bad: true},
		{name: "no port", in: rawHandshake(ProtocolV1, 1, 4, "host"), bad: true},
		{name: "bad port", in: rawHandshake(ProtocolV1, 1, 6, "host:x"), bad: true},
		{name: "port too large", in: rawHandshake(ProtocolV1, 1, 10, "host:65536"), bad: true},
		{name: "too many colons", in: rawHandshake(ProtocolV1, 1, 5, "a:1:2"), bad: true},
		{name: "one bad address among good", in: rawHandshake(ProtocolV2, 1, 7, "a:1|b:x"), bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := bytes.NewReader(tc.in)
			got, err := ReadHandshake(r)
			if tc.bad {
				if !errors.Is(err, ErrBadHandshake) {
					t.Fatalf("got %+v, %v; want ErrBadHandshake", got, err)
				}
				return
			}
			if err != nil || got.Version != tc.want.Version || got.SID != tc.want.SID || !slices.Equal(got.Addrs, tc.want.Addrs) {
				t.Fatalf("got %+v, %v\nwant %+v", got, err, tc.want)
			}
			if r.Len() != tc.extra {
				t.Fatalf("%d bytes left unread, want %d", r.Len(), tc.extra)
			}
		})
	}
}

// FuzzReadHandshake checks that reading never panics, never reads past
// the handshake, and that what it accepts encodes back to bytes it reads
// the same way.
func FuzzReadHandshake(f *testing.F) {
	f.Add(rawHandshake(ProtocolV1, 1, 14, "127.0.0.1:3888"))
	f.Add(rawHandshake(ProtocolV2, 2, 25, "127.0.0.1:3888|[::1]:3889"))
	f.Add(rawHandshake(ProtocolV2, 2, 11, "0.0.0.0:1|a"))
	f.Add(rawHandshake(ProtocolV1, 3, 2049, "x"))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		h, err := ReadHandshake(r)
		if err != nil {
			if !errors.Is(err, ErrBadHandshake) {
				t.Fatalf("error %v does not wrap ErrBadHandshake", err)
			}
			return
		}
		consumed := len(b) - r.Len()
		if h.Version == ProtocolBare {
			if consumed != 8 || h.SID < 0 {
				t.Fatalf("bare sid %d after %d bytes", h.SID, consumed)
			}
		} else if n := int(binary.BigEndian.Uint32(b[16:])); consumed != 20+n || n < 1 || n > MaxHandshakeAddr {
			t.Fatalf("consumed %d bytes for an address of %d", consumed, n)
		}
		if h.Version == ProtocolV1 && len(h.Addrs) != 1 {
			return // accepted as ZooKeeper does, but not what a V1 dialer sends
		}
		if h.Version != ProtocolBare && len(h.Addrs) == 0 {
			return // only wildcards: nothing left to send
		}
		enc, err := h.Encode(nil)
		if err != nil {
			t.Fatalf("Encode(%+v): %v", h, err)
		}
		back, err := ReadHandshake(bytes.NewReader(enc))
		if err != nil || back.Version != h.Version || back.SID != h.SID || !slices.Equal(back.Addrs, h.Addrs) {
			t.Fatalf("%+v re-reads as %+v, %v", h, back, err)
		}
	})
}
