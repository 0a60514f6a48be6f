package chaos

import (
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// wr is an acknowledged write of value at version (mzxid = version).
func wr(client int, kind OpKind, expect int32, value int64, out Outcome, version int32, call, ret int) RegOp {
	return RegOp{Client: client, Session: int64(client + 1), Kind: kind, Expect: expect, Value: value, Outcome: out,
		Version: version, Mzxid: int64(version), Call: ms(call), Return: ms(ret)}
}

func rd(client int, kind OpKind, value int64, version int32, call, ret int) RegOp {
	return RegOp{Client: client, Session: int64(client + 1), Kind: kind, Value: value, Outcome: OK,
		Version: version, Mzxid: int64(version), Call: ms(call), Return: ms(ret)}
}

func TestRegisterLinearizability(t *testing.T) {
	for _, tc := range []struct {
		name string
		ops  []RegOp
		want porcupine.CheckResult
	}{
		{"sequential writes and final read", []RegOp{
			wr(0, CAS, 0, 1, OK, 1, 0, 10),
			wr(1, Set, 0, 2, OK, 2, 20, 30),
			wr(0, CAS, 1, 3, BadVersion, 0, 40, 50),
			rd(9, FinalRead, 2, 2, 60, 61),
		}, porcupine.Ok},
		{"concurrent CASes from one version: one wins", []RegOp{
			wr(0, CAS, 0, 1, OK, 1, 0, 10),
			wr(1, CAS, 0, 2, BadVersion, 0, 0, 10),
			rd(9, FinalRead, 1, 1, 60, 61),
		}, porcupine.Ok},
		{"two CASes from one version both acknowledged: a lost write", []RegOp{
			wr(0, CAS, 0, 1, OK, 1, 0, 10),
			wr(1, CAS, 0, 2, OK, 1, 20, 30),
		}, porcupine.Illegal},
		{"an acknowledged write the final read does not see", []RegOp{
			wr(0, Set, 0, 1, OK, 1, 0, 10),
			wr(1, Set, 0, 2, OK, 2, 20, 30),
			rd(9, FinalRead, 1, 1, 60, 61),
		}, porcupine.Illegal},
		{"an unknown write may have happened", []RegOp{
			wr(0, Set, 0, 1, Unknown, 0, 0, 10),
			rd(9, FinalRead, 1, 1, 60, 61),
		}, porcupine.Ok},
		{"an unknown write may not have happened", []RegOp{
			wr(0, Set, 0, 1, Unknown, 0, 0, 10),
			wr(1, CAS, 0, 2, OK, 1, 20, 30),
			rd(9, FinalRead, 2, 1, 60, 61),
		}, porcupine.Ok},
		{"a failed CAS whose version was current", []RegOp{
			wr(0, CAS, 0, 1, BadVersion, 0, 0, 10),
			rd(9, FinalRead, 0, 0, 60, 61),
		}, porcupine.Illegal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, _ := linearizable(tc.ops, 10*time.Second); got != tc.want {
				t.Errorf("linearizable = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCheckReads(t *testing.T) {
	base := []RegOp{
		wr(0, CAS, 0, 1, OK, 1, 0, 10),
		wr(0, Set, 0, 2, OK, 2, 20, 30),
	}
	for _, tc := range []struct {
		name  string
		ops   []RegOp
		want  string // a substring of the one anomaly expected; "" for none
		stale int
	}{
		{"stale reads are sequentially consistent", []RegOp{rd(1, Read, 1, 1, 40, 41), rd(1, Read, 2, 2, 50, 51)}, "", 0},
		{"a session goes back", []RegOp{rd(1, Read, 2, 2, 40, 41), rd(1, Read, 1, 1, 50, 51)}, "session went back", 0},
		{"a writer does not read its write", []RegOp{rd(0, Read, 1, 1, 40, 41)}, "session went back", 0},
		{"two values at one version", []RegOp{rd(1, Read, 7, 2, 40, 41), wr(2, Set, 0, 7, OK, 3, 35, 36)}, "version 2 is value 7", 0},
		{"a value nobody wrote", []RegOp{rd(1, Read, 42, 3, 40, 41)}, "nobody wrote", 0},
		{"a value from the future", []RegOp{rd(1, Read, 5, 3, 40, 41), wr(2, Set, 0, 5, OK, 3, 50, 60)}, "called later", 0},
		{"a sync that misses an earlier write", []RegOp{rd(1, SyncRead, 1, 1, 40, 41)}, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, stale := checkReads(append(append([]RegOp(nil), base...), tc.ops...))
			switch {
			case tc.want == "" && len(got) > 0:
				t.Errorf("anomalies %q, want none", got)
			case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], tc.want)):
				t.Errorf("anomalies %q, want one with %q", got, tc.want)
			}
			if stale != tc.stale {
				t.Errorf("stale syncs = %d, want %d", stale, tc.stale)
			}
		})
	}
}
