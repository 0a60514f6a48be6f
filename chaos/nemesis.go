package chaos

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gokeeper/gokeeper/chaos/diskfault"
)

// FaultKind is a kind of fault.
type FaultKind string

// The faults. Who is the member a fault is about (0: whoever leads when
// it starts); Other the second member of a one-way fault.
const (
	Partition FaultKind = "partition" // a minority with Who (Who alone of 3, Who and the next of 5) cut off from the majority both ways
	Bridge    FaultKind = "bridge"    // the members other than Who in two halves cut off from each other; Who sees both
	OneWay    FaultKind = "oneway"    // bytes Who sends Other are lost
	Delay     FaultKind = "delay"     // every peer link delayed by Delay
	Drop      FaultKind = "drop"      // every peer connection of Who closed every 300 ms
	Kill      FaultKind = "kill9"     // Who killed with SIGKILL, restarted when the fault ends
	Pause     FaultKind = "pause"     // Who stopped with SIGSTOP, continued when the fault ends
	Disk      FaultKind = "disk"      // Who's disk fails (Mode); Who restarts when the fault ends
)

// Fault is one fault of a history's schedule.
type Fault struct {
	Kind    FaultKind
	Who     int
	Other   int
	At, For time.Duration
	Delay   time.Duration
	Mode    diskfault.Mode
}

func (f Fault) String() string {
	who := "leader"
	if f.Who != 0 {
		who = fmt.Sprintf("n%d", f.Who)
	}
	var s string
	switch f.Kind {
	case OneWay:
		other := "leader"
		if f.Other != 0 {
			other = fmt.Sprintf("n%d", f.Other)
		}
		s = fmt.Sprintf("oneway(%s→%s)", who, other)
	case Delay:
		s = fmt.Sprintf("delay(%v)", f.Delay)
	case Disk:
		s = fmt.Sprintf("disk-%s(%s)", f.Mode, who)
	default:
		s = fmt.Sprintf("%s(%s)", f.Kind, who)
	}
	return fmt.Sprintf("%s@%.1fs+%.1fs", s, f.At.Seconds(), f.For.Seconds())
}

// Kinds returns the faults a target can have, the likelier ones twice.
// Disk faults need gokeeper's chaos build.
func Kinds(t Target) []FaultKind {
	kinds := []FaultKind{Partition, Partition, Bridge, OneWay, Delay, Drop, Kill, Kill, Pause, Pause}
	if t == Gokeeper {
		kinds = append(kinds, Disk)
	}
	return kinds
}

// Schedule draws a history's faults from rnd, of the given kinds: one to
// three, each starting in the window and lasting 1-4 s (pauses longer
// than syncLimit), possibly overlapping.
func Schedule(rnd *rand.Rand, n int, window time.Duration, kinds []FaultKind) []Fault {
	member := func() int {
		// NB: the leader half the time: it is where faults hurt most.
		if rnd.IntN(2) == 0 {
			return 0
		}
		return 1 + rnd.IntN(n)
	}
	var out []Fault
	for range 1 + rnd.IntN(3) {
		f := Fault{Kind: kinds[rnd.IntN(len(kinds))], Who: member()}
		f.For = time.Second + time.Duration(rnd.Int64N(int64(3*time.Second)))
		f.At = time.Second + time.Duration(rnd.Int64N(int64(window-f.For-time.Second)))
		switch f.Kind {
		case OneWay:
			f.Other = 1 + rnd.IntN(n)
			if f.Who == 0 {
				// from the leader to a member, or the other way
				if rnd.IntN(2) == 0 {
					f.Who, f.Other = f.Other, 0
				}
			}
			if f.Who == f.Other {
				f.Other = f.Who%n + 1
			}
		case Delay:
			f.Delay = time.Duration(20+rnd.IntN(280)) * time.Millisecond
		case Pause:
			f.For += time.Second
		case Disk:
			f.Mode = []diskfault.Mode{diskfault.FsyncError, diskfault.ENOSPC, diskfault.SlowFsync}[rnd.IntN(3)]
		}
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b Fault) int { return int(a.At - b.At) })
	return out
}

// nemesis applies a schedule to a cluster and keeps the timeline.
type nemesis struct {
	c   *Cluster
	rec *recorder

	mu       sync.Mutex // guards what follows
	rnd      *rand.Rand
	timeline []string
	network  []Fault // the network faults in force, members resolved
	disked   bool    // a disk fault was applied
}

func (nm *nemesis) logf(format string, args ...any) {
	nm.mu.Lock()
	defer nm.mu.Unlock()
	nm.timeline = append(nm.timeline, fmt.Sprintf("%8.3fs ", nm.rec.now().Seconds())+fmt.Sprintf(format, args...))
}

// resolve names the member a fault is about: the leader for 0 (or, with
// none, any member).
func (nm *nemesis) resolve(who int) (int, string) {
	if who != 0 {
		return who, fmt.Sprintf("n%d", who)
	}
	if l := nm.c.Leader(); l != 0 {
		return l, fmt.Sprintf("n%d (leader)", l)
	}
	nm.mu.Lock()
	m := 1 + nm.rnd.IntN(nm.c.N)
	nm.mu.Unlock()
	return m, fmt.Sprintf("n%d (no leader)", m)
}

