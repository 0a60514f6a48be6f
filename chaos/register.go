package chaos

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/anishathalye/porcupine"
)

// OpKind is a register operation.
type OpKind string

// The register operations. A Read is a plain getData; a SyncRead is a
// sync then a getData on the same session; a FinalRead is a getData once
// the faults healed, writes stopped and every member reached the same
// zxid; Set is setData with version -1, CAS setData with a version.
const (
	Read      OpKind = "read"
	SyncRead  OpKind = "sync-read"
	FinalRead OpKind = "final-read"
	Set       OpKind = "set"
	CAS       OpKind = "cas"
)

// Outcome is what a client learnt of an operation.
type Outcome string

// The outcomes. Unknown (connection loss, session expiry, ...) means a
// write may or may not have happened; a read that fails is not recorded.
const (
	OK         Outcome = "ok"
	BadVersion Outcome = "bad-version"
	Unknown    Outcome = "unknown"
)

// RegOp is one operation on a register key (a znode), as a client saw it.
type RegOp struct {
	Client  int
	Session int64 // the session it ran on (0 if it changed meanwhile)
	Kind    OpKind
	Key     int
	Expect  int32 // CAS: the version expected
	Value   int64 // written, or read
	Outcome Outcome
	Version int32 // the znode's version after a write, or as read
	Mzxid   int64 // the znode's mzxid after a write, or as read
	Call    time.Duration
	Return  time.Duration
}

func (o RegOp) write() bool { return o.Kind == Set || o.Kind == CAS }

func (o RegOp) String() string {
	s := fmt.Sprintf("c%d %s r%d", o.Client, o.Kind, o.Key)
	switch o.Kind {
	case CAS:
		s += fmt.Sprintf(" v%d→%d", o.Expect, o.Value)
	case Set:
		s += fmt.Sprintf(" →%d", o.Value)
	}
	s += " " + string(o.Outcome)
	if o.Outcome == OK {
		s += fmt.Sprintf(" (value %d version %d mzxid %#x)", o.Value, o.Version, o.Mzxid)
	}
	return s + fmt.Sprintf(" [%v, %v] session %#x", o.Call.Round(time.Microsecond), o.Return.Round(time.Microsecond), o.Session)
}

// regState is a register's value and version.
type regState struct {
	value   int64
	version int32
}

// registerModel is a set of registers (znodes holding an integer, initially
// 0 at version 0) under ZooKeeper's guarantee for writes: linearizable.
// Only writes and final reads go through it; the other reads are checked
// by checkReads.
var registerModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[int][]porcupine.Operation{}
		var keys []int
		for _, op := range h {
			k := op.Input.(RegOp).Key
			if _, ok := by[k]; !ok {
				keys = append(keys, k)
			}
			by[k] = append(by[k], op)
		}
		sort.Ints(keys)
		var out [][]porcupine.Operation
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() interface{} { return regState{} },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		s, op := state.(regState), input.(RegOp)
		switch op.Kind {
		case FinalRead:
			return op.Value == s.value && op.Version == s.version, s
		case Set, CAS:
			applies := op.Kind == Set || op.Expect == s.version
			next := s
			if applies {
				next = regState{op.Value, s.version + 1}
			}
			switch op.Outcome {
			case Unknown:
				return true, next
			case BadVersion:
				return !applies, s
			default:
				return applies && op.Version == next.version, next
			}
		}
		return false, s
	},
	DescribeOperation: func(input, output interface{}) string {
		op := input.(RegOp)
		switch op.Kind {
		case FinalRead:
			return fmt.Sprintf("c%d final read → %d (v%d)", op.Client, op.Value, op.Version)
		case CAS:
			return fmt.Sprintf("c%d cas(v%d, %d) → %s v%d", op.Client, op.Expect, op.Value, op.Outcome, op.Version)
		default:
			return fmt.Sprintf("c%d set(%d) → %s v%d", op.Client, op.Value, op.Outcome, op.Version)
		}
	},
	DescribeState: func(state interface{}) string {
		s := state.(regState)
		return fmt.Sprintf("%d (v%d)", s.value, s.version)
	},
}

// linearizable checks the writes and final reads of ops with porcupine.
// It returns the result and what Visualize needs.
func linearizable(ops []RegOp, timeout time.Duration) (porcupine.CheckResult, porcupine.LinearizationInfo) {
	var h []porcupine.Operation
	for _, op := range ops {
		if !op.write() && op.Kind != FinalRead {
			continue
		}
		ret := int64(op.Return)
		if op.Outcome == Unknown {
			// NB: an operation whose outcome is unknown may take effect
			// at any time after its call, or never: it returns after
			// everything else.
			ret = math.MaxInt64
		}
		h = append(h, porcupine.Operation{ClientId: op.Client, Input: op, Output: op.Outcome, Call: int64(op.Call), Return: ret})
	}
	return porcupine.CheckOperationsVerbose(registerModel, h, timeout)
}

