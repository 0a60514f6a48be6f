package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokeeper/gokeeper/jute"
)

// ErrSetup wraps failures while preparing the znodes a workload needs.
var ErrSetup = errors.New("bench: setup failed")

// Result is what one run measured. Latencies are in microseconds.
type Result struct {
	Workload  string           `json:"workload"`
	Servers   []string         `json:"servers"`
	Conns     int              `json:"conns"`
	Depth     int              `json:"inflight"`
	ValueSize int              `json:"value_size"`
	Ops       int64            `json:"ops"`
	Seconds   float64          `json:"seconds"`
	OpsPerSec float64          `json:"ops_per_sec"`
	P50       float64          `json:"p50_us"`
	P99       float64          `json:"p99_us"`
	P999      float64          `json:"p999_us"`
	Max       float64          `json:"max_us"`
	Mean      float64          `json:"mean_us"`
	Errors    map[string]int64 `json:"errors,omitempty"`
	// Notifications counts watch events received (watch workload).
	Notifications int64 `json:"notifications,omitempty"`
	// Hist holds every latency the run recorded, in nanoseconds.
	Hist *Histogram `json:"-"`
}

// ErrorCount returns the total number of failed requests.
func (r *Result) ErrorCount() int64 {
	var n int64
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// String formats r as one human-readable line.
func (r *Result) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-12s conns=%-4d inflight=%-3d ops=%-9d %7.2fs %10.0f ops/s  p50=%s p99=%s p99.9=%s max=%s errors=%d",
		r.Workload, r.Conns, r.Depth, r.Ops, r.Seconds, r.OpsPerSec,
		fmtUs(r.P50), fmtUs(r.P99), fmtUs(r.P999), fmtUs(r.Max), r.ErrorCount())
	if r.Notifications > 0 {
		fmt.Fprintf(&sb, " notifications=%d", r.Notifications)
	}
	if len(r.Errors) > 0 {
		keys := make([]string, 0, len(r.Errors))
		for k := range r.Errors {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		sb.WriteString(" (")
		for i, k := range keys {
			if i > 0 {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, "%s: %d", k, r.Errors[k])
		}
		sb.WriteString(")")
	}
	return sb.String()
}

// JSON returns r as one line of JSON.
func (r *Result) JSON() string {
	b, _ := json.Marshal(r)
	return string(b)
}

// fmtUs formats microseconds with a unit that keeps 3 significant digits.
func fmtUs(us float64) string {
	switch {
	case us >= 1e6:
		return strconv.FormatFloat(us/1e6, 'f', 2, 64) + "s"
	case us >= 1e3:
		return strconv.FormatFloat(us/1e3, 'f', 2, 64) + "ms"
	}
	return strconv.FormatFloat(us, 'f', 0, 64) + "us"
}

// Run prepares the znodes the workload needs, runs its timed phase and
// returns what it measured. Progress lines go to progress (may be nil).
func Run(cfg Config, progress io.Writer) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sh := &runShared{cfg: &cfg, tag: strconv.FormatUint(rand.Uint64()&0xffffffffff, 36), value: make([]byte, cfg.ValueSize)}
	for i := range sh.value {
		sh.value[i] = 'a' + byte(i%26)
	}
	if err := setup(sh); err != nil {
		return nil, err
	}
	switch cfg.Workload {
	case WorkWatch:
		return runWatch(sh, progress)
	case WorkChurn:
		return runChurn(sh, progress)
	}
	return runPipelined(sh, progress)
}

// server returns the address session i connects to.
func (c *Config) server(i int) string { return c.Servers[i%len(c.Servers)] }

