package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNoQuorum means an ensemble's members did not settle on one leader
// and followers in time.
var ErrNoQuorum = errors.New("harness: ensemble did not settle on a leader and followers")

// MemberPorts are the loopback ports of one ensemble member: its client
// and AdminServer ports and the two of its server.N line.
type MemberPorts struct {
	Ports
	// Quorum is the port learners connect to when this member leads.
	Quorum int
	// Election is the leader election port.
	Election int
}

// ServerLines renders the server.N lines every member's zoo.cfg carries:
// member N (myid N) is members[N-1], listening on 127.0.0.1.
func ServerLines(members []MemberPorts) string {
	var b strings.Builder
	for i, m := range members {
		fmt.Fprintf(&b, "server.%d=127.0.0.1:%d:%d\n", i+1, m.Quorum, m.Election)
	}
	return b.String()
}

// Ensemble is a running ensemble of one kind of server, started from
// zoo.cfg files that differ only in dataDir and the member's own client
// and AdminServer ports.
type Ensemble struct {
	// Name is "zookeeper" or "gokeeper".
	Name string
	// Members holds the servers by myid-1; member i is named Name.(i+1).
	Members []*Server
	// Ports holds the members' ports, by myid-1.
	Ports []MemberPorts
}

// StartZooKeeperEnsemble starts an ensemble of n Apache ZooKeeper members
// in new directories under dir and waits until one leads and the others
// follow.
func StartZooKeeperEnsemble(dir string, s Settings, n int, ready time.Duration) (*Ensemble, error) {
	if err := ZooKeeperInstalled(); err != nil {
		return nil, err
	}
	return startEnsemble("zookeeper", dir, s, n, ready, zooKeeperCommand)
}

// StartGokeeperEnsemble starts an ensemble of n gokeeper members (the
// binary at bin) in new directories under dir and waits until one leads
// and the others follow. Any failure wraps ErrGokeeperUnavailable.
func StartGokeeperEnsemble(bin, dir string, s Settings, n int, ready time.Duration) (*Ensemble, error) {
	e, err := startEnsemble("gokeeper", dir, s, n, ready, func(string, Settings) (func(string) *exec.Cmd, error) {
		return func(cfg string) *exec.Cmd { return exec.Command(bin, "serve", "--config", cfg) }, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrGokeeperUnavailable, err)
	}
	return e, nil
}

// startEnsemble writes n zoo.cfg files with the same settings and
// server.N lines, a myid in each data dir, starts every member at once
// (command made by mk for the member's directory) and waits for a leader
// and n-1 followers. On failure every member is stopped.
func startEnsemble(name, dir string, s Settings, n int, ready time.Duration, mk func(srvDir string, s Settings) (func(cfg string) *exec.Cmd, error)) (*Ensemble, error) {
	ports, err := freeDistinctPorts(4 * n)
	if err != nil {
		return nil, err
	}
	members := make([]MemberPorts, n)
	for i := range members {
		p := ports[4*i:]
		members[i] = MemberPorts{Ports: Ports{Client: p[0], Admin: p[1]}, Quorum: p[2], Election: p[3]}
	}
	servers := ServerLines(members)
	e := &Ensemble{Name: name, Ports: members}
	for i, m := range members {
		srvDir, err := os.MkdirTemp(dir, fmt.Sprintf("%s-%d-", name, i+1))
		if err != nil {
			e.Stop()
			return nil, err
		}
		dataDir := filepath.Join(srvDir, "data")
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			e.Stop()
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dataDir, "myid"), []byte(strconv.Itoa(i+1)+"\n"), 0o644); err != nil {
			e.Stop()
			return nil, err
		}
		cmd, err := mk(srvDir, s)
		if err != nil {
			e.Stop()
			return nil, err
		}
		srv, err := spawn(fmt.Sprintf("%s.%d", name, i+1), srvDir, s.ZooCfg(dataDir, m.Ports)+servers, m.Ports, cmd)
		if err != nil {
			e.Stop()
			return nil, err
		}
		e.Members = append(e.Members, srv)
	}
	if err := e.WaitServing(ready); err != nil {
		tails := ""
		for _, m := range e.Members {
			tails += fmt.Sprintf("=== %s (%s)\n%s", m.Name, m.Dir, m.LogTail(1500))
		}
		e.Stop()
		return nil, fmt.Errorf("%w: %s: %v\n%s", ErrNoQuorum, name, err, tails)
	}
	return e, nil
}

// Mode returns the "Mode:" srvr reports for srv ("leader", "follower",
// "standalone"), or "" when it does not answer or does not serve.
func Mode(srv *Server) string {
	out, err := FourLetter(srv.Addr, "srvr", 2*time.Second)
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(out, "\n") {
		if m, ok := strings.CutPrefix(l, "Mode: "); ok {
			return strings.TrimSpace(m)
		}
	}
	return ""
}

// Modes returns Mode of every member, by myid-1.
func (e *Ensemble) Modes() []string {
	modes := make([]string, len(e.Members))
	for i, m := range e.Members {
		modes[i] = Mode(m)
	}
	return modes
}

// WaitServing polls srvr on every member until exactly one reports
// "leader" and all the others "follower", a member exits, or timeout
// passes.
func (e *Ensemble) WaitServing(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		modes := e.Modes()
		leaders, followers := 0, 0
		for _, m := range modes {
			switch m {
			case "leader":
				leaders++
			case "follower":
				followers++
			}
		}
		if leaders == 1 && followers == len(modes)-1 {
			return nil
		}
		for _, m := range e.Members {
			if m.Exited() {
				return fmt.Errorf("%s exited: %s", m.Name, m.cmd.ProcessState)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("modes after %v: %q", timeout, modes)
		}
		<-tick.C
	}
}

// Follower returns the follower with the lowest myid, or nil when no
// member reports "follower".
func (e *Ensemble) Follower() *Server {
	for _, m := range e.Members {
		if Mode(m) == "follower" {
			return m
		}
	}
	return nil
}

// Leader returns the member that reports "leader", or nil.
func (e *Ensemble) Leader() *Server {
	for _, m := range e.Members {
		if Mode(m) == "leader" {
			return m
		}
	}
	return nil
}

// Stop stops every member's process group, all at once, and waits for
// them. It is safe on a nil or partly started ensemble and more than once.
func (e *Ensemble) Stop() {
	if e == nil {
		return
	}
	var wg sync.WaitGroup
	for _, m := range e.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.Stop()
		}()
	}
	wg.Wait()
}
