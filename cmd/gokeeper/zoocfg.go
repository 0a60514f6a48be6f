package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gokeeper/gokeeper/server"
)

// This file reads ZooKeeper's zoo.cfg (a Java .properties file), the
// dynamic config file it may point to, dataDir/myid, and the official
// Docker image's ZOO_* environment variables into a server.Config.
//
// Environment variables (used only when no config file is given, the way
// the Docker image generates zoo.cfg only when none exists; an empty or
// unset variable takes the image's default):
//
//	ZOO_DATA_DIR                   dataDir (default /data)
//	ZOO_DATA_LOG_DIR               dataLogDir (default /datalog)
//	ZOO_TICK_TIME                  tickTime (default 2000)
//	ZOO_INIT_LIMIT                 initLimit (default 5)
//	ZOO_SYNC_LIMIT                 syncLimit (default 2)
//	ZOO_AUTOPURGE_SNAPRETAINCOUNT  autopurge.snapRetainCount (default 3)
//	ZOO_AUTOPURGE_PURGEINTERVAL    autopurge.purgeInterval (default 0)
//	ZOO_MAX_CLIENT_CNXNS           maxClientCnxns (default 60)
//	ZOO_STANDALONE_ENABLED         standaloneEnabled (default true)
//	ZOO_ADMINSERVER_ENABLED        admin.enableServer (default true)
//	ZOO_SERVERS                    space-separated server.N=... entries
//	                               (default server.1=localhost:2888:3888;2181)
//	ZOO_4LW_COMMANDS_WHITELIST     4lw.commands.whitelist (unset: srvr only)
//	ZOO_CFG_EXTRA                  space-separated extra key=value entries
//	ZOO_MY_ID                      myid when dataDir/myid does not exist (default 1)
//
// Java system properties (used with or without a config file): the
// -Dkey=value entries of SERVER_JVMFLAGS and then JVMFLAGS, which
// zkServer.sh passes to the JVM in that order, so JVMFLAGS wins (see
// jvmflags.go).

// dockerDefaults are the official image's Dockerfile ENV values.
var dockerDefaults = []struct{ env, key, def string }{
	{"ZOO_DATA_DIR", "dataDir", "/data"},
	{"ZOO_DATA_LOG_DIR", "dataLogDir", "/datalog"},
	{"ZOO_TICK_TIME", "tickTime", "2000"},
	{"ZOO_INIT_LIMIT", "initLimit", "5"},
	{"ZOO_SYNC_LIMIT", "syncLimit", "2"},
	{"ZOO_AUTOPURGE_SNAPRETAINCOUNT", "autopurge.snapRetainCount", "3"},
	{"ZOO_AUTOPURGE_PURGEINTERVAL", "autopurge.purgeInterval", "0"},
	{"ZOO_MAX_CLIENT_CNXNS", "maxClientCnxns", "60"},
	{"ZOO_STANDALONE_ENABLED", "standaloneEnabled", "true"},
	{"ZOO_ADMINSERVER_ENABLED", "admin.enableServer", "true"},
}

// property is one key=value of a properties file, with the line it
// started on for error messages.
type property struct {
	key, value string
	line       int
}

// parseProperties reads Java .properties text: lines whose first
// non-blank character is # or ! are comments; a line ending in an odd
// number of backslashes continues on the next (whose leading blanks are
// dropped); the key ends at the first unescaped '=', ':' or blank, and
// blanks plus one optional '=' or ':' separate it from the value; \t \n
// \r \f \uXXXX and \<other> escapes are decoded. Keys and values are
// trimmed as ZooKeeper does. A repeated key keeps its last value.
func parseProperties(text string) ([]property, error) {
	var props []property
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		start := lineNo
		line := strings.TrimLeft(sc.Text(), " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		for continues(line) {
			line = line[:len(line)-1]
			if !sc.Scan() {
				break
			}
			lineNo++
			line += strings.TrimLeft(sc.Text(), " \t\f")
		}
		key, value, err := splitProperty(line)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", server.ErrInvalidConfig, start, err)
		}
		props = append(props, property{key: strings.TrimSpace(key), value: strings.TrimSpace(value), line: start})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return dedupe(props), nil
}

