package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gokeeper/gokeeper/quorum/transport"
)

// ErrInvalidConfig is wrapped by every error that Validate and the zoo.cfg
// parser return for a bad or missing configuration value.
var ErrInvalidConfig = errors.New("server: invalid config")

// ConfigError reports one bad configuration value. Its text names the key,
// e.g. `invalid value "abc" for tickTime: not an integer`, so an operator
// knows which line of zoo.cfg to fix.
type ConfigError struct {
	// Key is the zoo.cfg key (or environment variable) at fault.
	Key string
	// Value is the offending value as written; empty for a missing key.
	Value string
	// Reason says what is wrong with Value, e.g. "not an integer".
	Reason string
}

// Error formats the error with the key, the value and the reason.
func (e *ConfigError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s: %s", e.Key, e.Reason)
	}
	return fmt.Sprintf("invalid value %q for %s: %s", e.Value, e.Key, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalidConfig) hold for every ConfigError.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

func configErr(key, value, reason string) error {
	return &ConfigError{Key: key, Value: value, Reason: reason}
}

// LearnerType is a quorum member's role. Its values are the ordinals of
// ZooKeeper's QuorumPeer.LearnerType, which the `conf` command prints as
// peerType.
type LearnerType int

const (
	// LearnerParticipant votes in elections and in commits.
	LearnerParticipant LearnerType = 0
	// LearnerObserver replicates and serves reads but never votes.
	LearnerObserver LearnerType = 1
)

// String returns ZooKeeper's spelling of the role in server.N lines.
func (t LearnerType) String() string {
	if t == LearnerObserver {
		return "observer"
	}
	return "participant"
}

// ServerAddress is one host:quorumPort:electionPort triple of a server.N
// line. ZooKeeper 3.6+ allows several, separated by '|', when
// multiAddress.enabled is true.
type ServerAddress struct {
	// Host is the host name or IP literal (IPv6 without brackets).
	Host string
	// QuorumPort is the port followers connect to on the leader.
	QuorumPort int
	// ElectionPort is the port for fast leader election.
	ElectionPort int
}

// QuorumServer is one `server.N=...` entry: the member's id, its quorum
// and election addresses, its role and the client addresses it advertises.
type QuorumServer struct {
	// ID is the N of server.N, the member's myid.
	ID int64
	// Addrs holds the member's quorum/election addresses; at least one.
	Addrs []ServerAddress
	// Type is participant unless the line ends in ":observer".
	Type LearnerType
	// ClientHost is the client address after ';' ("0.0.0.0" when only a
	// port is given); empty when the line has no client part.
	ClientHost string
	// ClientPort is the client port after ';'; 0 when the line has none.
	ClientPort int
	// SecureClientHost is the TLS client address after a second ';'.
	SecureClientHost string
	// SecureClientPort is the TLS client port after a second ';'; 0 if none.
	SecureClientPort int
}

// hostPort joins host and port the way ZooKeeper prints addresses,
// bracketing IPv6 literals.
func hostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// String renders the member the way ZooKeeper's QuorumServer.toString does
// in the `conf` membership list and in dynamic config files:
// host:quorumPort:electionPort:type[;clientHost:clientPort[;secureHost:securePort]].
func (s QuorumServer) String() string {
	var b strings.Builder
	addrs := append([]ServerAddress(nil), s.Addrs...)
	sort.SliceStable(addrs, func(i, j int) bool { return addrs[i].Host < addrs[j].Host })
	for i, a := range addrs {
		if i > 0 {
			b.WriteByte('|')
		}
		b.WriteString(hostPort(a.Host, a.QuorumPort))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(a.ElectionPort))
	}
	b.WriteByte(':')
	b.WriteString(s.Type.String())
	if s.ClientPort != 0 {
		b.WriteByte(';')
		b.WriteString(hostPort(s.ClientHost, s.ClientPort))
	}
	if s.SecureClientPort != 0 {
		if s.ClientPort == 0 {
			b.WriteByte(';')
		}
		b.WriteByte(';')
		b.WriteString(hostPort(s.SecureClientHost, s.SecureClientPort))
	}
	return b.String()
}