// setup creates what the workload reads or deletes, through one pipelined
// session per server address used; znodes that already exist are fine.
func setup(sh *runShared) error {
	cfg := sh.cfg
	c, err := Dial(cfg.Servers[0], 512, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSetup, err)
	}
	defer c.Close()
	create := func(path string, n int64, data []byte) error {
		e := encodeFunc(func(b []byte) (jute.OpCode, []byte) {
			if n >= 0 {
				b = appendPath(b, path, n)
			} else {
				b = jute.AppendString(b, path)
			}
			return jute.OpCreate, appendCreateTail(b, data)
		})
		return c.send(e, nil, false)
	}
	for _, p := range []string{cfg.Root, cfg.Root + "/k", cfg.Root + "/c", cfg.Root + "/d", cfg.Root + "/m", cfg.Root + "/watch"} {
		if err := create(p, -1, nil); err != nil {
			return fmt.Errorf("%w: %v", ErrSetup, err)
		}
	}
	switch cfg.Workload {
	case WorkSet, WorkGet, WorkExists, WorkMix, WorkMulti:
		for i := range int64(cfg.Keys) {
			if err := create(cfg.Root+"/k/", i, sh.value); err != nil {
				return fmt.Errorf("%w: %v", ErrSetup, err)
			}
		}
	case WorkChildren1k, WorkChildren10k:
		n, parent := int64(1000), cfg.Root+"/w1k"
		if cfg.Workload == WorkChildren10k {
			n, parent = 10000, cfg.Root+"/w10k"
		}
		if err := create(parent, -1, nil); err != nil {
			return fmt.Errorf("%w: %v", ErrSetup, err)
		}
		for i := range n {
			if err := create(parent+"/child-", i, nil); err != nil {
				return fmt.Errorf("%w: %v", ErrSetup, err)
			}
		}
	case WorkCreate:
		for i := range cfg.Conns {
			if err := create(createParent(cfg.Root, sh.tag, i), -1, nil); err != nil {
				return fmt.Errorf("%w: %v", ErrSetup, err)
			}
		}
	case WorkDelete:
		sh.limit = cfg.Ops
		if sh.limit <= 0 {
			sh.limit = int64(cfg.Keys)
		}
		dir := cfg.Root + "/d/" + sh.tag
		if err := create(dir, -1, nil); err != nil {
			return fmt.Errorf("%w: %v", ErrSetup, err)
		}
		for i := range sh.limit {
			if err := create(dir+"/n", i, nil); err != nil {
				return fmt.Errorf("%w: %v", ErrSetup, err)
			}
		}
	case WorkPopulate:
		sh.limit = cfg.Ops
		for p := range min(sh.limit, populateFanout) {
			if err := create(cfg.Root+"/m/p", p, nil); err != nil {
				return fmt.Errorf("%w: %v", ErrSetup, err)
			}
		}
	}
	if err := c.Drain(); err != nil {
		return fmt.Errorf("%w: %v", ErrSetup, err)
	}
	for code, n := range c.Errors {
		if code != jute.CodeNodeExists {
			return fmt.Errorf("%w: %d creates failed with %v", ErrSetup, n, code)
		}
	}
	return nil
}

// dialAll opens cfg.Conns sessions in parallel.
func dialAll(cfg *Config, depth int, onEvent func(i int) func(jute.EventType, []byte, int64)) ([]*Conn, error) {
	conns := make([]*Conn, cfg.Conns)
	errs := make([]error, cfg.Conns)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var ev func(jute.EventType, []byte, int64)
			if onEvent != nil {
				ev = onEvent(i)
			}
			conns[i], errs[i] = Dial(cfg.server(i), depth, ev)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, c := range conns {
			if c != nil {
				c.Abort()
			}
		}
		return nil, err
	}
	return conns, nil
}

// closeAll ends every session, a few at a time.
func closeAll(conns []*Conn) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, c := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c.Close()
		}()
	}
	wg.Wait()
}

// ticker prints progress lines until stop is closed.
func ticker(w io.Writer, every time.Duration, name string, start time.Time, count func() int64, stop <-chan struct{}) {
	if w == nil || every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	last, lastAt := int64(0), start
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			n := count()
			fmt.Fprintf(w, "  %s: %5.0fs %10d ops %10.0f ops/s\n", name, now.Sub(start).Seconds(), n,
				float64(n-last)/now.Sub(lastAt).Seconds())
			last, lastAt = n, now
		}
	}
}

// runPipelined runs the request/reply workloads: each session's goroutine
// keeps Depth requests in flight until the duration or the op budget is
// used up.
func runPipelined(sh *runShared, progress io.Writer) (*Result, error) {
	cfg := sh.cfg
	conns, err := dialAll(cfg, cfg.Depth, nil)
	if err != nil {
		return nil, err
	}
	var stop atomic.Bool
	var budget atomic.Int64
	budget.Store(cfg.Ops)
	sendErrs := make([]error, len(conns))
	stopTick := make(chan struct{})
	start := time.Now()
	if cfg.Duration > 0 {
		t := time.AfterFunc(cfg.Duration, func() { stop.Store(true) })
		defer t.Stop()
	}
	go ticker(progress, cfg.Progress, cfg.Workload, start, func() int64 {
		var n int64
		for _, c := range conns {
			n += c.Completed.Load()
		}
		return n
	}, stopTick)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWorker(sh, i)
			for !stop.Load() {
				if cfg.Ops > 0 && budget.Add(-1) < 0 {
					break
				}
				if !w.ready() {
					break
				}
				if err := c.send(w, nil, false); err != nil {
					sendErrs[i] = err
					return
				}
			}
			if err := c.Drain(); err != nil {
				sendErrs[i] = err
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopTick)
	closeAll(conns)
	res := newResult(cfg, elapsed)
	for i, c := range conns {
		res.Hist.Merge(&c.Hist)
		for code, n := range c.Errors {
			res.Errors[code.Error()] += n
		}
		if sendErrs[i] != nil {
			res.Errors["send: "+sendErrs[i].Error()]++
		}
	}
	res.finish()
	return res, nil
}

func newResult(cfg *Config, elapsed time.Duration) *Result {
	return &Result{
		Workload: cfg.Workload, Servers: cfg.Servers, Conns: cfg.Conns, Depth: cfg.Depth,
		ValueSize: cfg.ValueSize, Seconds: elapsed.Seconds(), Errors: map[string]int64{}, Hist: &Histogram{},
	}
}