// continues reports whether line ends in an odd number of backslashes.
func continues(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitProperty splits a logical line into its unescaped key and value.
func splitProperty(line string) (string, string, error) {
	i := 0
	for i < len(line) {
		c := line[i]
		if c == '\\' {
			i += 2
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			break
		}
		i++
	}
	if i > len(line) {
		i = len(line)
	}
	rawKey := line[:i]
	rest := strings.TrimLeft(line[i:], " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	key, err := unescape(rawKey)
	if err != nil {
		return "", "", err
	}
	value, err := unescape(rest)
	if err != nil {
		return "", "", err
	}
	return key, value, nil
}

// unescape decodes the escapes of a .properties key or value.
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 > len(s) {
				return "", fmt.Errorf("malformed \\uxxxx escape in %q", s)
			}
			r, err := strconv.ParseUint(s[i+1:i+5], 16, 32)
			if err != nil {
				return "", fmt.Errorf("malformed \\uxxxx escape in %q", s)
			}
			b.WriteRune(rune(r))
			i += 4
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}

// dedupe keeps the last occurrence of each key, in first-seen order.
func dedupe(props []property) []property {
	last := make(map[string]int, len(props))
	for i, p := range props {
		last[p.key] = i
	}
	out := props[:0:0]
	seen := make(map[string]bool, len(props))
	for _, p := range props {
		if seen[p.key] {
			continue
		}
		seen[p.key] = true
		out = append(out, props[last[p.key]])
	}
	return out
}

// LoadConfig reads the zoo.cfg at path, the dynamic config file it names,
// and dataDir/myid, into a validated server.Config. With path empty it
// builds the configuration from the official Docker image's ZOO_*
// variables, read through env (os.Getenv in production), as documented at
// the top of this file. Any bad value stops with an error that wraps
// server.ErrInvalidConfig and names the key. Unknown keys land in
// Config.SystemProperties and are listed in Config.Notes.
func LoadConfig(path string, env func(string) string) (server.Config, error) {
	if env == nil {
		env = func(string) string { return "" }
	}
	var props []property
	envMyID := ""
	if path != "" {
		text, err := os.ReadFile(path)
		if err != nil {
			return server.Config{}, fmt.Errorf("%w: %v", server.ErrInvalidConfig, err)
		}
		if props, err = parseProperties(string(text)); err != nil {
			return server.Config{}, fmt.Errorf("%s: %w", path, err)
		}
	} else {
		var err error
		if props, err = envProperties(env); err != nil {
			return server.Config{}, err
		}
		envMyID = env("ZOO_MY_ID")
		if envMyID == "" {
			envMyID = "1"
		}
	}
	sys, sysNotes, err := jvmSystemProperties(env, props)
	if err != nil {
		return server.Config{}, err
	}
	cfg, err := configFromProperties(props, path, envMyID, sys)
	if err != nil {
		return server.Config{}, err
	}
	cfg.Notes = append(sysNotes, cfg.Notes...)
	if err := loadJAAS(&cfg); err != nil {
		return server.Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return server.Config{}, err
	}
	return cfg, nil
}

// envProperties turns the Docker image's variables into the zoo.cfg its
// entrypoint would write.
func envProperties(env func(string) string) ([]property, error) {
	var props []property
	add := func(kv, origin string) error {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return &server.ConfigError{Key: origin, Value: kv, Reason: "entry is not key=value"}
		}
		props = append(props, property{key: strings.TrimSpace(k), value: strings.TrimSpace(v)})
		return nil
	}
	for _, d := range dockerDefaults {
		v := env(d.env)
		if v == "" {
			v = d.def
		}
		props = append(props, property{key: d.key, value: v})
	}
	servers := env("ZOO_SERVERS")
	if strings.TrimSpace(servers) == "" {
		servers = "server.1=localhost:2888:3888;2181"
	}
	for _, s := range strings.Fields(servers) {
		if err := add(s, "ZOO_SERVERS"); err != nil {
			return nil, err
		}
	}
	if w := env("ZOO_4LW_COMMANDS_WHITELIST"); w != "" {
		props = append(props, property{key: "4lw.commands.whitelist", value: w})
	}
	for _, s := range strings.Fields(env("ZOO_CFG_EXTRA")) {
		if err := add(s, "ZOO_CFG_EXTRA"); err != nil {
			return nil, err
		}
	}
	return dedupe(props), nil
}