// splitHostPort splits "host:port...", "[v6]:port..." or a bare "port"
// into its colon-separated parts, as ZooKeeper's ConfigUtils.getHostAndPort
// does.
func splitHostPort(s string) ([]string, error) {
	if strings.HasPrefix(s, "[") {
		i := strings.IndexByte(s, ']')
		if i < 0 {
			return nil, errors.New("starts with '[' but has no matching ']'")
		}
		rest := s[i+1:]
		if rest == "" {
			return []string{s[1:i]}, nil
		}
		if !strings.HasPrefix(rest, ":") || len(rest) == 1 {
			return nil, errors.New("no port after ']:'")
		}
		return append([]string{s[1:i]}, strings.Split(rest[1:], ":")...), nil
	}
	return strings.Split(s, ":"), nil
}

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("port %q is not an integer", s)
	}
	if p < 0 || p > 65535 {
		return 0, fmt.Errorf("port %d is out of range", p)
	}
	return p, nil
}

// parseClientAddr parses the client part of a server.N line: "port" or
// "host:port". A bare port listens on every address, 0.0.0.0.
func parseClientAddr(s string) (string, int, error) {
	parts, err := splitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	if len(parts) > 2 {
		return "", 0, fmt.Errorf("client address %q is not port or host:port", s)
	}
	host := "0.0.0.0"
	if len(parts) == 2 {
		host = parts[0]
	}
	port, err := parsePort(parts[len(parts)-1])
	if err != nil {
		return "", 0, err
	}
	return host, port, nil
}

// ParseQuorumServer parses the value of a `server.N` key:
// host:quorumPort:electionPort[:participant|observer] (several joined by
// '|' when multiAddress is true), optionally followed by
// ";[clientHost:]clientPort" and ";[secureHost:]securePort". The
// reconfig operation sends members in the same format. Errors wrap
// ErrInvalidConfig and name the key server.N.
func ParseQuorumServer(id int64, value string, multiAddress bool) (QuorumServer, error) {
	key := "server." + strconv.FormatInt(id, 10)
	bad := func(reason string) (QuorumServer, error) {
		return QuorumServer{}, configErr(key, value, reason)
	}
	qs := QuorumServer{ID: id}
	parts := strings.Split(strings.TrimSpace(value), ";")
	if len(parts) > 3 {
		return bad("more than two ';' separated client parts")
	}
	if len(parts) >= 2 && parts[1] != "" {
		h, p, err := parseClientAddr(parts[1])
		if err != nil {
			return bad(err.Error())
		}
		qs.ClientHost, qs.ClientPort = h, p
	}
	if len(parts) == 3 && parts[2] != "" {
		h, p, err := parseClientAddr(parts[2])
		if err != nil {
			return bad(err.Error())
		}
		qs.SecureClientHost, qs.SecureClientPort = h, p
	}
	addrs := strings.Split(parts[0], "|")
	if len(addrs) > 1 && !multiAddress {
		return bad("several addresses given but multiAddress.enabled is false")
	}
	typeSet := false
	for _, a := range addrs {
		f, err := splitHostPort(a)
		if err != nil {
			return bad(err.Error())
		}
		if len(f) < 3 || len(f) > 4 {
			return bad("want host:quorumPort:electionPort[:participant|observer][;[clientHost:]clientPort]")
		}
		qp, err := parsePort(f[1])
		if err != nil {
			return bad(err.Error())
		}
		ep, err := parsePort(f[2])
		if err != nil {
			return bad(err.Error())
		}
		if qp == ep {
			return bad("quorum and election port must be different")
		}
		if len(f) == 4 {
			var t LearnerType
			switch strings.ToLower(strings.TrimSpace(f[3])) {
			case "participant":
				t = LearnerParticipant
			case "observer":
				t = LearnerObserver
			default:
				return bad("unrecognised peer type " + strconv.Quote(f[3]))
			}
			if typeSet && t != qs.Type {
				return bad("all addresses of one server must have the same role")
			}
			qs.Type, typeSet = t, true
		}
		qs.Addrs = append(qs.Addrs, ServerAddress{Host: f[0], QuorumPort: qp, ElectionPort: ep})
	}
	return qs, nil
}

// UnsetServerID is Config.ServerID when there is no myid: a standalone
// server, which reports serverId=0 in `conf`.
const UnsetServerID int64 = -1

// FourLetterWords lists every four-letter word ZooKeeper knows; a
// whitelist of "*" enables all of them.
var FourLetterWords = []string{
	"conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "isro",
	"mntr", "ruok", "srst", "srvr", "stat", "stmk", "wchc", "wchp", "wchs",
}