// run applies the faults at their times; it returns when the last one
// ended.
func (nm *nemesis) run(faults []Fault) {
	var wg sync.WaitGroup
	for _, f := range faults {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sleepUntil(nm.rec, f.At)
			end := nm.start(f)
			sleepUntil(nm.rec, f.At+f.For)
			end()
		}()
	}
	wg.Wait()
}

// sleepUntil waits until the recorder's clock reads at.
func sleepUntil(rec *recorder, at time.Duration) { time.Sleep(at - rec.now()) }

// start applies f and returns what ends it.
func (nm *nemesis) start(f Fault) (end func()) {
	who, name := nm.resolve(f.Who)
	f.Who = who
	switch f.Kind {
	case Partition, Bridge, OneWay, Delay:
		if f.Kind == OneWay {
			other, oname := nm.resolve(f.Other)
			if other == who {
				other = who%nm.c.N + 1
				oname = fmt.Sprintf("n%d", other)
			}
			f.Other = other
			name += " → " + oname
		}
		nm.logf("start %s %s", f.Kind, name)
		nm.mu.Lock()
		nm.network = append(nm.network, f)
		nm.applyNetworkLocked()
		nm.mu.Unlock()
		return func() {
			nm.logf("end %s %s", f.Kind, name)
			nm.mu.Lock()
			nm.network = slices.DeleteFunc(nm.network, func(g Fault) bool { return g == f })
			nm.applyNetworkLocked()
			nm.mu.Unlock()
		}
	case Drop:
		nm.logf("start dropping the connections of %s", name)
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				nm.c.Net.DropConnections(who)
				select {
				case <-stop:
					return
				case <-time.After(300 * time.Millisecond):
				}
			}
		}()
		return func() {
			close(stop)
			<-done
			nm.logf("end dropping the connections of %s", name)
		}
	case Kill:
		nm.logf("kill -9 %s", name)
		nm.c.Kill9(who)
		return func() { nm.restart(who, name) }
	case Pause:
		nm.logf("SIGSTOP %s", name)
		nm.c.Pause(who)
		return func() {
			nm.logf("SIGCONT %s", name)
			nm.c.Resume(who)
		}
	case Disk:
		nm.logf("disk %s on %s", f.Mode, name)
		_ = nm.c.SetDisk(who, f.Mode)
		nm.mu.Lock()
		nm.disked = true
		nm.mu.Unlock()
		return func() {
			nm.logf("disk healthy again on %s", name)
			_ = nm.c.SetDisk(who, diskfault.None)
			if f.Mode != diskfault.SlowFsync {
				nm.c.Kill9(who)
				nm.restart(who, name)
			}
		}
	}
	return func() {}
}

func (nm *nemesis) restart(who int, name string) {
	if nm.c.Running(who) {
		return
	}
	if err := nm.c.Start(who); err != nil {
		nm.logf("restart %s failed: %v", name, err)
		return
	}
	nm.logf("restarted %s", name)
}

// applyNetworkLocked makes the proxy's rules those of the network faults
// in force.
func (nm *nemesis) applyNetworkLocked() {
	nw := nm.c.Net
	nw.Heal()
	for _, f := range nm.network {
		// others are the members but Who, from the one after Who on.
		var others []int
		for i := 1; i < nm.c.N; i++ {
			others = append(others, (f.Who+i-1)%nm.c.N+1)
		}
		half := len(others) / 2
		switch f.Kind {
		case Partition:
			minority := append([]int{f.Who}, others[:half-1]...)
			nw.Partition(minority, others[half-1:])
		case Bridge:
			nw.Partition(append([]int{f.Who}, others[:half]...), append([]int{f.Who}, others[half:]...))
		case OneWay:
			nw.Block(f.Who, f.Other)
		case Delay:
			for a := 1; a <= nm.c.N; a++ {
				for b := 1; b <= nm.c.N; b++ {
					if a != b {
						nw.Delay(a, b, f.Delay)
					}
				}
			}
		}
	}
}

// healAll ends every fault: the network heals, paused members continue,
// disks work, members that are down start. It runs after each fault's
// own end, which restarts a member whose disk failed.
func (nm *nemesis) healAll() {
	nm.mu.Lock()
	nm.network = nil
	nm.applyNetworkLocked()
	nm.mu.Unlock()
	for i := 1; i <= nm.c.N; i++ {
		if nm.c.Paused(i) {
			nm.c.Resume(i)
		}
		if nm.c.Target == Gokeeper {
			_ = nm.c.SetDisk(i, diskfault.None)
		}
		if !nm.c.Running(i) {
			nm.restart(i, fmt.Sprintf("n%d", i))
		}
	}
	nm.logf("healed")
}

func (nm *nemesis) String() string {
	nm.mu.Lock()
	defer nm.mu.Unlock()
	return strings.Join(nm.timeline, "\n")
}