// setter applies one zoo.cfg value to the config.
type setter func(c *server.Config, key, value string) error

func intField(f func(*server.Config) *int) setter {
	return func(c *server.Config, key, v string) error {
		n, err := parseInt(key, v, 32)
		if err != nil {
			return err
		}
		*f(c) = int(n)
		return nil
	}
}

func int64Field(f func(*server.Config) *int64) setter {
	return func(c *server.Config, key, v string) error {
		n, err := parseInt(key, v, 64)
		if err != nil {
			return err
		}
		*f(c) = n
		return nil
	}
}

func portField(f func(*server.Config) *int) setter {
	return func(c *server.Config, key, v string) error {
		n, err := parseInt(key, v, 32)
		if err != nil {
			return err
		}
		if n < 0 || n > 65535 {
			return &server.ConfigError{Key: key, Value: v, Reason: "not a port number (0-65535)"}
		}
		*f(c) = int(n)
		return nil
	}
}

func stringField(f func(*server.Config) *string) setter {
	return func(c *server.Config, _, v string) error {
		*f(c) = v
		return nil
	}
}

// boolField parses QuorumPeerConfig booleans and Java's Boolean.parseBoolean
// properties: true or false, any case.
func boolField(f func(*server.Config) *bool) setter {
	return func(c *server.Config, key, v string) error {
		switch strings.ToLower(v) {
		case "true":
			*f(c) = true
		case "false":
			*f(c) = false
		default:
			return &server.ConfigError{Key: key, Value: v, Reason: "not true or false"}
		}
		return nil
	}
}

// yesNoField parses ZooKeeper's yes/no properties (forceSync, skipACL,
// leaderServes). NB: ZooKeeper compares the raw string, so "true" or
// "false" there silently mean the default; gokeeper rejects them rather
// than guess.
func yesNoField(f func(*server.Config) *bool) setter {
	return func(c *server.Config, key, v string) error {
		switch v {
		case "yes":
			*f(c) = true
		case "no":
			*f(c) = false
		default:
			return &server.ConfigError{Key: key, Value: v, Reason: "not yes or no"}
		}
		return nil
	}
}

func parseInt(key, v string, bits int) (int64, error) {
	n, err := strconv.ParseInt(v, 10, bits)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, &server.ConfigError{Key: key, Value: v, Reason: "out of range"}
		}
		return 0, &server.ConfigError{Key: key, Value: v, Reason: "not an integer"}
	}
	return n, nil
}

// parsePurgeInterval reads autopurge.purgeInterval: a bare integer is
// hours (ZooKeeper 3.8/3.9); 3.10's ms, s, m, h and d suffixes also work.
func parsePurgeInterval(c *server.Config, key, v string) error {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}}
	num, unit := v, time.Hour
	for _, u := range units {
		if strings.HasSuffix(v, u.suffix) {
			num, unit = strings.TrimSuffix(v, u.suffix), u.unit
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 32)
	if err != nil {
		return &server.ConfigError{Key: key, Value: v, Reason: "not an integer with an optional ms, s, m, h or d suffix"}
	}
	c.AutopurgePurgeInterval = time.Duration(n) * unit
	return nil
}

func parsePeerType(c *server.Config, key, v string) error {
	switch strings.ToLower(v) {
	case "participant":
		c.PeerType = server.LearnerParticipant
	case "observer":
		c.PeerType = server.LearnerObserver
	default:
		return &server.ConfigError{Key: key, Value: v, Reason: "not participant or observer"}
	}
	return nil
}

