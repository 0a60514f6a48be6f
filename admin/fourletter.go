package admin

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/server"
	"github.com/gokeeper/gokeeper/wire"
)

// FourLetter answers four-letter words for one server.
type FourLetter struct {
	a *Admin
}

// NewFourLetter returns the four-letter-word handler for srv with an
// admin that logs nothing; servers that also run the AdminServer use
// New(...).FourLetter() so that every interface shares one set of
// statistics.
func NewFourLetter(srv *server.Server, conns Connections) *FourLetter {
	return New(srv, conns, zerolog.Nop()).FourLetter()
}

// FourLetter returns the four-letter-word handler.
func (a *Admin) FourLetter() *FourLetter { return &FourLetter{a: a} }

// javaDate is the layout of Java's Date.toString, which dump prints.
const javaDate = "Mon Jan 02 15:04:05 MST 2006"

// Answer returns the text ZooKeeper 3.8 sends for word, honouring
// 4lw.commands.whitelist.
func (f *FourLetter) Answer(word string) string {
	a := f.a
	cfg := a.srv.Config()
	if !cfg.FourLetterWordEnabled(word) {
		return word + " is not executed because it is not in the whitelist.\n"
	}
	var b strings.Builder
	if a.serverState() == "" && word != "ruok" && word != "isro" && word != "gtmk" && word != "stmk" && word != "conf" && word != "envi" {
		// NB: ZooKeeper's member without a running server (electing,
		// syncing) answers this to the words that need one.
		return "This ZooKeeper instance is not currently serving requests\n"
	}
	switch word {
	case "ruok":
		return "imok"
	case "isro":
		if a.srv.ReadOnly() {
			return "ro"
		}
		return "rw"
	case "gtmk":
		return fmt.Sprint(a.traceMask.Load())
	case "stmk":
		// NB: ZooKeeper reads the new mask as 8 bytes after the word; the
		// client port hands us the word only, so stmk answers nothing, as
		// ZooKeeper does when the mask is missing. Use set_trace_mask.
		return ""
	case "hash":
		for _, d := range a.srv.DigestLog() {
			fmt.Fprintf(&b, "%x: %d\n", d.Zxid, d.Digest)
		}
	case "srst":
		a.resetServerStats()
		return "Server stats reset.\n"
	case "crst":
		a.conns.ResetConnectionStats()
		return "Connection stats reset.\n"
	case "srvr", "stat":
		a.writeStat(&b, word == "stat")
	case "cons":
		for _, c := range a.conns.Connections() {
			writeConnection(&b, c, false)
			b.WriteByte('\n')
		}
		b.WriteByte('\n')
	case "mntr":
		for _, f := range a.monitor() {
			fmt.Fprintf(&b, "zk_%s\t%s\n", f.key, mntrValue(f.val))
		}
	case "conf":
		cfg.WriteConf(&b, a.confRuntime())
	case "dirs":
		d, l := a.srv.DirSizes()
		fmt.Fprintf(&b, "datadir_size: %d\nlogdir_size: %d\n", d, l)
	case "dump":
		a.writeDump(&b)
	case "envi":
		b.WriteString("Environment:\n")
		for _, f := range environment() {
			fmt.Fprintf(&b, "%s=%s\n", f.key, f.val)
		}
	case "wchc":
		ws := a.srv.WatchesBySession()
		for _, id := range slices.Sorted(maps.Keys(ws)) {
			fmt.Fprintf(&b, "%s\n", hex(id))
			for _, p := range ws[id] {
				fmt.Fprintf(&b, "\t%s\n", p)
			}
		}
		b.WriteByte('\n')
	case "wchp":
		ws := a.srv.WatchersByPath()
		for _, p := range slices.Sorted(maps.Keys(ws)) {
			fmt.Fprintf(&b, "%s\n", p)
			for _, id := range ws[p] {
				fmt.Fprintf(&b, "\t%s\n", hex(id))
			}
		}
		b.WriteByte('\n')
	case "wchs":
		conns, paths, total := a.srv.Tree().WatchSummary()
		fmt.Fprintf(&b, "%d connections watching %d paths\nTotal watches:%d\n", conns, paths, total)
	default:
		return word + " is not supported by this server.\n"
	}
	return b.String()
}

// confRuntime returns the running server's values that conf prints.
func (a *Admin) confRuntime() server.ConfRuntime {
	d, l := a.srv.DirSizes()
	rt := server.ConfRuntime{DataDirSize: d, DataLogSize: l}
	if ad, ok := a.conns.(interface{ Addr() net.Addr }); ok {
		if ta, ok := ad.Addr().(*net.TCPAddr); ok {
			rt.ClientPort = ta.Port
		}
	}
	return rt
}

// mntrValue formats a monitor value as mntr prints it.
func mntrValue(v any) string {
	if f, ok := v.(float64); ok {
		return javaDouble(f)
	}
	return fmt.Sprint(v)
}