// Config is a gokeeper server's configuration: the keys of ZooKeeper's
// zoo.cfg (QuorumPeerConfig) plus the zookeeper.* system properties that
// ZooKeeper also accepts as zoo.cfg keys. Field names follow the zoo.cfg
// key; times are milliseconds as in zoo.cfg unless the type says
// otherwise. Build one with DefaultConfig, change fields, then Validate.
type Config struct {
	// ConfigFile is the zoo.cfg this was read from; empty when built from
	// the environment or in code.
	ConfigFile string

	// TickTime (tickTime) is the basic time unit in ms: heartbeats,
	// session expiry buckets, initLimit and syncLimit count in ticks.
	// ZooKeeper's default when the key is absent is 3000.
	TickTime int
	// InitLimit (initLimit) is how many ticks a follower may take to
	// connect and sync to the leader. Required in an ensemble.
	InitLimit int
	// SyncLimit (syncLimit) is how many ticks a follower may lag behind
	// the leader before it is dropped. Required in an ensemble.
	SyncLimit int
	// ConnectToLearnerMasterLimit (connectToLearnerMasterLimit) is the
	// ticks a follower may take to connect to the leader after an
	// election; 0 means InitLimit.
	ConnectToLearnerMasterLimit int

	// DataDir (dataDir) holds snapshots, myid and, unless DataLogDir is
	// set, the txn log. Required.
	DataDir string
	// DataLogDir (dataLogDir) holds the txn log; defaults to DataDir.
	DataLogDir string

	// ClientPort (clientPort) is the plaintext client port; 0 when unset
	// (then it may come from this server's server.N line).
	ClientPort int
	// ClientPortAddress (clientPortAddress) is the address the client
	// port binds to; empty means all addresses.
	ClientPortAddress string
	// SecureClientPort (secureClientPort) is the TLS client port; 0 when
	// unset. `conf` prints -1 for it then.
	SecureClientPort int
	// SecureClientPortAddress (secureClientPortAddress) is the address the
	// TLS client port binds to; empty means all addresses.
	SecureClientPortAddress string
	// ClientPortListenBacklog (clientPortListenBacklog) is the listen
	// backlog of the client socket; -1 means the OS default.
	ClientPortListenBacklog int
	// MaxClientCnxns (maxClientCnxns) caps concurrent connections from one
	// client IP; 0 means no limit. Default 60.
	MaxClientCnxns int
	// MaxCnxns (maxCnxns, zookeeper.maxCnxns) caps all concurrent client
	// connections of the server; 0 means no limit.
	MaxCnxns int
	// MinSessionTimeout (minSessionTimeout) is the least session timeout a
	// client may negotiate, in ms; -1 means 2*TickTime.
	MinSessionTimeout int
	// MaxSessionTimeout (maxSessionTimeout) is the greatest session
	// timeout a client may negotiate, in ms; -1 means 20*TickTime.
	MaxSessionTimeout int
	// LocalSessionsEnabled (localSessionsEnabled) lets sessions that
	// create no ephemerals live only on the server they connect to.
	LocalSessionsEnabled bool
	// LocalSessionsUpgradingEnabled (localSessionsUpgradingEnabled)
	// upgrades a local session to a global one when it needs to.
	LocalSessionsUpgradingEnabled bool

	// GlobalOutstandingLimit (globalOutstandingLimit) caps queued requests
	// across the ensemble before clients are throttled. Default 1000.
	GlobalOutstandingLimit int
	// SnapCount (snapCount) is the number of txns logged between
	// snapshots (randomised in [SnapCount/2+1, SnapCount]); at least 2.
	SnapCount int
	// SnapSizeLimitInKb (snapSizeLimitInKb) also triggers a snapshot once
	// this many KiB of txns are logged (randomised in (limit/2, limit]);
	// <= 0 disables it. Default 4 GiB.
	SnapSizeLimitInKb int64
	// TxnLogSizeLimitInKb (txnLogSizeLimitInKb) rolls the txn log at this
	// size; -1 (default) disables it.
	TxnLogSizeLimitInKb int64
	// PreAllocSizeKb (preAllocSize) is the txn log preallocation block in
	// KiB. Default 65536 (64 MiB).
	PreAllocSizeKb int64
	// CommitLogCount (commitLogCount) is how many committed proposals the
	// leader keeps in memory for fast follower sync. Default 500.
	CommitLogCount int
	// AutopurgeSnapRetainCount (autopurge.snapRetainCount) is how many
	// recent snapshots (and their logs) autopurge keeps; at least 3.
	AutopurgeSnapRetainCount int
	// AutopurgePurgeInterval (autopurge.purgeInterval) is how often
	// autopurge runs; 0 disables it. A bare number in zoo.cfg is hours;
	// 3.10's ms/s/m/h/d suffixes are accepted.
	AutopurgePurgeInterval time.Duration
	// ForceSync (forceSync, yes|no) fsyncs the txn log before a write is
	// acknowledged. Default yes.
	ForceSync bool
	// FsyncWarningThresholdMs (fsync.warningthresholdms) logs a warning
	// for any fsync slower than this. Default 1000.
	FsyncWarningThresholdMs int64
	// JuteMaxBuffer (jute.maxbuffer) is the largest znode payload and
	// request the server accepts, in bytes. Default 0xfffff. ZooKeeper
	// reads it only as a JVM property; gokeeper also takes it in zoo.cfg.
	JuteMaxBuffer int

	// FourLetterWordsWhitelist (4lw.commands.whitelist) is the
	// comma-separated list of enabled four-letter words, "*" for all.
	// srvr is always enabled (zkServer.sh status needs it). Use
	// FourLetterWordEnabled to test a word.
	FourLetterWordsWhitelist string

	// AdminEnableServer (admin.enableServer) starts the HTTP AdminServer.
	// Default true, as in ZooKeeper 3.8 and 3.9.
	AdminEnableServer bool
	// AdminServerAddress (admin.serverAddress) is the AdminServer's bind
	// address. Default 0.0.0.0.
	AdminServerAddress string
	// AdminServerPort (admin.serverPort) is the AdminServer's port.
	// Default 8080.
	AdminServerPort int
	// AdminCommandURL (admin.commandURL) is the URL prefix of the
	// commands. Default /commands.
	AdminCommandURL string
	// AdminIdleTimeoutMs (admin.idleTimeout) closes idle AdminServer
	// connections. Default 30000.
	AdminIdleTimeoutMs int

	// MetricsProviderClassName (metricsProvider.className) selects the
	// metrics provider; ZooKeeper's Prometheus provider class turns on
	// gokeeper's Prometheus endpoint.
	MetricsProviderClassName string
	// MetricsProviderHTTPHost (metricsProvider.httpHost) is the
	// Prometheus endpoint's bind address. Default 0.0.0.0.
	MetricsProviderHTTPHost string
	// MetricsProviderHTTPPort (metricsProvider.httpPort) is the Prometheus
	// endpoint's port. Default 7000.
	MetricsProviderHTTPPort int
	// MetricsProviderExportJvmInfo (metricsProvider.exportJvmInfo) is kept
	// for compatibility; gokeeper exports Go runtime metrics instead.
	MetricsProviderExportJvmInfo bool
	// MetricsProviderConfig holds every other metricsProvider.* key,
	// without the prefix.
	MetricsProviderConfig map[string]string

	// ServerID is this server's myid (dataDir/myid, or ZOO_MY_ID);
	// UnsetServerID for a standalone server without one.
	ServerID int64
	// Servers lists the ensemble's server.N entries sorted by ID; empty or
	// a single participant means standalone (if StandaloneEnabled).
	Servers []QuorumServer
	// ConfigVersion is the dynamic config version (the hex suffix of the
	// dynamic config file name, or its version key); 0 when none.
	ConfigVersion int64
	// DynamicConfigFile (dynamicConfigFile) names the file that holds the
	// server.N lines when reconfig is in use.
	DynamicConfigFile string
	// PeerType (peerType) is this server's role; the server.N line wins
	// when they disagree.
	PeerType LearnerType
	// StandaloneEnabled (standaloneEnabled) runs a config with a single
	// participant as a standalone server. Default true.
	StandaloneEnabled bool
	// ReconfigEnabled (reconfigEnabled) allows the reconfig operation.
	// Default false.
	ReconfigEnabled bool
	// ElectionAlg (electionAlg) must be 3, fast leader election over TCP.
	ElectionAlg int
	// QuorumListenOnAllIPs (quorumListenOnAllIPs) binds the quorum and
	// election ports on all addresses instead of the configured host.
	QuorumListenOnAllIPs bool
	// ObserverMasterPort (observerMasterPort) lets followers serve
	// observers on this port; 0 disables it.
	ObserverMasterPort int
	// SyncEnabled (syncEnabled) makes observers log txns and snapshot like
	// participants. Default true.
	SyncEnabled bool
	// LeaderServes (leaderServes, yes|no) lets the leader accept client
	// connections. Default yes.
	LeaderServes bool
	// MultiAddressEnabled (multiAddress.enabled) allows several '|'
	// separated addresses per server.N. Default false.
	MultiAddressEnabled bool

	// SkipACL (skipACL, yes|no) turns off all ACL checks. Default no.
	SkipACL bool
	// SuperDigest (DigestAuthenticationProvider.superDigest) is
	// "super:<base64 sha1>"; a client that authenticates as that digest
	// user bypasses ACLs. Empty disables it.
	SuperDigest string
	// EnforceQuota (enforceQuota) rejects writes over a hard quota with
	// QuotaExceeded instead of only logging. Default false.
	EnforceQuota bool
	// ExtendedTypesEnabled (extendedTypesEnabled) allows TTL nodes and
	// container extensions that need the server id to be < 255.
	ExtendedTypesEnabled bool

	// SSLQuorum (sslQuorum) runs the quorum and election connections
	// over mutual TLS with the ssl.quorum.* stores.
	SSLQuorum bool
	// PortUnification (portUnification) lets the quorum and election
	// ports take TLS and plaintext peers alike, for a rolling upgrade to
	// sslQuorum.
	PortUnification bool
	// QuorumEnableSASL (quorum.auth.enableSasl) turns quorum SASL on:
	// this member answers learners that authenticate.
	QuorumEnableSASL bool
	// QuorumLearnerRequireSASL (quorum.auth.learnerRequireSasl) makes this
	// member authenticate when it connects to another.
	QuorumLearnerRequireSASL bool
	// QuorumServerRequireSASL (quorum.auth.serverRequireSasl) refuses
	// learners that do not authenticate.
	QuorumServerRequireSASL bool
	// QuorumLearnerLoginContext (quorum.auth.learner.saslLoginContext,
	// default QuorumLearner) and QuorumServerLoginContext
	// (quorum.auth.server.saslLoginContext, default QuorumServer) name
	// the JAAS sections of quorum SASL.
	QuorumLearnerLoginContext, QuorumServerLoginContext string
	// QuorumSecurity is what the settings above make of the quorum links,
	// built at start from the stores and the JAAS file; nil is
	// plaintext without authentication.
	QuorumSecurity *transport.Security

	// SASLUsers are the DIGEST-MD5 users of the JAAS file's Server
	// section (java.security.auth.login.config, section
	// sasl.serverconfig), user_<name>="<password>" options by name. Nil
	// without a JAAS Server section: a SASL packet then closes its
	// connection.
	SASLUsers map[string]string

	// SystemProperties holds every key gokeeper does not know, as
	// ZooKeeper does: it sets them as JVM properties named
	// "zookeeper.<key>". Keys here are the zoo.cfg keys, unprefixed.
	SystemProperties map[string]string
	// Notes lists what loading adjusted or ignored (unknown keys, values
	// raised to ZooKeeper's minimum) for the caller to log at startup.
	Notes []string
}