// zooCfgKeys maps each zoo.cfg key gokeeper understands to its setter.
// Keys that ZooKeeper reads as zookeeper.* system properties are also
// accepted with that prefix (see canonicalKey).
var zooCfgKeys = map[string]setter{
	"tickTime":                                 intField(func(c *server.Config) *int { return &c.TickTime }),
	"initLimit":                                intField(func(c *server.Config) *int { return &c.InitLimit }),
	"syncLimit":                                intField(func(c *server.Config) *int { return &c.SyncLimit }),
	"connectToLearnerMasterLimit":              intField(func(c *server.Config) *int { return &c.ConnectToLearnerMasterLimit }),
	"dataDir":                                  stringField(func(c *server.Config) *string { return &c.DataDir }),
	"dataLogDir":                               stringField(func(c *server.Config) *string { return &c.DataLogDir }),
	"clientPort":                               portField(func(c *server.Config) *int { return &c.ClientPort }),
	"clientPortAddress":                        stringField(func(c *server.Config) *string { return &c.ClientPortAddress }),
	"secureClientPort":                         portField(func(c *server.Config) *int { return &c.SecureClientPort }),
	"secureClientPortAddress":                  stringField(func(c *server.Config) *string { return &c.SecureClientPortAddress }),
	"clientPortListenBacklog":                  intField(func(c *server.Config) *int { return &c.ClientPortListenBacklog }),
	"maxClientCnxns":                           intField(func(c *server.Config) *int { return &c.MaxClientCnxns }),
	"maxCnxns":                                 intField(func(c *server.Config) *int { return &c.MaxCnxns }),
	"minSessionTimeout":                        intField(func(c *server.Config) *int { return &c.MinSessionTimeout }),
	"maxSessionTimeout":                        intField(func(c *server.Config) *int { return &c.MaxSessionTimeout }),
	"localSessionsEnabled":                     boolField(func(c *server.Config) *bool { return &c.LocalSessionsEnabled }),
	"localSessionsUpgradingEnabled":            boolField(func(c *server.Config) *bool { return &c.LocalSessionsUpgradingEnabled }),
	"globalOutstandingLimit":                   intField(func(c *server.Config) *int { return &c.GlobalOutstandingLimit }),
	"snapCount":                                intField(func(c *server.Config) *int { return &c.SnapCount }),
	"snapSizeLimitInKb":                        int64Field(func(c *server.Config) *int64 { return &c.SnapSizeLimitInKb }),
	"txnLogSizeLimitInKb":                      int64Field(func(c *server.Config) *int64 { return &c.TxnLogSizeLimitInKb }),
	"preAllocSize":                             int64Field(func(c *server.Config) *int64 { return &c.PreAllocSizeKb }),
	"commitLogCount":                           intField(func(c *server.Config) *int { return &c.CommitLogCount }),
	"autopurge.snapRetainCount":                intField(func(c *server.Config) *int { return &c.AutopurgeSnapRetainCount }),
	"autopurge.purgeInterval":                  parsePurgeInterval,
	"forceSync":                                yesNoField(func(c *server.Config) *bool { return &c.ForceSync }),
	"fsync.warningthresholdms":                 int64Field(func(c *server.Config) *int64 { return &c.FsyncWarningThresholdMs }),
	"jute.maxbuffer":                           intField(func(c *server.Config) *int { return &c.JuteMaxBuffer }),
	"4lw.commands.whitelist":                   stringField(func(c *server.Config) *string { return &c.FourLetterWordsWhitelist }),
	"admin.enableServer":                       boolField(func(c *server.Config) *bool { return &c.AdminEnableServer }),
	"admin.serverAddress":                      stringField(func(c *server.Config) *string { return &c.AdminServerAddress }),
	"admin.serverPort":                         portField(func(c *server.Config) *int { return &c.AdminServerPort }),
	"admin.commandURL":                         stringField(func(c *server.Config) *string { return &c.AdminCommandURL }),
	"admin.idleTimeout":                        intField(func(c *server.Config) *int { return &c.AdminIdleTimeoutMs }),
	"metricsProvider.className":                stringField(func(c *server.Config) *string { return &c.MetricsProviderClassName }),
	"metricsProvider.httpHost":                 stringField(func(c *server.Config) *string { return &c.MetricsProviderHTTPHost }),
	"metricsProvider.httpPort":                 portField(func(c *server.Config) *int { return &c.MetricsProviderHTTPPort }),
	"metricsProvider.exportJvmInfo":            boolField(func(c *server.Config) *bool { return &c.MetricsProviderExportJvmInfo }),
	"dynamicConfigFile":                        stringField(func(c *server.Config) *string { return &c.DynamicConfigFile }),
	"peerType":                                 parsePeerType,
	"standaloneEnabled":                        boolField(func(c *server.Config) *bool { return &c.StandaloneEnabled }),
	"reconfigEnabled":                          boolField(func(c *server.Config) *bool { return &c.ReconfigEnabled }),
	"electionAlg":                              intField(func(c *server.Config) *int { return &c.ElectionAlg }),
	"quorumListenOnAllIPs":                     boolField(func(c *server.Config) *bool { return &c.QuorumListenOnAllIPs }),
	"observerMasterPort":                       portField(func(c *server.Config) *int { return &c.ObserverMasterPort }),
	"syncEnabled":                              boolField(func(c *server.Config) *bool { return &c.SyncEnabled }),
	"leaderServes":                             yesNoField(func(c *server.Config) *bool { return &c.LeaderServes }),
	"multiAddress.enabled":                     boolField(func(c *server.Config) *bool { return &c.MultiAddressEnabled }),
	"skipACL":                                  yesNoField(func(c *server.Config) *bool { return &c.SkipACL }),
	"DigestAuthenticationProvider.superDigest": stringField(func(c *server.Config) *string { return &c.SuperDigest }),
	"enforceQuota":                             boolField(func(c *server.Config) *bool { return &c.EnforceQuota }),
	"extendedTypesEnabled":                     boolField(func(c *server.Config) *bool { return &c.ExtendedTypesEnabled }),
	"sslQuorum":                                boolField(func(c *server.Config) *bool { return &c.SSLQuorum }),
	"portUnification":                          boolField(func(c *server.Config) *bool { return &c.PortUnification }),
	"quorum.auth.enableSasl":                   boolField(func(c *server.Config) *bool { return &c.QuorumEnableSASL }),
	"quorum.auth.learnerRequireSasl":           boolField(func(c *server.Config) *bool { return &c.QuorumLearnerRequireSASL }),
	"quorum.auth.serverRequireSasl":            boolField(func(c *server.Config) *bool { return &c.QuorumServerRequireSASL }),
	"quorum.auth.learner.saslLoginContext":     stringField(func(c *server.Config) *string { return &c.QuorumLearnerLoginContext }),
	"quorum.auth.server.saslLoginContext":      stringField(func(c *server.Config) *string { return &c.QuorumServerLoginContext }),
	"sslQuorumReloadCertFiles": noted(boolField(func(*server.Config) *bool { return new(bool) }),
		"not supported yet: restart to load new quorum certificates"),
	"quorum.auth.kerberos.servicePrincipal": noted(stringField(func(*server.Config) *string { return new(string) }),
		"ignored: Kerberos (GSSAPI) quorum SASL is not supported"),
	"quorum.cnxn.threads.size": noted(intField(func(*server.Config) *int { return new(int) }),
		"accepted: each election connection is set up by its own goroutine"),
}

