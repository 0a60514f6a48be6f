// Package bench is gokeeper's load generator: it drives any
// ZooKeeper-compatible server (gokeeper or Apache ZooKeeper) over the
// client protocol with pipelined sessions and measures throughput and
// latency. It speaks the protocol through package jute only, so it sits
// above every other package as a tool: nothing imports it but
// cmd/gokeeper (the `gokeeper bench` subcommand) and the comparison driver
// in bench/compare that `make bench` runs.
package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// ErrConfig wraps every invalid-configuration error.
var ErrConfig = errors.New("bench: invalid configuration")

// Config describes one load-generator run.
type Config struct {
	// Servers are the host:port addresses to connect to; sessions are
	// spread over them round robin.
	Servers []string
	// Workload is one of Workloads.
	Workload string
	// Conns is the number of sessions (each one TCP connection).
	Conns int
	// Depth is the number of requests each session keeps in flight.
	Depth int
	// Duration bounds the timed phase; it ends earlier once Ops requests
	// have been sent.
	Duration time.Duration
	// Ops, if positive, is the number of requests to send in the timed
	// phase (znodes for populate; a delete run deletes Ops znodes, or
	// Keys when Ops is 0).
	Ops int64
	// ValueSize is the size of the data written by create, set, multi,
	// mix and populate.
	ValueSize int
	// Keys is the number of znodes the random-key workloads pick from.
	Keys int
	// ReadPct is the percentage of reads in the mix workload.
	ReadPct int
	// MultiSize is the number of setData ops in one multi.
	MultiSize int
	// Root is the znode under which everything the generator creates lives.
	Root string
	// Progress, if positive, is the interval between progress lines.
	Progress time.Duration
	// Seed seeds the workers' random key choice.
	Seed uint64
	// JSON prints one JSON object per run instead of the text line.
	JSON bool
}

// DefaultConfig returns the settings `gokeeper bench` uses without flags.
func DefaultConfig() Config {
	return Config{
		Servers:   []string{"127.0.0.1:2181"},
		Workload:  WorkGet,
		Conns:     32,
		Depth:     8,
		Duration:  10 * time.Second,
		ValueSize: 100,
		Keys:      10000,
		ReadPct:   90,
		MultiSize: 5,
		Root:      "/bench",
		Progress:  5 * time.Second,
		Seed:      1,
	}
}

// Validate reports the first problem with c, wrapping ErrConfig.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case len(c.Servers) == 0:
		return bad("no servers")
	case !slices.Contains(Workloads, c.Workload):
		return bad("unknown workload %q (one of %s)", c.Workload, strings.Join(Workloads, ", "))
	case c.Conns < 1:
		return bad("conns %d < 1", c.Conns)
	case c.Depth < 1:
		return bad("inflight %d < 1", c.Depth)
	case c.Duration <= 0 && c.Ops <= 0:
		return bad("neither a duration nor an op count")
	case c.Ops < 0:
		return bad("ops %d < 0", c.Ops)
	case c.ValueSize < 0 || c.ValueSize > 1<<20:
		return bad("value size %d outside [0, 1MiB]", c.ValueSize)
	case c.Keys < 1:
		return bad("keys %d < 1", c.Keys)
	case c.ReadPct < 0 || c.ReadPct > 100:
		return bad("read percentage %d outside [0, 100]", c.ReadPct)
	case c.MultiSize < 1:
		return bad("multi size %d < 1", c.MultiSize)
	case c.Workload == WorkPopulate && c.Ops <= 0:
		return bad("populate needs -ops (the number of znodes)")
	case !strings.HasPrefix(c.Root, "/") || strings.HasSuffix(c.Root, "/") || len(c.Root) < 2:
		return bad("root %q must be an absolute znode path other than /", c.Root)
	}
	for _, s := range c.Servers {
		if !strings.Contains(s, ":") {
			return bad("server %q is not host:port", s)
		}
	}
	return nil
}

// ParseFlags parses the `gokeeper bench` command line into a Config,
// starting from DefaultConfig. Errors and -h help go to out.
func ParseFlags(args []string, out io.Writer) (Config, error) {
	c := DefaultConfig()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(out)
	servers := fs.String("servers", strings.Join(c.Servers, ","), "comma-separated host:port list; sessions are spread round robin")
	fs.StringVar(&c.Workload, "workload", c.Workload, "one of: "+strings.Join(Workloads, ", "))
	fs.IntVar(&c.Conns, "conns", c.Conns, "sessions (TCP connections); for watch, the number of watching sessions")
	fs.IntVar(&c.Depth, "inflight", c.Depth, "requests in flight per session (pipelining depth)")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "length of the timed phase (0: run until -ops)")
	fs.Int64Var(&c.Ops, "ops", c.Ops, "requests to send (0: until -duration); znodes for populate and delete")
	fs.IntVar(&c.ValueSize, "value-size", c.ValueSize, "bytes of data per write")
	fs.IntVar(&c.Keys, "keys", c.Keys, "key-space size for set, get, exists, mix and multi (created if missing)")
	fs.IntVar(&c.ReadPct, "read-pct", c.ReadPct, "percentage of reads in the mix workload")
	fs.IntVar(&c.MultiSize, "multi-size", c.MultiSize, "setData ops per multi")
	fs.StringVar(&c.Root, "root", c.Root, "znode under which the generator works")
	fs.DurationVar(&c.Progress, "progress", c.Progress, "interval between progress lines on stderr (0: none)")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed for random key choice")
	fs.BoolVar(&c.JSON, "json", c.JSON, "print one JSON object per run")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("%w: unexpected arguments %q", ErrConfig, fs.Args())
	}
	c.Servers = nil
	for _, s := range strings.Split(*servers, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.Servers = append(c.Servers, s)
		}
	}
	return c, c.Validate()
}