// DefaultPrometheusProvider is ZooKeeper's Prometheus metrics provider
// class; naming it in metricsProvider.className enables /metrics.
const DefaultPrometheusProvider = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"

// DefaultConfig returns ZooKeeper's defaults for every key. DataDir is
// left empty: ZooKeeper has no default and Validate requires one.
func DefaultConfig() Config {
	return Config{
		TickTime:                     3000,
		ClientPortListenBacklog:      -1,
		MaxClientCnxns:               60,
		MinSessionTimeout:            -1,
		MaxSessionTimeout:            -1,
		GlobalOutstandingLimit:       1000,
		SnapCount:                    100000,
		SnapSizeLimitInKb:            4194304,
		TxnLogSizeLimitInKb:          -1,
		PreAllocSizeKb:               65536,
		CommitLogCount:               500,
		AutopurgeSnapRetainCount:     3,
		ForceSync:                    true,
		FsyncWarningThresholdMs:      1000,
		JuteMaxBuffer:                0xfffff,
		AdminEnableServer:            true,
		AdminServerAddress:           "0.0.0.0",
		AdminServerPort:              8080,
		AdminCommandURL:              "/commands",
		AdminIdleTimeoutMs:           30000,
		MetricsProviderClassName:     "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider",
		MetricsProviderHTTPHost:      "0.0.0.0",
		MetricsProviderHTTPPort:      7000,
		MetricsProviderExportJvmInfo: true,
		ServerID:                     UnsetServerID,
		StandaloneEnabled:            true,
		ElectionAlg:                  3,
		SyncEnabled:                  true,
		LeaderServes:                 true,
		QuorumLearnerLoginContext:    "QuorumLearner",
		QuorumServerLoginContext:     "QuorumServer",
	}
}