// noted checks a value with set and records why gokeeper does not use it.
func noted(set setter, why string) setter {
	return func(c *server.Config, key, v string) error {
		if err := set(c, key, v); err != nil {
			return err
		}
		c.Notes = append(c.Notes, fmt.Sprintf("%s=%s: %s", key, v, why))
		return nil
	}
}

// keyAliases maps other spellings gokeeper accepts to the canonical key.
var keyAliases = map[string]string{
	"superDigest": "DigestAuthenticationProvider.superDigest",
	// ZooKeeper itself only has this one without the zookeeper. prefix.
	"zookeeper.jute.maxbuffer": "jute.maxbuffer",
}

// canonicalKey returns the key gokeeper files a zoo.cfg key under:
// "zookeeper.skipACL" and "skipACL" are one key, as ZooKeeper turns an
// unknown zoo.cfg key k into the system property zookeeper.k.
func canonicalKey(k string) string {
	if a, ok := keyAliases[k]; ok {
		return a
	}
	if rest, ok := strings.CutPrefix(k, "zookeeper."); ok {
		if _, known := zooCfgKeys[rest]; known {
			return rest
		}
	}
	return k
}

// configFromProperties applies the system properties sys, then the
// parsed zoo.cfg properties over DefaultConfig, reads the dynamic config
// file and myid, and resolves this server's client port from its
// server.N line, as QuorumPeerConfig does. envMyID, if not empty, is the
// myid to use when dataDir/myid does not exist.
func configFromProperties(props []property, path, envMyID string, sys []sysProperty) (server.Config, error) {
	cfg := server.DefaultConfig()
	cfg.ConfigFile = path
	for _, p := range sys {
		if err := p.apply(&cfg); err != nil {
			return cfg, err
		}
	}
	var serverProps []property
	hasDynamic := false
	for _, p := range props {
		if p.key == "dynamicConfigFile" {
			hasDynamic = true
		}
	}
	for _, p := range props {
		key := canonicalKey(p.key)
		if isMembershipKey(key) {
			if hasDynamic {
				return cfg, &server.ConfigError{Key: p.key, Value: p.value, Reason: "must be in the dynamic config file, not beside dynamicConfigFile"}
			}
			serverProps = append(serverProps, p)
			continue
		}
		if key == "version" && hasDynamic {
			continue
		}
		if set, ok := zooCfgKeys[key]; ok {
			if err := set(&cfg, p.key, p.value); err != nil {
				return cfg, err
			}
			continue
		}
		if rest, ok := strings.CutPrefix(key, "metricsProvider."); ok {
			if cfg.MetricsProviderConfig == nil {
				cfg.MetricsProviderConfig = map[string]string{}
			}
			cfg.MetricsProviderConfig[rest] = p.value
			continue
		}
		check, known := systemPropertyCheck(key)
		if known {
			if err := check(p.key, p.value); err != nil {
				return cfg, err
			}
		}
		if cfg.SystemProperties == nil {
			cfg.SystemProperties = map[string]string{}
		}
		cfg.SystemProperties[p.key] = p.value
		if !known {
			cfg.Notes = append(cfg.Notes, fmt.Sprintf("%q is not a zoo.cfg key: kept as system property zookeeper.%s, as ZooKeeper does", p.key, p.key))
		}
	}
	if cfg.SnapCount < 2 && cfg.SnapCount > 0 {
		cfg.Notes = append(cfg.Notes, fmt.Sprintf("snapCount %d raised to 2", cfg.SnapCount))
		cfg.SnapCount = 2
	}
	if cfg.AutopurgeSnapRetainCount < 3 {
		cfg.Notes = append(cfg.Notes, fmt.Sprintf("autopurge.snapRetainCount %d raised to 3", cfg.AutopurgeSnapRetainCount))
		cfg.AutopurgeSnapRetainCount = 3
	}
	if cfg.DataDir == "" {
		return cfg, &server.ConfigError{Key: "dataDir", Reason: "not set"}
	}
	if cfg.DynamicConfigFile != "" {
		dyn, version, err := readDynamicConfig(cfg.DynamicConfigFile)
		if err != nil {
			return cfg, err
		}
		serverProps = dyn
		cfg.ConfigVersion = version
	}
	if err := applyMembership(&cfg, serverProps); err != nil {
		return cfg, err
	}
	if err := readMyID(&cfg, envMyID); err != nil {
		return cfg, err
	}
	return cfg, resolveClientPort(&cfg)
}