// finish fills in the summary numbers from the histogram.
func (r *Result) finish() {
	h := r.Hist
	r.Ops = int64(h.Count())
	if r.Seconds > 0 {
		r.OpsPerSec = float64(r.Ops) / r.Seconds
	}
	r.P50 = float64(h.Quantile(0.50)) / 1e3
	r.P99 = float64(h.Quantile(0.99)) / 1e3
	r.P999 = float64(h.Quantile(0.999)) / 1e3
	r.Max = float64(h.Max()) / 1e3
	r.Mean = h.Mean() / 1e3
	if len(r.Errors) == 0 {
		r.Errors = nil
	}
}

// runWatch measures watch fan-out: Conns sessions set a data watch on one
// znode, one more session sets its data, and each round's latency is the
// time from sending setData to the arrival of the last notification.
func runWatch(sh *runShared, progress io.Writer) (*Result, error) {
	cfg := sh.cfg
	path := cfg.Root + "/watch"
	var remaining atomic.Int64
	var notes atomic.Int64
	roundDone := make(chan time.Time, 1)
	onEvent := func(int) func(jute.EventType, []byte, int64) {
		return func(typ jute.EventType, p []byte, _ int64) {
			if typ != jute.EventNodeDataChanged || string(p) != path {
				return
			}
			notes.Add(1)
			if remaining.Add(-1) == 0 {
				roundDone <- time.Now()
			}
		}
	}
	watchers, err := dialAll(cfg, 2, onEvent)
	if err != nil {
		return nil, err
	}
	setter, err := Dial(cfg.server(0), 2, nil)
	if err != nil {
		closeAll(watchers)
		return nil, err
	}
	res := newResult(cfg, 0)
	var rounds atomic.Int64
	stopTick := make(chan struct{})
	start := time.Now()
	go ticker(progress, cfg.Progress, cfg.Workload, start, rounds.Load, stopTick)
	getW := func(b []byte) []byte {
		b = jute.AppendString(b, path)
		return jute.AppendBool(b, true)
	}
	setD := func(b []byte) []byte {
		b = jute.AppendString(b, path)
		b = jute.AppendBuffer(b, sh.value)
		return jute.AppendInt(b, -1)
	}
	replies := make(chan Reply, len(watchers))
	getWatch := encodeFunc(func(b []byte) (jute.OpCode, []byte) { return jute.OpGetData, getW(b) })
	for {
		if cfg.Duration > 0 && time.Since(start) >= cfg.Duration || cfg.Ops > 0 && rounds.Load() >= cfg.Ops {
			break
		}
		// Arm: every watcher reads the znode with a watch.
		armed := 0
		for _, w := range watchers {
			if err := w.send(getWatch, replies, true); err != nil {
				res.Errors["send: "+err.Error()]++
				continue
			}
			armed++
		}
		for range armed {
			if r := <-replies; r.Err != jute.CodeOK {
				res.Errors[r.Err.Error()]++
			}
		}
		remaining.Store(int64(armed))
		t0 := time.Now()
		r, err := setter.Call(jute.OpSetData, setD)
		if err != nil || r.Err != jute.CodeOK {
			res.Errors[fmt.Sprintf("setData: %v %v", err, r.Err)]++
			break
		}
		select {
		case t := <-roundDone:
			res.Hist.Record(int64(t.Sub(t0)))
		case <-time.After(10 * time.Second):
			res.Errors["missing notifications"] += remaining.Load()
			remaining.Store(-1 << 40) // this round's late events must not end the next
			select {
			case <-roundDone:
			default:
			}
		}
		rounds.Add(1)
	}
	res.Seconds = time.Since(start).Seconds()
	close(stopTick)
	setter.Close()
	closeAll(watchers)
	res.Notifications = notes.Load()
	res.finish()
	return res, nil
}

// runChurn measures session churn: each of Conns goroutines opens a
// session and closes it, over and over; an op is one connect+close.
func runChurn(sh *runShared, progress io.Writer) (*Result, error) {
	cfg := sh.cfg
	var stop atomic.Bool
	var budget atomic.Int64
	budget.Store(cfg.Ops)
	var done atomic.Int64
	hists := make([]Histogram, cfg.Conns)
	errs := make([]map[string]int64, cfg.Conns)
	stopTick := make(chan struct{})
	start := time.Now()
	if cfg.Duration > 0 {
		t := time.AfterFunc(cfg.Duration, func() { stop.Store(true) })
		defer t.Stop()
	}
	go ticker(progress, cfg.Progress, cfg.Workload, start, done.Load, stopTick)
	var wg sync.WaitGroup
	for i := range cfg.Conns {
		wg.Add(1)
		errs[i] = map[string]int64{}
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if cfg.Ops > 0 && budget.Add(-1) < 0 {
					return
				}
				t0 := time.Now()
				c, err := Dial(cfg.server(i), 1, nil)
				if err != nil {
					errs[i][err.Error()]++
					continue
				}
				if err := c.Close(); err != nil {
					errs[i][err.Error()]++
					continue
				}
				hists[i].Record(int64(time.Since(t0)))
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	close(stopTick)
	res := newResult(cfg, time.Since(start))
	for i := range hists {
		res.Hist.Merge(&hists[i])
		for k, n := range errs[i] {
			res.Errors[k] += n
		}
	}
	res.finish()
	return res, nil
}