// Tick returns TickTime as a duration.
func (c Config) Tick() time.Duration { return time.Duration(c.TickTime) * time.Millisecond }

// EffectiveMinSessionTimeout returns MinSessionTimeout, or 2*TickTime when
// it is -1.
func (c Config) EffectiveMinSessionTimeout() int {
	if c.MinSessionTimeout < 0 {
		return 2 * c.TickTime
	}
	return c.MinSessionTimeout
}

// EffectiveMaxSessionTimeout returns MaxSessionTimeout, or 20*TickTime
// when it is -1.
func (c Config) EffectiveMaxSessionTimeout() int {
	if c.MaxSessionTimeout < 0 {
		return 20 * c.TickTime
	}
	return c.MaxSessionTimeout
}

// EffectiveDataLogDir returns DataLogDir, or DataDir when it is empty.
func (c Config) EffectiveDataLogDir() string {
	if c.DataLogDir == "" {
		return c.DataDir
	}
	return c.DataLogDir
}

// Voters returns the participants among Servers.
func (c Config) Voters() []QuorumServer {
	var v []QuorumServer
	for _, s := range c.Servers {
		if s.Type == LearnerParticipant {
			v = append(v, s)
		}
	}
	return v
}

// Distributed reports whether the server runs as an ensemble member
// rather than standalone: ZooKeeper's rule is more than one participant,
// or any participant when standaloneEnabled is false.
func (c Config) Distributed() bool {
	n := len(c.Voters())
	return n > 1 || (!c.StandaloneEnabled && n > 0)
}