// isMembershipKey reports keys that belong in a dynamic config file.
func isMembershipKey(k string) bool {
	return strings.HasPrefix(k, "server.") || strings.HasPrefix(k, "group") || strings.HasPrefix(k, "weight")
}

// readDynamicConfig reads a dynamic config file: server.N lines only; the
// version comes from the file name's hex suffix (zoo.cfg.dynamic.100000000).
func readDynamicConfig(path string) ([]property, int64, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, &server.ConfigError{Key: "dynamicConfigFile", Value: path, Reason: err.Error()}
	}
	props, err := parseProperties(string(text))
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	var version int64
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		if v, err := strconv.ParseInt(path[i+1:], 16, 64); err == nil {
			version = v
		}
	}
	for _, p := range props {
		if p.key == "version" {
			return nil, 0, &server.ConfigError{Key: "version", Value: p.value, Reason: "not allowed inside the dynamic config file " + path}
		}
		if !isMembershipKey(p.key) {
			return nil, 0, &server.ConfigError{Key: p.key, Value: p.value, Reason: "unrecognised in the dynamic config file " + path}
		}
	}
	return props, version, nil
}

// applyMembership parses server.N entries into cfg.Servers.
func applyMembership(cfg *server.Config, props []property) error {
	for _, p := range props {
		if strings.HasPrefix(p.key, "group") || strings.HasPrefix(p.key, "weight") {
			return &server.ConfigError{Key: p.key, Value: p.value, Reason: "hierarchical quorums are not supported by gokeeper"}
		}
		idStr := strings.TrimPrefix(p.key, "server.")
		id, err := strconv.ParseInt(idStr, 10, 64)
		if err != nil {
			return &server.ConfigError{Key: p.key, Value: p.value, Reason: "server id " + strconv.Quote(idStr) + " is not an integer"}
		}
		qs, err := server.ParseQuorumServer(id, p.value, cfg.MultiAddressEnabled)
		if err != nil {
			return err
		}
		cfg.Servers = append(cfg.Servers, qs)
	}
	sort.SliceStable(cfg.Servers, func(i, j int) bool { return cfg.Servers[i].ID < cfg.Servers[j].ID })
	return nil
}

