package peer

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gokeeper/gokeeper/jute"
	"github.com/gokeeper/gokeeper/quorum"
	"github.com/gokeeper/gokeeper/quorum/transport"
)

// TestCodecGoldenQuorum decodes every ZAB packet that a real ZooKeeper 3.8
// ensemble exchanged (jute/testdata/quorum) into the core's message and
// encodes it back: the bytes must be ZooKeeper's. Forwarded client
// traffic (REQUEST, SYNC) is the server's, not the core's, and is skipped.
func TestCodecGoldenQuorum(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "jute", "testdata", "quorum", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden quorum streams: %v", err)
	}
	seen := map[jute.PacketType]int{}
	for _, name := range files {
		// quorum-leader<L>-<n>.txt is a learner's connection to leader L,
		// its first packet the learner's FOLLOWERINFO or OBSERVERINFO;
		// l2L packets go from the learner to the leader.
		var leader, n, learner int64
		if _, err := fmt.Sscanf(filepath.Base(name), "quorum-leader%d-%d.txt", &leader, &n); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i, pkt := range readPackets(t, name) {
			if strings.Contains(pkt.label, " SNAPSTREAM ") {
				continue // the snapshot after SNAP, no QuorumPacket
			}
			var p jute.QuorumPacket
			if err := jute.Unmarshal(pkt.data, &p, 0); err != nil {
				t.Fatalf("%s %s: %v", name, pkt.label, err)
			}
			typ := jute.PacketType(p.Type)
			if i == 0 {
				var li jute.LearnerInfo
				if err := jute.Unmarshal(p.Data, &li, 0); err != nil {
					t.Fatalf("%s %s: %v", name, pkt.label, err)
				}
				learner = li.Serverid
			}
			if typ == jute.PacketRequest || typ == jute.PacketSync || typ == jute.PacketRevalidate {
				continue
			}
			from, to := leader, learner
			if strings.HasPrefix(pkt.label, "l2L") {
				from, to = learner, leader
			}
			m, err := DecodePacket(to, from, 7, p)
			if err != nil {
				t.Fatalf("%s %s: %v", name, pkt.label, err)
			}
			back := EncodePacket(m, 0)
			back.Authinfo = p.Authinfo
			if got := back.Encode(nil); !bytes.Equal(got, pkt.data) {
				t.Errorf("%s %s: the core's %v encodes as\n%x\nZooKeeper sent\n%x", name, pkt.label, m, got, pkt.data)
			}
			seen[typ]++
		}
	}
	for _, typ := range []jute.PacketType{jute.PacketFollowerInfo, jute.PacketLeaderInfo, jute.PacketAckEpoch, jute.PacketDiff,
		jute.PacketNewLeader, jute.PacketAck, jute.PacketUpToDate, jute.PacketPing, jute.PacketProposal, jute.PacketCommit,
		jute.PacketObserverInfo, jute.PacketInform, jute.PacketTrunc, jute.PacketSnap} {
		if seen[typ] == 0 {
			t.Errorf("no captured %v packet was checked", typ)
		}
	}
}