// Self returns this server's server.N entry, if there is one.
func (c Config) Self() (QuorumServer, bool) {
	for _, s := range c.Servers {
		if s.ID == c.ServerID {
			return s, true
		}
	}
	return QuorumServer{}, false
}

// FourLetterWordEnabled reports whether the four-letter word cmd may run:
// it is in FourLetterWordsWhitelist, the whitelist is "*", or cmd is srvr.
func (c Config) FourLetterWordEnabled(cmd string) bool {
	if cmd == "srvr" {
		return true
	}
	for _, w := range strings.Split(c.FourLetterWordsWhitelist, ",") {
		w = strings.TrimSpace(w)
		if w == "*" {
			for _, k := range FourLetterWords {
				if k == cmd {
					return true
				}
			}
			return false
		}
		if w != "" && w == cmd {
			return true
		}
	}
	return false
}

// Validate checks every field against the rules ZooKeeper applies at
// start-up. The error wraps ErrInvalidConfig and names the zoo.cfg key.
func (c Config) Validate() error {
	num := func(v int64) string { return strconv.FormatInt(v, 10) }
	positive := []struct {
		key string
		v   int64
	}{
		{"tickTime", int64(c.TickTime)},
		{"snapCount", int64(c.SnapCount)},
		{"jute.maxbuffer", int64(c.JuteMaxBuffer)},
		{"preAllocSize", c.PreAllocSizeKb},
		{"globalOutstandingLimit", int64(c.GlobalOutstandingLimit)},
		{"electionAlg", int64(c.ElectionAlg)},
	}
	for _, p := range positive {
		if p.v <= 0 {
			return configErr(p.key, num(p.v), "must be positive")
		}
	}
	nonNegative := []struct {
		key string
		v   int64
	}{
		{"initLimit", int64(c.InitLimit)},
		{"syncLimit", int64(c.SyncLimit)},
		{"connectToLearnerMasterLimit", int64(c.ConnectToLearnerMasterLimit)},
		{"maxClientCnxns", int64(c.MaxClientCnxns)},
		{"maxCnxns", int64(c.MaxCnxns)},
		{"commitLogCount", int64(c.CommitLogCount)},
		{"fsync.warningthresholdms", c.FsyncWarningThresholdMs},
		{"admin.idleTimeout", int64(c.AdminIdleTimeoutMs)},
		{"autopurge.purgeInterval", int64(c.AutopurgePurgeInterval)},
	}
	for _, p := range nonNegative {
		if p.v < 0 {
			return configErr(p.key, num(p.v), "must not be negative")
		}
	}
	ports := []struct {
		key string
		v   int
	}{
		{"clientPort", c.ClientPort},
		{"secureClientPort", c.SecureClientPort},
		{"admin.serverPort", c.AdminServerPort},
		{"metricsProvider.httpPort", c.MetricsProviderHTTPPort},
		{"observerMasterPort", c.ObserverMasterPort},
	}
	for _, p := range ports {
		if p.v < 0 || p.v > 65535 {
			return configErr(p.key, strconv.Itoa(p.v), "not a port number (0-65535)")
		}
	}
	if c.ClientPortListenBacklog == 0 || c.ClientPortListenBacklog < -1 {
		return configErr("clientPortListenBacklog", strconv.Itoa(c.ClientPortListenBacklog), "must be positive (or -1 for the OS default)")
	}
	if c.ElectionAlg != 3 {
		return configErr("electionAlg", strconv.Itoa(c.ElectionAlg), "only 3 is supported")
	}
	if c.AutopurgeSnapRetainCount < 3 {
		return configErr("autopurge.snapRetainCount", strconv.Itoa(c.AutopurgeSnapRetainCount), "must be at least 3")
	}
	if c.DataDir == "" {
		return configErr("dataDir", "", "not set")
	}
	if c.ClientPortAddress != "" && c.ClientPort == 0 {
		if _, ok := c.Self(); !ok {
			return configErr("clientPortAddress", "", "set but clientPort is not set")
		}
	}
	if c.SecureClientPortAddress != "" && c.SecureClientPort == 0 {
		return configErr("secureClientPortAddress", "", "set but secureClientPort is not set")
	}
	if err := c.validateSupported(); err != nil {
		return err
	}
	reg, err := AuthRegistryFromConfig(c)
	if err != nil {
		return err
	}
	if _, err := c.AuthEnforcement(reg); err != nil {
		return err
	}
	minT, maxT := c.EffectiveMinSessionTimeout(), c.EffectiveMaxSessionTimeout()
	if minT > maxT {
		return configErr("minSessionTimeout", strconv.Itoa(minT), fmt.Sprintf("larger than maxSessionTimeout (%d)", maxT))
	}
	if !strings.HasPrefix(c.AdminCommandURL, "/") {
		return configErr("admin.commandURL", c.AdminCommandURL, "must start with /")
	}
	if c.ExtendedTypesEnabled && c.ServerID >= 255 {
		return configErr("extendedTypesEnabled", "true", fmt.Sprintf("needs a server id below 255, have %d", c.ServerID))
	}
	if err := c.validateQuorumSASL(); err != nil {
		return err
	}
	return c.validateEnsemble()
}

