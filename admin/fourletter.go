// Package admin answers ZooKeeper's operator interfaces: four-letter words
// on the client port (and, later, the AdminServer and metrics).
package admin

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/gokeeper/gokeeper/server"
)

// Version is what gokeeper reports where ZooKeeper reports its version.
// It leads with the ZooKeeper release whose protocol it speaks, because
// tools parse that prefix.
const Version = "3.8.0-gokeeper"

// Connections reports the client port's open connections.
type Connections interface {
	ConnectionCount() int
}

// FourLetter answers four-letter words for one server.
type FourLetter struct {
	srv   *server.Server
	conns Connections
}

// NewFourLetter returns the four-letter-word handler for srv.
func NewFourLetter(srv *server.Server, conns Connections) *FourLetter {
	return &FourLetter{srv: srv, conns: conns}
}

// Answer returns the text ZooKeeper sends for word, honouring
// 4lw.commands.whitelist.
func (f *FourLetter) Answer(word string) string {
	cfg := f.srv.Config()
	if !cfg.FourLetterWordEnabled(word) {
		return word + " is not executed because it is not in the whitelist.\n"
	}
	var b strings.Builder
	switch word {
	case "ruok":
		return "imok"
	case "isro":
		return "rw"
	case "srvr", "stat":
		f.writeStat(&b, word == "stat")
	case "mntr":
		f.writeMntr(&b)
	case "conf":
		cfg.WriteConf(&b, server.ConfRuntime{})
	default:
		return word + " is not supported by this server yet.\n"
	}
	return b.String()
}

func (f *FourLetter) writeStat(b *strings.Builder, withClients bool) {
	s := f.srv
	fmt.Fprintf(b, "Zookeeper version: %s\n", Version)
	if withClients {
		b.WriteString("Clients:\n\n")
	}
	minL, avgL, maxL := s.Stats.Latency()
	fmt.Fprintf(b, "Latency min/avg/max: %d/%s/%d\n", int64(minL), javaDouble(avgL), maxL)
	fmt.Fprintf(b, "Received: %d\n", s.Stats.PacketsReceived.Load())
	fmt.Fprintf(b, "Sent: %d\n", s.Stats.PacketsSent.Load())
	fmt.Fprintf(b, "Connections: %d\n", f.conns.ConnectionCount())
	fmt.Fprintf(b, "Outstanding: %d\n", s.OutstandingRequests())
	fmt.Fprintf(b, "Zxid: 0x%x\n", uint64(s.LastZxid()))
	b.WriteString("Mode: standalone\n")
	fmt.Fprintf(b, "Node count: %d\n", s.Tree().NodeCount())
}

func (f *FourLetter) writeMntr(b *strings.Builder) {
	s := f.srv
	t := s.Tree()
	minL, avgL, maxL := s.Stats.Latency()
	kv := func(k string, v any) { fmt.Fprintf(b, "%s\t%v\n", k, v) }
	kv("zk_version", Version)
	kv("zk_server_state", "standalone")
	kv("zk_avg_latency", javaDouble(avgL))
	kv("zk_max_latency", maxL)
	kv("zk_min_latency", int64(minL))
	kv("zk_packets_received", s.Stats.PacketsReceived.Load())
	kv("zk_packets_sent", s.Stats.PacketsSent.Load())
	kv("zk_num_alive_connections", f.conns.ConnectionCount())
	kv("zk_outstanding_requests", s.OutstandingRequests())
	kv("zk_znode_count", t.NodeCount())
	kv("zk_watch_count", t.WatchCount())
	kv("zk_ephemerals_count", t.EphemeralCount())
	kv("zk_approximate_data_size", t.ApproximateDataSize())
	open, maxFD := fileDescriptors()
	kv("zk_open_file_descriptor_count", open)
	kv("zk_max_file_descriptor_count", maxFD)
	kv("zk_uptime", s.Uptime().Milliseconds())
	kv("zk_global_sessions", s.SessionCount())
	kv("zk_last_proposal_size", -1)
}

// javaDouble formats a float the way Java's Double.toString does for
// the small values ZooKeeper prints (always with a fraction digit).
func javaDouble(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// fileDescriptors returns the process's open and maximum file
// descriptors, as ZooKeeper's UnixOperatingSystemMXBean reports them.
func fileDescriptors() (open, max int64) {
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		open = int64(len(ents))
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		max = int64(lim.Cur)
	}
	return open, max
}