func (a *Admin) writeStat(b *strings.Builder, withClients bool) {
	s := a.srv
	fmt.Fprintf(b, "Zookeeper version: %s\n", FullVersion())
	if a.srv.ReadOnly() {
		b.WriteString("READ-ONLY mode; serving only read-only clients\n")
	}
	if withClients {
		b.WriteString("Clients:\n")
		for _, c := range a.conns.Connections() {
			writeConnection(b, c, true)
			b.WriteByte('\n')
		}
		b.WriteByte('\n')
	}
	minL, avgL, maxL := s.Stats.Latency()
	fmt.Fprintf(b, "Latency min/avg/max: %d/%s/%d\n", int64(minL), javaDouble(avgL), maxL)
	fmt.Fprintf(b, "Received: %d\n", s.Stats.PacketsReceived.Load())
	fmt.Fprintf(b, "Sent: %d\n", s.Stats.PacketsSent.Load())
	fmt.Fprintf(b, "Connections: %d\n", a.conns.ConnectionCount())
	fmt.Fprintf(b, "Outstanding: %d\n", s.OutstandingRequests())
	fmt.Fprintf(b, "Zxid: 0x%x\n", uint64(s.LastZxid()))
	fmt.Fprintf(b, "Mode: %s\n", a.serverState())
	fmt.Fprintf(b, "Node count: %d\n", s.Tree().NodeCount())
}

// interestOps is what ZooKeeper's NIO connection reports as its selector
// interest: OP_READ (1) for a connection serving a session, 0 for one
// that is answering a four-letter word.
func interestOps(c wire.ConnectionInfo) int {
	if c.HasSession {
		return 1
	}
	return 0
}

// processStart anchors lresp/last_response_time, which ZooKeeper prints
// on its monotonic clock (Time.currentElapsedTime).
var processStart = time.Now()

func elapsedMs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Sub(processStart).Milliseconds()
}

// lastOperation returns the four-letter abbreviation ZooKeeper's
// FinalRequestProcessor records for op ("NA" before any request).
func lastOperation(c wire.ConnectionInfo) string {
	if !c.LastOpSet {
		return "NA"
	}
	if s, ok := opAbbrev[c.LastOp]; ok {
		return s
	}
	return "NA"
}

// writeConnection is ServerCnxn.dumpConnectionInfo.
func writeConnection(b *strings.Builder, c wire.ConnectionInfo, brief bool) {
	fmt.Fprintf(b, " /%s[%x](queued=%d,recved=%d,sent=%d", c.RemoteAddr, interestOps(c), c.Queued, c.PacketsReceived, c.PacketsSent)
	if !brief && c.HasSession && c.SessionID != 0 {
		fmt.Fprintf(b, ",sid=%s,lop=%s,est=%d,to=%d", hex(c.SessionID), lastOperation(c), c.Established.UnixMilli(), c.SessionTimeout)
		if c.LastCxid >= 0 {
			fmt.Fprintf(b, ",lcxid=0x%x", c.LastCxid)
		}
		fmt.Fprintf(b, ",lzxid=%s,lresp=%d,llat=%d,minlat=%d,avglat=%d,maxlat=%d",
			hex(c.LastZxid), elapsedMs(c.LastResponse), c.LastLatency, c.MinLatency, c.AvgLatency, c.MaxLatency)
	}
	b.WriteByte(')')
}

// writeDump is the dump word: the session tracker's expiry buckets, the
// ephemerals by session and the connections by expiry.
func (a *Admin) writeDump(b *strings.Builder) {
	buckets, n := a.srv.SessionExpiries()
	fmt.Fprintf(b, "SessionTracker dump:\nSession Sets (%d)/(%d):\n", len(buckets), n)
	for _, e := range buckets {
		fmt.Fprintf(b, "%d expire at %s:\n", len(e.Sessions), e.Time.Format(javaDate))
		for _, id := range e.Sessions {
			fmt.Fprintf(b, "\t%s\n", hex(id))
		}
	}
	eph := a.srv.SessionEphemerals()
	fmt.Fprintf(b, "ephemeral nodes dump:\nSessions with Ephemerals (%d):\n", len(eph))
	for _, id := range slices.Sorted(maps.Keys(eph)) {
		fmt.Fprintf(b, "%s:\n", hex(id))
		for _, p := range eph[id] {
			fmt.Fprintf(b, "\t%s\n", p)
		}
	}
	// NB: ZooKeeper's NIO factory expires idle connections in buckets of
	// their own; gokeeper closes a connection idle for its session
	// timeout, so the buckets are each connection's read deadline,
	// approximated here from its last response.
	conns := a.conns.Connections()
	byExpiry := map[int64][]wire.ConnectionInfo{}
	tick := int64(a.srv.Config().TickTime)
	for _, c := range conns {
		base := c.LastResponse
		if base.IsZero() {
			base = c.Established
		}
		to := int64(c.SessionTimeout)
		if !c.HasSession {
			to = 10000 // the handshake timeout
		}
		at := (base.UnixMilli()+to)/tick*tick + tick
		byExpiry[at] = append(byExpiry[at], c)
	}
	fmt.Fprintf(b, "Connections dump:\nConnections Sets (%d)/(%d):\n", len(byExpiry), len(conns))
	for _, at := range slices.Sorted(maps.Keys(byExpiry)) {
		cs := byExpiry[at]
		fmt.Fprintf(b, "%d expire at %s:\n", len(cs), time.UnixMilli(at).Format(javaDate))
		for _, c := range cs {
			fmt.Fprintf(b, "\tip: /%s sessionId: %s\n", c.RemoteAddr, hex(c.SessionID))
		}
	}
}