// validateQuorumSASL applies QuorumPeerConfig's rules on quorum.auth.*.
func (c Config) validateQuorumSASL() error {
	switch {
	case !c.QuorumEnableSASL && c.QuorumServerRequireSASL:
		return configErr("quorum.auth.serverRequireSasl", "true", "quorum.auth.enableSasl is disabled, so cannot enable it")
	case !c.QuorumEnableSASL && c.QuorumLearnerRequireSASL:
		return configErr("quorum.auth.learnerRequireSasl", "true", "quorum.auth.enableSasl is disabled, so cannot enable it")
	case !c.QuorumLearnerRequireSASL && c.QuorumServerRequireSASL:
		// NB: such a member could not join the quorum it guards.
		return configErr("quorum.auth.serverRequireSasl", "true", "quorum.auth.learnerRequireSasl is disabled, so cannot enable it")
	}
	return nil
}

// validateSupported refuses what gokeeper parses but cannot honour yet,
// rather than start without it. NB: the ensemble's own keys (leaderServes,
// reconfigEnabled, ...) mean nothing to a standalone server, in ZooKeeper
// too, and are the quorum's to honour.
func (c Config) validateSupported() error {
	switch {
	case c.ClientPort == 0 && c.SecureClientPort == 0 && !c.Distributed():
		// NB: ZooKeeper then starts with no client port at all, which
		// leaves clients nothing to connect to.
		return configErr("clientPort", "", "not set (nor secureClientPort)")
	}
	return nil
}

// validateEnsemble applies QuorumPeerConfig's rules on server.N entries.
func (c Config) validateEnsemble() error {
	seen := make(map[int64]bool, len(c.Servers))
	voters, observers := 0, 0
	for _, s := range c.Servers {
		key := "server." + strconv.FormatInt(s.ID, 10)
		if s.ID < 0 {
			return configErr(key, s.String(), "server id must not be negative")
		}
		if seen[s.ID] {
			return configErr(key, s.String(), "duplicate server id")
		}
		seen[s.ID] = true
		if len(s.Addrs) == 0 {
			return configErr(key, s.String(), "no quorum address")
		}
		if s.Type == LearnerObserver {
			observers++
		} else {
			voters++
		}
	}
	switch {
	case voters == 0 && !c.StandaloneEnabled:
		return configErr("standaloneEnabled", "false", "needs at least one participant server.N")
	case voters == 0 && observers > 0:
		return configErr("server."+strconv.FormatInt(c.Servers[0].ID, 10), c.Servers[0].String(), "observers without participants")
	case voters == 1 && c.StandaloneEnabled && observers > 0:
		return configErr("standaloneEnabled", "true", "observers without a quorum; set standaloneEnabled=false")
	}
	if !c.Distributed() {
		return nil
	}
	if c.InitLimit == 0 {
		return configErr("initLimit", "", "not set")
	}
	if c.SyncLimit == 0 {
		return configErr("syncLimit", "", "not set")
	}
	if c.ServerID == UnsetServerID {
		return configErr("myid", "", "missing: an ensemble member needs dataDir/myid")
	}
	self, ok := c.Self()
	if !ok {
		return configErr("myid", strconv.FormatInt(c.ServerID, 10), "no server.N line for this id")
	}
	if self.ClientPort != 0 && c.ClientPort != 0 && self.ClientPort != c.ClientPort {
		return configErr("clientPort", strconv.Itoa(c.ClientPort), fmt.Sprintf("differs from server.%d's client port %d", self.ID, self.ClientPort))
	}
	return nil
}