// checkReads checks what ZooKeeper promises of every read, on top of the
// linearizable writes, using that a znode's version names its state: each
// version has one value and one mzxid, later versions later mzxids; a
// value is read only if some write wrote it (or it is the initial 0), and
// not before that write was called; a session never sees a version older
// than one it saw before or wrote (sequential consistency, read your
// writes). A read after sync that misses a write acknowledged before the
// sync was called is counted in staleSyncs, not as an anomaly: ZooKeeper
// answers sync from a leader that may not know yet that it was deposed
// (ZOOKEEPER-1675), so sync then read is not linearizable either.
func checkReads(ops []RegOp) (anomalies []string, staleSyncs int) {
	type state struct {
		value int64
		mzxid int64
		by    string
	}
	byKey := map[int]map[int32]state{}
	writes := map[int64]RegOp{} // by the value written (values are unique)
	for _, op := range ops {
		if op.write() {
			writes[op.Value] = op
		}
	}
	note := func(op RegOp) {
		if op.Outcome != OK {
			return
		}
		m := byKey[op.Key]
		if m == nil {
			m = map[int32]state{0: {0, 0, "the initial state"}}
			byKey[op.Key] = m
		}
		if op.Version == 0 {
			// NB: the initial state's mzxid is the setup's create.
			if op.Value != 0 {
				anomalies = append(anomalies, fmt.Sprintf("r%d version 0 holds %d, not the initial 0: %v", op.Key, op.Value, op))
			}
			return
		}
		if s, ok := m[op.Version]; ok {
			if s.value != op.Value || s.mzxid != op.Mzxid {
				anomalies = append(anomalies, fmt.Sprintf("r%d version %d is value %d mzxid %#x to %v, but value %d mzxid %#x to %s",
					op.Key, op.Version, op.Value, op.Mzxid, op, s.value, s.mzxid, s.by))
			}
			return
		}
		m[op.Version] = state{op.Value, op.Mzxid, op.String()}
	}
	for _, op := range ops {
		note(op)
	}
	for k, m := range byKey {
		var vs []int32
		for v := range m {
			if v > 0 {
				vs = append(vs, v)
			}
		}
		sort.Slice(vs, func(i, j int) bool { return vs[i] < vs[j] })
		for i := 1; i < len(vs); i++ {
			if a, b := m[vs[i-1]], m[vs[i]]; a.mzxid >= b.mzxid {
				anomalies = append(anomalies, fmt.Sprintf("r%d version %d has mzxid %#x, not below version %d's %#x", k, vs[i-1], a.mzxid, vs[i], b.mzxid))
			}
		}
	}
	// Reads of values that were never written, or not yet.
	for _, op := range ops {
		if op.write() || op.Outcome != OK || op.Value == 0 {
			continue
		}
		w, ok := writes[op.Value]
		switch {
		case !ok:
			anomalies = append(anomalies, fmt.Sprintf("read a value nobody wrote: %v", op))
		case w.Key != op.Key:
			anomalies = append(anomalies, fmt.Sprintf("read r%d's value on r%d: %v", w.Key, op.Key, op))
		case w.Outcome == BadVersion:
			anomalies = append(anomalies, fmt.Sprintf("read the value of a write that failed (%v): %v", w, op))
		case w.Call > op.Return:
			anomalies = append(anomalies, fmt.Sprintf("read the value of a write called later (%v): %v", w, op))
		}
	}
	// Each session's order, per key.
	type sk struct {
		session int64
		key     int
	}
	last := map[sk]RegOp{}
	byClient := map[int][]RegOp{}
	for _, op := range ops {
		byClient[op.Client] = append(byClient[op.Client], op)
	}
	for _, cops := range byClient {
		sort.Slice(cops, func(i, j int) bool { return cops[i].Call < cops[j].Call })
		for _, op := range cops {
			if op.Outcome != OK || op.Session == 0 || op.Kind == FinalRead {
				continue
			}
			k := sk{op.Session, op.Key}
			if prev, ok := last[k]; ok && op.Version < prev.Version {
				anomalies = append(anomalies, fmt.Sprintf("session went back from version %d (%v) to %d: %v", prev.Version, prev, op.Version, op))
			}
			last[k] = op
		}
	}
	// Reads after sync that miss a write acknowledged before the sync.
	for _, op := range ops {
		if op.Kind != SyncRead || op.Outcome != OK {
			continue
		}
		for _, w := range ops {
			if w.write() && w.Outcome == OK && w.Key == op.Key && w.Return < op.Call && w.Version > op.Version {
				staleSyncs++
				break
			}
		}
	}
	return anomalies, staleSyncs
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
