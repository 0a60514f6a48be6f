package transport

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
	"testing"
)

// notificationHex builds a notification from its fields' hex, spaces
// ignored, so the tables below read like the byte layout in doc.go.
func notificationHex(t testing.TB, s string) []byte {
	t.Helper()
	clean := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' {
			clean = append(clean, s[i])
		}
	}
	b, err := hex.DecodeString(string(clean))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	// state LEADING, leader 3, zxid 0x100000005, electionEpoch 2.
	fixed28 = "00000002 0000000000000003 0000000100000005 0000000000000002"
	cfgText = "server.1=127.0.0.1:2888:3888:participant\nversion=0"
)

func TestNotificationEncode(t *testing.T) {
	n := Notification{State: Leading, Leader: 3, Zxid: 0x100000005, ElectionEpoch: 2, PeerEpoch: 1, Version: 7, Config: cfgText}
	got := n.Encode(nil)
	want := notificationHex(t, fixed28+" 0000000000000001 00000002 00000032"+hex.EncodeToString([]byte(cfgText)))
	if string(got) != string(want) {
		t.Fatalf("Encode = % x\nwant     % x", got, want)
	}
	if len(got) != n.Size() || n.Size() != 44+len(cfgText) {
		t.Fatalf("Size %d, encoding %d bytes", n.Size(), len(got))
	}
	dec, err := DecodeNotification(got)
	if err != nil {
		t.Fatal(err)
	}
	n.Version = NotificationVersion // Encode writes version 2 whatever Version says
	if dec != n {
		t.Fatalf("round trip: %+v, want %+v", dec, n)
	}
}

func TestDecodeNotificationFormats(t *testing.T) {
	base := Notification{State: Leading, Leader: 3, Zxid: 0x100000005, ElectionEpoch: 2}
	with := func(f func(n *Notification)) Notification {
		n := base
		f(&n)
		return n
	}
	cfgHex := hex.EncodeToString([]byte(cfgText))
	for _, tc := range []struct {
		name string
		hex  string
		want Notification
		bad  bool
	}{
		{name: "27 bytes", hex: fixed28[:len(fixed28)-2], bad: true},
		{name: "28 bytes: peerEpoch from zxid", hex: fixed28, want: with(func(n *Notification) { n.PeerEpoch = 1 })},
		{name: "28 bytes: negative zxid keeps its sign", hex: "00000000 0000000000000001 ffffffffffffffff 0000000000000001",
			want: Notification{State: Looking, Leader: 1, Zxid: -1, ElectionEpoch: 1, PeerEpoch: -1}},
		{name: "30 bytes: inside peerEpoch", hex: fixed28 + " 0000", bad: true},
		{name: "36 bytes: no version", hex: fixed28 + " 0000000000000004", bad: true},
		{name: "40 bytes: version not read", hex: fixed28 + " 0000000000000004 00000002",
			want: with(func(n *Notification) { n.PeerEpoch = 4 })},
		{name: "41 bytes, version 1", hex: fixed28 + " 0000000000000004 00000001 ff",
			want: with(func(n *Notification) { n.PeerEpoch = 4; n.Version = 1 })},
		{name: "41 bytes, version 2: no config length", hex: fixed28 + " 0000000000000004 00000002 ff", bad: true},
		{name: "44 bytes, version 2, empty config", hex: fixed28 + " 0000000000000004 00000002 00000000",
			want: with(func(n *Notification) { n.PeerEpoch = 4; n.Version = 2 })},
		{name: "version 2 with config", hex: fixed28 + " 0000000000000004 00000002 00000032" + cfgHex,
			want: with(func(n *Notification) { n.PeerEpoch = 4; n.Version = 2; n.Config = cfgText })},
		{name: "trailing bytes ignored", hex: fixed28 + " 0000000000000004 00000002 00000002 6869 ffff",
			want: with(func(n *Notification) { n.PeerEpoch = 4; n.Version = 2; n.Config = "hi" })},
		{name: "version 1 ignores what follows", hex: fixed28 + " 0000000000000004 00000001 ffffffff 00",
			want: with(func(n *Notification) { n.PeerEpoch = 4; n.Version = 1 })},
		{name: "negative version ignores what follows", hex: fixed28 + " 0000000000000004 ffffffff ffffffff",
			want: with(func(n *Notification) { n.PeerEpoch = 4; n.Version = -1 })},
		{name: "config length negative", hex: fixed28 + " 0000000000000004 00000002 ffffffff", bad: true},
		{name: "config length past the end", hex: fixed28 + " 0000000000000004 00000002 00000003 6869", bad: true},
		{name: "config length above the size", hex: fixed28 + " 0000000000000004 00000002 7fffffff 6869", bad: true},
		{name: "unknown state is decoded, not judged", hex: "00000009 0000000000000003 0000000100000005 0000000000000002",
			want: with(func(n *Notification) { n.State = 9; n.PeerEpoch = 1 })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeNotification(notificationHex(t, tc.hex))
			if tc.bad {
				if !errors.Is(err, ErrBadNotification) {
					t.Fatalf("got %+v, %v; want ErrBadNotification", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v\nwant %+v", got, err, tc.want)
			}
		})
	}
}

func TestStateValid(t *testing.T) {
	for s, want := range map[State]bool{-1: false, Looking: true, Following: true, Leading: true, Observing: true, 4: false} {
		if s.Valid() != want {
			t.Errorf("%v.Valid() = %v", s, !want)
		}
	}
}

// FuzzDecodeNotification checks that decoding never panics and that what
// decodes as version 2 re-encodes as the same bytes, trailing bytes aside.
func FuzzDecodeNotification(f *testing.F) {
	f.Add(notificationHex(f, fixed28))
	f.Add(notificationHex(f, fixed28+" 0000000000000004 00000002"))
	f.Add(notificationHex(f, fixed28+" 0000000000000004 00000002 00000002 6869"))
	f.Add(notificationHex(f, fixed28+" 0000000000000004 00000002 7fffffff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := DecodeNotification(b)
		if err != nil {
			if !errors.Is(err, ErrBadNotification) {
				t.Fatalf("error %v does not wrap ErrBadNotification", err)
			}
			return
		}
		if len(b) < 28 {
			t.Fatalf("%d bytes decoded", len(b))
		}
		if n.Version <= 1 || len(b) == 40 || len(b) == 28 {
			if n.Config != "" {
				t.Fatalf("config %q without version 2", n.Config)
			}
			return
		}
		// Encode writes version 2 whatever version above 1 came in.
		want := slices.Clone(b[:n.Size()])
		binary.BigEndian.PutUint32(want[36:], NotificationVersion)
		if enc := n.Encode(nil); !bytes.Equal(enc, want) {
			t.Fatalf("% x re-encodes as % x", b, enc)
		}
	})
}