// ConfRuntime carries the values the `conf` command prints that are not
// configuration but state of the running server.
type ConfRuntime struct {
	// ClientPort is the bound client port (the configured one unless it
	// was 0); 0 falls back to the configured port.
	ClientPort int
	// SnapDir is the directory snapshots live in; empty means DataDir.
	// ZooKeeper prints dataDir/version-2.
	SnapDir string
	// LogDir is the directory the txn log lives in; empty means
	// DataLogDir (or DataDir).
	LogDir string
	// DataDirSize is the size in bytes of the snapshot files.
	DataDirSize int64
	// DataLogSize is the size in bytes of the txn log files.
	DataLogSize int64
}

// WriteConf writes the configuration in the format of ZooKeeper's `conf`
// four-letter word (ZooKeeperServer.dumpConf, plus the quorum section of
// QuorumZooKeeperServer when the server is an ensemble member): one
// key=value per line and, for an ensemble, "membership: " followed by the
// server.N lines and version=<hex> with no final newline.
func (c Config) WriteConf(w io.Writer, rt ConfRuntime) error {
	var b strings.Builder
	kv := func(k string, v any) { fmt.Fprintf(&b, "%s=%v\n", k, v) }
	port := rt.ClientPort
	if port == 0 {
		port = c.ClientPort
		if self, ok := c.Self(); ok && self.ClientPort != 0 {
			port = self.ClientPort
		}
	}
	secure := c.SecureClientPort
	if secure == 0 {
		secure = -1
	}
	snapDir := rt.SnapDir
	if snapDir == "" {
		snapDir = c.DataDir
	}
	logDir := rt.LogDir
	if logDir == "" {
		logDir = c.EffectiveDataLogDir()
	}
	serverID := c.ServerID
	if serverID == UnsetServerID {
		serverID = 0
	}
	kv("clientPort", port)
	kv("secureClientPort", secure)
	kv("dataDir", absPath(snapDir))
	kv("dataDirSize", rt.DataDirSize)
	kv("dataLogDir", absPath(logDir))
	kv("dataLogSize", rt.DataLogSize)
	kv("tickTime", c.TickTime)
	kv("maxClientCnxns", c.MaxClientCnxns)
	kv("minSessionTimeout", c.EffectiveMinSessionTimeout())
	kv("maxSessionTimeout", c.EffectiveMaxSessionTimeout())
	kv("clientPortListenBacklog", c.ClientPortListenBacklog)
	kv("serverId", serverID)
	if c.Distributed() {
		self, _ := c.Self()
		var eports, qports []string
		for _, a := range self.Addrs {
			eports = append(eports, strconv.Itoa(a.ElectionPort))
			qports = append(qports, strconv.Itoa(a.QuorumPort))
		}
		kv("initLimit", c.InitLimit)
		kv("syncLimit", c.SyncLimit)
		kv("electionAlg", c.ElectionAlg)
		kv("electionPort", strings.Join(eports, "|"))
		kv("quorumPort", strings.Join(qports, "|"))
		kv("peerType", int(self.Type))
		b.WriteString("membership: \n")
		b.WriteString(c.MembershipString())
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// MembershipString renders Servers and ConfigVersion as ZooKeeper's
// QuorumMaj.toString does: one server.N=... line each, then
// version=<hex>, without a final newline. It is the content of the
// /zookeeper/config znode and of a dynamic config file.
func (c Config) MembershipString() string { return membershipString(c.Servers, c.ConfigVersion) }

// membershipString renders servers, sorted by ID, and version as
// MembershipString does.
func membershipString(servers []QuorumServer, version int64) string {
	var b strings.Builder
	for _, s := range servers {
		fmt.Fprintf(&b, "server.%d=%s\n", s.ID, s.String())
	}
	b.WriteString("version=")
	b.WriteString(strconv.FormatInt(version, 16))
	return b.String()
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