// TestCodecCoreMessages checks the payloads the core's own messages carry:
// the ACKEPOCH epoch (including -1), the sender in LearnerInfo, and an
// empty, not null, session table in a learner's PING.
func TestCodecCoreMessages(t *testing.T) {
	for _, m := range []quorum.Message{
		{From: 2, To: 1, Type: jute.PacketAckEpoch, Zxid: 0x300000007, Epoch: -1},
		{From: 2, To: 1, Type: jute.PacketAckEpoch, Zxid: 0x300000007, Epoch: 3},
		{From: 2, To: 1, Type: jute.PacketFollowerInfo, Zxid: 0x400000000},
		{From: 2, To: 1, Type: jute.PacketObserverInfo, Zxid: 0x400000000},
		{From: 1, To: 2, Type: jute.PacketLeaderInfo, Zxid: 0x500000000},
		{From: 1, To: 2, Type: jute.PacketProposal, Zxid: 0x500000001, Data: []byte("txn")},
	} {
		p := EncodePacket(m, 0x100000000)
		got, err := DecodePacket(m.To, m.From, m.Conn, p)
		if err != nil {
			t.Fatalf("%v: %v", m, err)
		}
		if got.String() != m.String() || !bytes.Equal(got.Data, m.Data) {
			t.Errorf("%v came back as %v", m, got)
		}
	}
	if _, err := DecodePacket(1, 2, 0, EncodePacket(quorum.Message{From: 5, Type: jute.PacketFollowerInfo}, 0)); err == nil {
		t.Error("a FOLLOWERINFO naming another server than its sender was accepted")
	}
	if _, err := DecodePacket(1, 2, 0, jute.QuorumPacket{Type: int32(jute.PacketAckEpoch), Data: []byte{1}}); err == nil {
		t.Error("a 1-byte ACKEPOCH was accepted")
	}
	ping := EncodePacket(quorum.Message{Type: jute.PacketPing, Data: []byte{}}, 0)
	if enc := ping.Encode(nil); !bytes.Equal(enc[12:16], []byte{0, 0, 0, 0}) {
		t.Errorf("a learner's empty PING encodes its table as %x, want length 0", enc[12:16])
	}
	v := quorum.Vote{State: quorum.Following, Leader: 3, Zxid: 0x200000004, ElectionEpoch: 9, PeerEpoch: 2}
	n := EncodeVote(v, "version=0")
	back, err := transport.DecodeNotification(n.Encode(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := DecodeVote(back); !ok || got != v {
		t.Errorf("vote %+v came back as %+v (%v)", v, got, ok)
	}
	if _, ok := DecodeVote(transport.Notification{State: 7}); ok {
		t.Error("a notification in state 7 was accepted")
	}
}

type goldenPacket struct {
	label string
	data  []byte
}

func readPackets(tb testing.TB, name string) []goldenPacket {
	f, err := os.Open(name)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var pkts []goldenPacket
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		switch {
		case text == "" || strings.HasPrefix(text, "#"):
		case strings.Contains(text, " "):
			pkts = append(pkts, goldenPacket{label: text})
		default:
			b, err := hex.DecodeString(text)
			if err != nil || len(pkts) == 0 {
				tb.Fatalf("%s: bad hex line %q", name, text)
			}
			pkts[len(pkts)-1].data = append(pkts[len(pkts)-1].data, b...)
		}
	}
	return pkts
}

// TestCodecActivate: COMMITANDACTIVATE carries the designated leader as
// an int64 (ZooKeeper's Leader.commitAndActivate); INFORMANDACTIVATE the
// leader then the proposal's bytes (informAndActivate); both decode back,
// and a payload shorter than the leader id is refused.
func TestCodecActivate(t *testing.T) {
	txn := []byte("txn-bytes")
	for _, m := range []quorum.Message{
		{From: 1, To: 2, Conn: 7, Type: jute.PacketCommitAndActivate, Zxid: 0x100000005, Designated: 3},
		{From: 1, To: 2, Conn: 7, Type: jute.PacketInformAndActivate, Zxid: 0x100000005, Designated: 3, Data: txn},
	} {
		p := EncodePacket(m, 0)
		want := append([]byte{0, 0, 0, 0, 0, 0, 0, 3}, m.Data...)
		if !bytes.Equal(p.Data, want) || p.Zxid != m.Zxid || p.Type != int32(m.Type) {
			t.Errorf("%v encodes as %+v, want data %x", m, p, want)
		}
		back, err := DecodePacket(2, 1, 7, p)
		if err != nil || back.Designated != 3 || !bytes.Equal(back.Data, m.Data) || back.Zxid != m.Zxid || back.Type != m.Type {
			t.Errorf("%v decodes back as %v (%v)", m, back, err)
		}
		p.Data = p.Data[:7]
		if _, err := DecodePacket(2, 1, 7, p); err == nil {
			t.Errorf("%v with 7 bytes decoded", m.Type)
		}
	}
}

// TestConfigText: a membership's text says its version on its last line,
// as ZooKeeper's QuorumVerifier.toString does, whatever version its text
// was written with (a leader versions the static config with its epoch).
func TestConfigText(t *testing.T) {
	m := &quorum.Membership{Version: 0x100000000, Text: []byte("server.1=127.0.0.1:2888:3888:participant\nversion=0")}
	if got, want := string(ConfigText(m)), "server.1=127.0.0.1:2888:3888:participant\nversion=100000000"; got != want {
		t.Errorf("ConfigText = %q, want %q", got, want)
	}
	m.Text = []byte("server.1=127.0.0.1:2888:3888:participant\n")
	if got, want := string(ConfigText(m)), "server.1=127.0.0.1:2888:3888:participant\nversion=100000000"; got != want {
		t.Errorf("ConfigText without a version line = %q, want %q", got, want)
	}
}