// readMyID reads dataDir/myid's first line. A standalone server needs
// none; envMyID stands in when the file is missing.
func readMyID(cfg *server.Config, envMyID string) error {
	path := filepath.Join(cfg.DataDir, "myid")
	text, err := os.ReadFile(path)
	key := "myid"
	switch {
	case err == nil:
		text := string(text)
		if i := strings.IndexAny(text, "\r\n"); i >= 0 {
			text = text[:i]
		}
		envMyID = text
		key = path
	case errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrInvalid):
		if envMyID == "" {
			return nil
		}
		key = "ZOO_MY_ID"
	default:
		return &server.ConfigError{Key: "myid", Value: path, Reason: err.Error()}
	}
	id, err := strconv.ParseInt(strings.TrimSpace(envMyID), 10, 64)
	if err != nil {
		return &server.ConfigError{Key: key, Value: envMyID, Reason: "server id is not a number"}
	}
	cfg.ServerID = id
	return nil
}

// resolveClientPort takes this server's client address from its server.N
// line when it has one, after checking it agrees with clientPort and
// clientPortAddress, and makes PeerType follow the server list.
func resolveClientPort(cfg *server.Config) error {
	self, ok := cfg.Self()
	if !ok {
		return nil
	}
	if self.Type != cfg.PeerType {
		cfg.Notes = append(cfg.Notes, fmt.Sprintf("peerType %s differs from server.%d's role %s; using the server list", cfg.PeerType, self.ID, self.Type))
		cfg.PeerType = self.Type
	}
	if self.ClientPort == 0 {
		return nil
	}
	if cfg.ClientPort != 0 {
		wildcard := cfg.ClientPortAddress == "" || cfg.ClientPortAddress == "0.0.0.0" || cfg.ClientPortAddress == "::"
		if cfg.ClientPort != self.ClientPort || (!wildcard && cfg.ClientPortAddress != self.ClientHost) {
			return &server.ConfigError{Key: "clientPort", Value: strconv.Itoa(cfg.ClientPort),
				Reason: fmt.Sprintf("client address %s differs from server.%d's %s",
					joinHostPort(cfg.ClientPortAddress, cfg.ClientPort), self.ID, joinHostPort(self.ClientHost, self.ClientPort))}
		}
	}
	cfg.ClientPort = self.ClientPort
	if self.ClientHost != "0.0.0.0" {
		cfg.ClientPortAddress = self.ClientHost
	}
	if self.SecureClientPort != 0 {
		cfg.SecureClientPort = self.SecureClientPort
		if self.SecureClientHost != "0.0.0.0" {
			cfg.SecureClientPortAddress = self.SecureClientHost
		}
	}
	return nil
}

func joinHostPort(host string, port int) string {
	if host == "" {
		host = "0.0.0.0"
	}
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}
