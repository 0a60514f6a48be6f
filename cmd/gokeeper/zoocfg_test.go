package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gokeeper/gokeeper/server"
)

// propertiesCases are .properties texts and the key/value pairs Java's
// Properties.load (then trimmed, as ZooKeeper does) makes of them.
var propertiesCases = []struct {
	name string
	text string
	want map[string]string
}{
	{"equals", "tickTime=2000\n", map[string]string{"tickTime": "2000"}},
	{"spaces around equals", "  tickTime =  2000  \n", map[string]string{"tickTime": "2000"}},
	{"colon separator", "clientPort:2181", map[string]string{"clientPort": "2181"}},
	{"blank separator", "clientPort 2181", map[string]string{"clientPort": "2181"}},
	{"tab then equals", "clientPort\t= 2181", map[string]string{"clientPort": "2181"}},
	{"comments", "# a=1\n   ! b=2\n\nc=3\n", map[string]string{"c": "3"}},
	{"value keeps later separators", "server.1=h:2888:3888;2181", map[string]string{"server.1": "h:2888:3888;2181"}},
	{"continuation", "4lw.commands.whitelist=stat, \\\n    ruok, \\\n  conf\n", map[string]string{"4lw.commands.whitelist": "stat, ruok, conf"}},
	{"escaped backslash is no continuation", "dataDir=C:\\\\zk\\\\\nx=1", map[string]string{"dataDir": `C:\zk\`, "x": "1"}},
	{"escaped separator in key", "a\\=b=c", map[string]string{"a=b": "c"}},
	{"unicode escape", "superDigest=super\\u003Ax", map[string]string{"superDigest": "super:x"}},
	{"empty value", "dataLogDir=", map[string]string{"dataLogDir": ""}},
	{"key only", "standaloneEnabled", map[string]string{"standaloneEnabled": ""}},
	{"last wins", "tickTime=1\ntickTime=2\n", map[string]string{"tickTime": "2"}},
	{"crlf", "tickTime=2000\r\nclientPort=2181\r\n", map[string]string{"tickTime": "2000", "clientPort": "2181"}},
	{"continued comment is still a comment", "# a \\\nb=1", map[string]string{"b": "1"}},
	{"continuation of blank-led line", "a=x\\\n\t\t  y", map[string]string{"a": "xy"}},
	{"escaped blank in value is trimmed", `a=\ x\ `, map[string]string{"a": "x"}},
}

func TestParseProperties(t *testing.T) {
	for _, tc := range propertiesCases {
		t.Run(tc.name, func(t *testing.T) {
			props, err := parseProperties(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, p := range props {
				got[p.key] = p.value
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseProperties(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
	if _, err := parseProperties(`a=\u12`); !errors.Is(err, server.ErrInvalidConfig) {
		t.Errorf("malformed \\u escape: err = %v, want ErrInvalidConfig", err)
	}
}

// writeCfg writes a zoo.cfg whose dataDir is a fresh temporary directory
// (referred to as $DATA in text) and returns its path.
func writeCfg(t *testing.T, text string, myid string) string {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if myid != "" {
		if err := os.WriteFile(filepath.Join(data, "myid"), []byte(myid), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text = strings.ReplaceAll(text, "$DATA", data)
	text = strings.ReplaceAll(text, "$DIR", dir)
	path := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// badConfigs are zoo.cfg texts LoadConfig must reject; $DATA is the data
// dir and $DIR the config's directory. zkAccepts notes where Apache
// ZooKeeper 3.8 starts anyway, and why gokeeper refuses.
var badConfigs = []struct {
	name, text, myid string
	want             string // substring of the error, naming the key
	zkAccepts        string
}{
	{"tickTime not a number", "dataDir=$DATA\ntickTime=abc", "", `invalid value "abc" for tickTime: not an integer`, ""},
	{"clientPort out of range", "dataDir=$DATA\nclientPort=99999", "", `for clientPort: not a port number`, ""},
	{"maxClientCnxns float", "dataDir=$DATA\nmaxClientCnxns=6.5", "", `for maxClientCnxns`, ""},
	{"int overflow", "dataDir=$DATA\nsnapCount=99999999999", "", `for snapCount: out of range`, "ZooKeeper reads snapCount later with Integer.getInteger, which falls back to the default"},
	{"bool", "dataDir=$DATA\nstandaloneEnabled=yes", "", `invalid value "yes" for standaloneEnabled`, ""},
	{"yes/no", "dataDir=$DATA\nforceSync=false", "", `invalid value "false" for forceSync: not yes or no`, "ZooKeeper treats anything but \"no\" as yes"},
	{"skipACL true", "dataDir=$DATA\nzookeeper.skipACL=true", "", `for zookeeper.skipACL`, "ZooKeeper skips ACLs only for exactly \"yes\" and checks them for \"true\""},
	{"purge interval", "dataDir=$DATA\nautopurge.purgeInterval=1w", "", `for autopurge.purgeInterval`, ""},
	{"peerType", "dataDir=$DATA\npeerType=leader", "", `for peerType`, ""},
	{"electionAlg", "dataDir=$DATA\nelectionAlg=1", "", `for electionAlg: only 3`, ""},
	{"no dataDir", "tickTime=2000\nclientPort=2181", "", `dataDir: not set`, ""},
	{"min > max", "dataDir=$DATA\nclientPort=2181\nminSessionTimeout=9000\nmaxSessionTimeout=8000", "", `for minSessionTimeout`, ""},
	{"address without port", "dataDir=$DATA\nclientPortAddress=127.0.0.1", "", `clientPortAddress`, ""},
	{"bad server line", "dataDir=$DATA\nserver.1=zk1:2888", "", `for server.1`, ""},
	{"bad server id", "dataDir=$DATA\nserver.x=zk1:2888:3888", "", `for server.x`, ""},
	{"same quorum and election port", "dataDir=$DATA\nserver.1=zk1:2888:2888", "", `for server.1`, ""},
	{"ensemble without myid", "dataDir=$DATA\ninitLimit=5\nsyncLimit=2\nserver.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2", "", `myid`, ""},
	{"ensemble without initLimit", "dataDir=$DATA\nsyncLimit=2\nserver.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2", "1", `initLimit: not set`, ""},
	{"myid not a number", "dataDir=$DATA\nserver.1=a:1:2\nserver.2=b:1:2", "one\n", `for $DATA/myid: server id is not a number`, ""},
	{"client port mismatch", "dataDir=$DATA\ninitLimit=5\nsyncLimit=2\nclientPort=2182\nserver.1=a:1:2;2181\nserver.2=b:1:2;2181\nserver.3=c:1:2;2181", "1", `for clientPort`, ""},
	{"server line beside dynamic file", "dataDir=$DATA\ndynamicConfigFile=$DIR/zoo.cfg.dynamic\nserver.1=a:1:2", "", `for server.1: must be in the dynamic config file`, ""},
	{"missing dynamic file", "dataDir=$DATA\ndynamicConfigFile=$DIR/none", "", `for dynamicConfigFile`, ""},
	{"hierarchical", "dataDir=$DATA\ngroup.1=1:2:3\nserver.1=a:1:2", "", `group.1`, ""},
	{"admin port bad", "dataDir=$DATA\nadmin.serverPort=-5", "", `for admin.serverPort`, "ZooKeeper reads admin.* only when it starts the AdminServer"},
	{"no clientPort", "dataDir=$DATA", "", `clientPort: not set`, "ZooKeeper starts without a client port"},
	{"sslQuorum not a boolean", "dataDir=$DATA\nclientPort=2181\nsslQuorum=yes", "", `invalid value "yes" for sslQuorum`, ""},
	{"quorum SASL required, not enabled", "dataDir=$DATA\nclientPort=2181\nquorum.auth.learnerRequireSasl=true", "", `for quorum.auth.learnerRequireSasl: quorum.auth.enableSasl is disabled`, ""},
	{"server requires SASL, learner does not", "dataDir=$DATA\nclientPort=2181\nquorum.auth.enableSasl=true\nquorum.auth.serverRequireSasl=true", "", `for quorum.auth.serverRequireSasl: quorum.auth.learnerRequireSasl is disabled`, ""},
	{"quorum.cnxn.threads.size", "dataDir=$DATA\nclientPort=2181\nquorum.cnxn.threads.size=many", "", `for quorum.cnxn.threads.size: not an integer`, ""},
}

func TestLoadConfigBad(t *testing.T) {
	for _, tc := range badConfigs {
		t.Run(tc.name, func(t *testing.T) {
			path := writeCfg(t, tc.text, tc.myid)
			_, err := LoadConfig(path, nil)
			if err == nil {
				t.Fatalf("LoadConfig accepted:\n%s", tc.text)
			}
			want := strings.ReplaceAll(tc.want, "$DATA", filepath.Join(filepath.Dir(path), "data"))
			if !errors.Is(err, server.ErrInvalidConfig) || !strings.Contains(err.Error(), want) {
				t.Fatalf("LoadConfig error = %q, want ErrInvalidConfig containing %q", err, want)
			}
		})
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.cfg"), nil); !errors.Is(err, server.ErrInvalidConfig) {
		t.Errorf("missing file: err = %v, want ErrInvalidConfig", err)
	}
}

// goodConfigs are zoo.cfg texts LoadConfig must accept, with a check of
// what it made of them; see badConfigs for $DATA.
var goodConfigs = []struct {
	name, text, myid string
	check            func(t *testing.T, c server.Config)
}{
	{"minimal standalone", "dataDir=$DATA\nclientPort=2181", "", func(t *testing.T, c server.Config) {
		want := server.DefaultConfig()
		want.DataDir, want.ClientPort, want.ConfigFile = c.DataDir, 2181, c.ConfigFile
		if !reflect.DeepEqual(c, want) {
			t.Errorf("got %+v\nwant %+v", c, want)
		}
		if c.Distributed() || c.EffectiveMinSessionTimeout() != 6000 || c.EffectiveDataLogDir() != c.DataDir {
			t.Errorf("derived values wrong: %+v", c)
		}
	}},
	{"quorum security keys", "dataDir=$DATA\nclientPort=2181\nsslQuorum=true\nportUnification=TRUE\nquorum.auth.enableSasl=true\n" +
		"quorum.auth.learnerRequireSasl=true\nquorum.auth.serverRequireSasl=true\nquorum.auth.learner.saslLoginContext=L\n" +
		"quorum.cnxn.threads.size=4\nssl.quorum.keyStore.location=/q.jks", "", func(t *testing.T, c server.Config) {
		if !c.SSLQuorum || !c.PortUnification || !c.QuorumEnableSASL || !c.QuorumLearnerRequireSASL || !c.QuorumServerRequireSASL ||
			c.QuorumLearnerLoginContext != "L" || c.QuorumServerLoginContext != "QuorumServer" || c.SystemProperties["ssl.quorum.keyStore.location"] != "/q.jks" {
			t.Errorf("got %+v", c)
		}
		if len(c.Notes) != 1 || !strings.Contains(c.Notes[0], "quorum.cnxn.threads.size=4: accepted") {
			t.Errorf("notes %q, want one on quorum.cnxn.threads.size", c.Notes)
		}
	}},
	{"unknown keys kept", "dataDir=$DATA\nclientPort=2181\nfoo.bar=1\nsnapCount=1\nautopurge.snapRetainCount=1\nmetricsProvider.custom=x", "", func(t *testing.T, c server.Config) {
		if c.SystemProperties["foo.bar"] != "1" || c.MetricsProviderConfig["custom"] != "x" {
			t.Errorf("SystemProperties = %v, MetricsProviderConfig = %v", c.SystemProperties, c.MetricsProviderConfig)
		}
		if c.SnapCount != 2 || c.AutopurgeSnapRetainCount != 3 || len(c.Notes) != 3 {
			t.Errorf("snapCount %d, snapRetainCount %d, notes %q", c.SnapCount, c.AutopurgeSnapRetainCount, c.Notes)
		}
	}},
	{"system property spellings", "dataDir=$DATA\nclientPort=2181\nzookeeper.skipACL=yes\nDigestAuthenticationProvider.superDigest=super:abc=\nzookeeper.enforceQuota=TRUE\njute.maxbuffer=4194304\nforceSync=no\nleaderServes=no", "", func(t *testing.T, c server.Config) {
		if !c.SkipACL || c.SuperDigest != "super:abc=" || !c.EnforceQuota || c.JuteMaxBuffer != 4194304 || c.ForceSync || c.LeaderServes {
			t.Errorf("got %+v", c)
		}
	}},
	{"superDigest alias", "dataDir=$DATA\nclientPort=2181\nsuperDigest=super:x", "", func(t *testing.T, c server.Config) {
		if c.SuperDigest != "super:x" {
			t.Errorf("SuperDigest = %q", c.SuperDigest)
		}
	}},
	{"purge interval units", "dataDir=$DATA\nclientPort=2181\nautopurge.purgeInterval=90m", "", func(t *testing.T, c server.Config) {
		if c.AutopurgePurgeInterval != 90*time.Minute {
			t.Errorf("AutopurgePurgeInterval = %v", c.AutopurgePurgeInterval)
		}
	}},
	{"single server line is standalone", "dataDir=$DATA\nserver.1=localhost:2888:3888;2181", "1", func(t *testing.T, c server.Config) {
		if c.Distributed() || c.ClientPort != 2181 || c.ServerID != 1 || c.ClientPortAddress != "" {
			t.Errorf("got ClientPort %d, ServerID %d, address %q, distributed %v", c.ClientPort, c.ServerID, c.ClientPortAddress, c.Distributed())
		}
	}},
	{"client address from server line", "dataDir=$DATA\ninitLimit=5\nsyncLimit=2\nserver.1=a:1:2;127.0.0.1:2181\nserver.2=b:1:2;127.0.0.2:2181\nserver.3=c:1:2", "2\n", func(t *testing.T, c server.Config) {
		if c.ClientPort != 2181 || c.ClientPortAddress != "127.0.0.2" || !c.Distributed() {
			t.Errorf("got %d %q", c.ClientPort, c.ClientPortAddress)
		}
	}},
	{"peerType follows the server list", "dataDir=$DATA\ninitLimit=5\nsyncLimit=2\npeerType=participant\nserver.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2:observer", "3", func(t *testing.T, c server.Config) {
		if c.PeerType != server.LearnerObserver || len(c.Notes) != 1 {
			t.Errorf("PeerType = %v, notes %q", c.PeerType, c.Notes)
		}
	}},
}

func TestLoadConfigGood(t *testing.T) {
	for _, tc := range goodConfigs {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadConfig(writeCfg(t, tc.text, tc.myid), nil)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestLoadConfigTestdata(t *testing.T) {
	c, err := LoadConfig("testdata/ensemble/zoo.cfg", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.ServerID != 2 || len(c.Servers) != 4 || len(c.Voters()) != 3 || !c.Distributed() {
		t.Fatalf("ServerID %d, %d servers, %d voters", c.ServerID, len(c.Servers), len(c.Voters()))
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"tickTime", c.TickTime, 2000},
		{"initLimit", c.InitLimit, 10},
		{"syncLimit", c.SyncLimit, 5},
		{"dataLogDir", c.DataLogDir, "testdata/ensemble/log"},
		{"maxClientCnxns", c.MaxClientCnxns, 0},
		{"snapRetainCount", c.AutopurgeSnapRetainCount, 5},
		{"purgeInterval", c.AutopurgePurgeInterval, 24 * time.Hour},
		{"conf enabled", c.FourLetterWordEnabled("conf"), true},
		{"mntr enabled", c.FourLetterWordEnabled("mntr"), false},
		{"admin.serverPort", c.AdminServerPort, 9090},
		{"metrics class", c.MetricsProviderClassName, server.DefaultPrometheusProvider},
		{"metrics port", c.MetricsProviderHTTPPort, 7070},
		{"exportJvmInfo", c.MetricsProviderExportJvmInfo, false},
		{"standaloneEnabled", c.StandaloneEnabled, false},
		{"reconfigEnabled", c.ReconfigEnabled, true},
		{"extendedTypesEnabled", c.ExtendedTypesEnabled, true},
		{"observer", c.Servers[3].Type, server.LearnerObserver},
		{"server.2", c.Servers[1].String(), "zk2.example.com:2888:3888:participant;0.0.0.0:2181"},
		{"clientPort", c.ClientPort, 2181},
		{"notes", len(c.Notes), 0},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}

	d, err := LoadConfig("testdata/dynamic/zoo.cfg", nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.ConfigVersion != 0x100000000 || len(d.Servers) != 3 || d.ServerID != 3 || d.ClientPort != 2181 || d.ClientPortAddress != "127.0.0.3" {
		t.Errorf("dynamic: version %x, %d servers, id %d, client %s:%d", d.ConfigVersion, len(d.Servers), d.ServerID, d.ClientPortAddress, d.ClientPort)
	}
	wantMembership := "server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181\n" +
		"server.2=127.0.0.2:2888:3888:participant;127.0.0.2:2181\n" +
		"server.3=127.0.0.3:2888:3888:participant;127.0.0.3:2181\n" +
		"version=100000000"
	if got := d.MembershipString(); got != wantMembership {
		t.Errorf("dynamic membership =\n%s\nwant\n%s", got, wantMembership)
	}
}

// TestLoadConfigApacheSample loads the zoo.cfg that Apache ZooKeeper
// ships (conf/zoo_sample.cfg, which Debian installs as
// /etc/zookeeper/conf/zoo.cfg) and that ZooKeeper itself starts with.
func TestLoadConfigApacheSample(t *testing.T) {
	paths := []string{"testdata/zoo_sample.cfg"}
	if _, err := os.Stat("/etc/zookeeper/conf/zoo.cfg"); err == nil {
		paths = append(paths, "/etc/zookeeper/conf/zoo.cfg")
	} else {
		t.Log("no /etc/zookeeper/conf/zoo.cfg; testing the copy in testdata only")
	}
	for _, p := range paths {
		c, err := LoadConfig(p, nil)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if c.TickTime != 2000 || c.InitLimit != 10 || c.SyncLimit != 5 || c.DataDir != "/tmp/zookeeper" ||
			c.ClientPort != 2181 || c.MaxClientCnxns != 60 || c.Distributed() || len(c.Notes) != 0 {
			t.Errorf("%s: got %+v", p, c)
		}
	}
}

func TestLoadConfigDockerEnv(t *testing.T) {
	data := t.TempDir()
	envOf := func(m map[string]string) func(string) string {
		return func(k string) string { return m[k] }
	}
	c, err := LoadConfig("", envOf(map[string]string{"ZOO_DATA_DIR": data}))
	if err != nil {
		t.Fatal(err)
	}
	// The image's defaults: server.1=localhost:2888:3888;2181, myid 1,
	// standalone because there is a single participant.
	if c.TickTime != 2000 || c.InitLimit != 5 || c.SyncLimit != 2 || c.DataLogDir != "/datalog" ||
		c.ServerID != 1 || c.ClientPort != 2181 || c.Distributed() || !c.AdminEnableServer || c.FourLetterWordEnabled("ruok") {
		t.Errorf("defaults: %+v", c)
	}

	c, err = LoadConfig("", envOf(map[string]string{
		"ZOO_DATA_DIR":                  data,
		"ZOO_DATA_LOG_DIR":              data + "/log",
		"ZOO_MY_ID":                     "2",
		"ZOO_SERVERS":                   "server.1=zoo1:2888:3888;2181 server.2=zoo2:2888:3888;2181\n server.3=zoo3:2888:3888;2181",
		"ZOO_TICK_TIME":                 "1000",
		"ZOO_INIT_LIMIT":                "10",
		"ZOO_SYNC_LIMIT":                "4",
		"ZOO_MAX_CLIENT_CNXNS":          "0",
		"ZOO_STANDALONE_ENABLED":        "false",
		"ZOO_ADMINSERVER_ENABLED":       "false",
		"ZOO_AUTOPURGE_PURGEINTERVAL":   "1",
		"ZOO_AUTOPURGE_SNAPRETAINCOUNT": "10",
		"ZOO_4LW_COMMANDS_WHITELIST":    "*",
		"ZOO_CFG_EXTRA":                 "metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider metricsProvider.httpPort=7001",
	}))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{
		"tick": c.TickTime, "init": c.InitLimit, "sync": c.SyncLimit, "log": c.DataLogDir, "id": c.ServerID,
		"servers": len(c.Servers), "cnxns": c.MaxClientCnxns, "standalone": c.StandaloneEnabled,
		"admin": c.AdminEnableServer, "purge": c.AutopurgePurgeInterval, "retain": c.AutopurgeSnapRetainCount,
		"mntr": c.FourLetterWordEnabled("mntr"), "metrics": c.MetricsProviderHTTPPort, "port": c.ClientPort,
	}
	want := map[string]any{
		"tick": 1000, "init": 10, "sync": 4, "log": data + "/log", "id": int64(2),
		"servers": 3, "cnxns": 0, "standalone": false,
		"admin": false, "purge": time.Hour, "retain": 10,
		"mntr": true, "metrics": 7001, "port": 2181,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}

	// A myid file in the data dir wins over ZOO_MY_ID, as the image only
	// writes one when none exists.
	if err := os.WriteFile(filepath.Join(data, "myid"), []byte("3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err = LoadConfig("", envOf(map[string]string{"ZOO_DATA_DIR": data, "ZOO_MY_ID": "2",
		"ZOO_SERVERS": "server.1=zoo1:2888:3888;2181 server.2=zoo2:2888:3888;2181 server.3=zoo3:2888:3888;2181"}))
	if err != nil || c.ServerID != 3 {
		t.Errorf("myid file: ServerID = %d, err %v; want 3", c.ServerID, err)
	}

	for _, bad := range []struct{ env, value, want string }{
		{"ZOO_TICK_TIME", "2s", `invalid value "2s" for tickTime`},
		{"ZOO_MY_ID", "x", `for ZOO_MY_ID`},
		{"ZOO_CFG_EXTRA", "noequals", `for ZOO_CFG_EXTRA`},
		{"ZOO_STANDALONE_ENABLED", "maybe", `for standaloneEnabled`},
	} {
		m := map[string]string{"ZOO_DATA_DIR": t.TempDir(), bad.env: bad.value}
		if _, err := LoadConfig("", envOf(m)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s=%s: err = %v, want %q", bad.env, bad.value, err, bad.want)
		}
	}
}

// TestNewLogger covers log.go: console output by default, JSON with the
// flag, level filtering, and bad levels.
func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	log, err := NewLogger(&buf, true, "WARN")
	if err != nil {
		t.Fatal(err)
	}
	log.Info().Msg("hidden")
	log.Warn().Int64("sid", 3).Msg("shown")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("JSON output %q: %v", buf.String(), err)
	}
	if rec["level"] != "warn" || rec["message"] != "shown" || rec["sid"] != float64(3) || rec["time"] == nil {
		t.Errorf("JSON record = %v", rec)
	}

	buf.Reset()
	log, err = NewLogger(&buf, false, "")
	if err != nil {
		t.Fatal(err)
	}
	log.Debug().Msg("hidden")
	log.Info().Str("peer", "zk1").Msg("hello")
	out := buf.String()
	if !strings.Contains(out, "INF") || !strings.Contains(out, "hello") || !strings.Contains(out, "peer=zk1") ||
		strings.Contains(out, "hidden") || strings.HasPrefix(out, "{") || strings.Contains(out, "\x1b[") {
		t.Errorf("console output = %q", out)
	}

	if _, err := NewLogger(&buf, false, "loud"); !errors.Is(err, ErrLogLevel) {
		t.Errorf("NewLogger(level loud) err = %v, want ErrLogLevel", err)
	}
}

// zooKeeperVerdicts runs testdata/ConfigCheck.java, Apache ZooKeeper's own
// QuorumPeerConfig, over the given zoo.cfg files in one JVM and returns
// its line per file. It skips the test when java or ZooKeeper is missing.
func zooKeeperVerdicts(t *testing.T, paths []string) []string {
	t.Helper()
	java, err := exec.LookPath("java")
	if err != nil {
		t.Skip("java not installed; skipping the comparison with Apache ZooKeeper")
	}
	for _, jar := range zkClasspath {
		if _, err := os.Stat(jar); err != nil {
			t.Skipf("%s missing; skipping the comparison with Apache ZooKeeper", jar)
		}
	}
	args := append([]string{"-Xmx128m", "-cp", strings.Join(zkClasspath, ":"), "testdata/ConfigCheck.java"}, paths...)
	out, err := exec.Command(java, args...).Output()
	if err != nil {
		t.Fatalf("ConfigCheck: %v\n%s", err, out)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "OK ") || strings.HasPrefix(l, "ERR ") {
			lines = append(lines, l)
		}
	}
	if len(lines) != len(paths) {
		t.Fatalf("ConfigCheck printed %d verdicts for %d files:\n%s", len(lines), len(paths), out)
	}
	return lines
}

// TestLoadConfigAgreesWithZooKeeper feeds every config of goodConfigs and
// badConfigs, and the testdata configs, to Apache ZooKeeper's parser: it
// must accept what LoadConfig accepts and derive the same tick, session
// timeouts, client port, server id and mode, and reject what LoadConfig
// rejects unless zkAccepts says why gokeeper is stricter.
func TestLoadConfigAgreesWithZooKeeper(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Apache ZooKeeper's config parser in a JVM")
	}
	type entry struct {
		name, path, zkAccepts string
		good                  bool
	}
	var entries []entry
	for _, g := range goodConfigs {
		entries = append(entries, entry{name: g.name, path: writeCfg(t, g.text, g.myid), good: true})
	}
	for _, b := range badConfigs {
		entries = append(entries, entry{name: b.name, path: writeCfg(t, b.text, b.myid), zkAccepts: b.zkAccepts})
	}
	entries = append(entries,
		entry{name: "zoo_sample", path: "testdata/zoo_sample.cfg", good: true},
		entry{name: "dynamic", path: "testdata/dynamic/zoo.cfg", good: true},
	)
	paths := make([]string, len(entries))
	for i, e := range entries {
		paths[i] = e.path
	}
	verdicts := zooKeeperVerdicts(t, paths)
	// knownDifferences are good configs ZooKeeper 3.8 rejects, and why.
	knownDifferences := map[string]string{
		"purge interval units": "time unit suffixes arrived in ZooKeeper 3.10; 3.8 takes a bare number of hours",
	}
	for i, e := range entries {
		v := verdicts[i]
		if why, ok := knownDifferences[e.name]; ok {
			if !strings.HasPrefix(v, "ERR ") {
				t.Errorf("%s: expected ZooKeeper 3.8 to reject it (%s), got %s", e.name, why, v)
			}
			continue
		}
		if !e.good {
			if e.zkAccepts == "" && !strings.HasPrefix(v, "ERR ") {
				t.Errorf("%s: gokeeper rejects, ZooKeeper accepts: %s", e.name, v)
			}
			if e.zkAccepts != "" && !strings.HasPrefix(v, "OK ") {
				t.Errorf("%s: marked as accepted by ZooKeeper (%s), but: %s", e.name, e.zkAccepts, v)
			}
			continue
		}
		c, err := LoadConfig(e.path, nil)
		if err != nil {
			t.Errorf("%s: %v", e.name, err)
			continue
		}
		want := fmt.Sprintf("OK tickTime=%d minSessionTimeout=%d maxSessionTimeout=%d clientPort=%d serverId=%d distributed=%t voters=%d",
			c.TickTime, c.EffectiveMinSessionTimeout(), c.EffectiveMaxSessionTimeout(), c.ClientPort, c.ServerID, c.Distributed(), len(c.Voters()))
		if v != want {
			t.Errorf("%s:\nZooKeeper %s\ngokeeper  %s", e.name, v, want)
		}
	}
}

// TestParsePropertiesAgreesWithJava loads every propertiesCases text with
// java.util.Properties (testdata/PropsCheck.java) and checks both the
// table and parseProperties against it.
func TestParsePropertiesAgreesWithJava(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a JVM")
	}
	java, err := exec.LookPath("java")
	if err != nil {
		t.Skip("java not installed; skipping the comparison with java.util.Properties")
	}
	dir := t.TempDir()
	args := []string{"-Xmx64m", "testdata/PropsCheck.java"}
	for i, tc := range propertiesCases {
		p := filepath.Join(dir, strconv.Itoa(i)+".properties")
		if err := os.WriteFile(p, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	out, err := exec.Command(java, args...).Output()
	if err != nil {
		t.Fatalf("PropsCheck: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(propertiesCases) {
		t.Fatalf("PropsCheck printed %d lines for %d cases:\n%s", len(lines), len(propertiesCases), out)
	}
	for i, tc := range propertiesCases {
		fields := strings.Fields(lines[i])[1:]
		javaProps := map[string]string{}
		for j := 0; j+1 < len(fields); j += 2 {
			k, err1 := hex.DecodeString(fields[j][1:])
			v, err2 := hex.DecodeString(fields[j+1][1:])
			if err1 != nil || err2 != nil {
				t.Fatalf("bad PropsCheck line %q", lines[i])
			}
			javaProps[string(k)] = string(v)
		}
		if !reflect.DeepEqual(javaProps, tc.want) {
			t.Errorf("%s: Java makes %q of %q, the table says %q", tc.name, javaProps, tc.text, tc.want)
		}
		props, err := parseProperties(tc.text)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		ours := map[string]string{}
		for _, p := range props {
			ours[p.key] = p.value
		}
		if !reflect.DeepEqual(ours, javaProps) {
			t.Errorf("%s: parseProperties makes %q of %q, Java %q", tc.name, ours, tc.text, javaProps)
		}
	}
}

// FuzzParseProperties checks that no input makes parseProperties panic
// and that every key and value it returns is trimmed.
func FuzzParseProperties(f *testing.F) {
	for _, tc := range propertiesCases {
		f.Add(tc.text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		props, err := parseProperties(text)
		if err != nil {
			return
		}
		for _, p := range props {
			if p.key != strings.TrimSpace(p.key) || p.value != strings.TrimSpace(p.value) {
				t.Fatalf("untrimmed %q=%q from %q", p.key, p.value, text)
			}
		}
	})
}

// TestJVMFlags (issue 13 bug 15): the -D flags of SERVER_JVMFLAGS and
// JVMFLAGS set the system properties gokeeper reads, below zoo.cfg and
// above the defaults as in ZooKeeper; JVMFLAGS comes last, so it wins;
// the flags gokeeper does not read are ignored with a note; a bad value
// of one it reads stops the start, naming the flag and its variable.
func TestJVMFlags(t *testing.T) {
	const base = "dataDir=$DATA\nclientPort=2181\n"
	for _, tc := range []struct {
		name       string
		zooCfg     string
		server     string // SERVER_JVMFLAGS
		jvm        string // JVMFLAGS
		check      func(c server.Config) bool
		note, fail string
	}{
		{name: "properties read", server: "-Xmx1g -XX:+UseG1GC -Dzookeeper.snapCount=5000 -Djute.maxbuffer=2097152 -Dzookeeper.forceSync=no",
			jvm: "-Dzookeeper.4lw.commands.whitelist=* -Dzookeeper.admin.enableServer=false -Dzookeeper.skipACL=yes -Dzookeeper.maxCnxns=7",
			check: func(c server.Config) bool {
				return c.SnapCount == 5000 && c.JuteMaxBuffer == 2097152 && !c.ForceSync && c.FourLetterWordsWhitelist == "*" &&
					!c.AdminEnableServer && c.SkipACL && c.MaxCnxns == 7
			}},
		{name: "JVMFLAGS after SERVER_JVMFLAGS", server: "-Dzookeeper.snapCount=5000", jvm: "-Dzookeeper.snapCount=7000",
			check: func(c server.Config) bool { return c.SnapCount == 7000 }},
		{name: "last of repeated flags", jvm: "-Dzookeeper.snapCount=5000 -Dzookeeper.snapCount=6000",
			check: func(c server.Config) bool { return c.SnapCount == 6000 }},
		{name: "zoo.cfg wins", zooCfg: "snapCount=100\n", server: "-Dzookeeper.snapCount=5000",
			check: func(c server.Config) bool { return c.SnapCount == 100 }, note: "-Dzookeeper.snapCount (SERVER_JVMFLAGS): overridden by zoo.cfg's snapCount"},
		{name: "zoo.cfg wins over a bad flag", zooCfg: "zookeeper.forceSync=yes\n", jvm: "-Dzookeeper.forceSync=maybe",
			check: func(c server.Config) bool { return c.ForceSync }},
		{name: "unknown property", jvm: "-Dzookeeper.commitProcessor.numWorkerThreads=4",
			check: func(c server.Config) bool { return len(c.SystemProperties) == 0 },
			note:  "-Dzookeeper.commitProcessor.numWorkerThreads (JVMFLAGS): ignored: not a system property gokeeper reads"},
		{name: "security properties", jvm: "-Dzookeeper.serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory -Dzookeeper.ssl.keyStore.location=/ks.jks -Dzookeeper.authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider -Dzookeeper.superUser.2=bob",
			check: func(c server.Config) bool {
				p := c.SystemProperties
				return p["serverCnxnFactory"] != "" && p["ssl.keyStore.location"] == "/ks.jks" &&
					p["authProvider.1"] != "" && p["superUser.2"] == "bob"
			}},
		{name: "quorum TLS properties", server: "-Dzookeeper.ssl.quorum.keyStore.location=/q.p12 -Dzookeeper.ssl.quorum.hostnameVerification=false",
			check: func(c server.Config) bool {
				return c.SystemProperties["ssl.quorum.keyStore.location"] == "/q.p12" && c.SystemProperties["ssl.quorum.hostnameVerification"] == "false"
			}},
		{name: "sslQuorum is zoo.cfg-only", server: "-Dzookeeper.sslQuorum=true",
			check: func(c server.Config) bool { return !c.SSLQuorum },
			note:  "-Dzookeeper.sslQuorum (SERVER_JVMFLAGS): ignored, as ZooKeeper does: sslQuorum is read from zoo.cfg only"},
		{name: "unprefixed property", jvm: "-DsnapCount=5",
			check: func(c server.Config) bool { return c.SnapCount == server.DefaultConfig().SnapCount },
			note:  "-DsnapCount (JVMFLAGS): ignored"},
		{name: "zoo.cfg-only key", server: "-Dzookeeper.tickTime=1",
			check: func(c server.Config) bool { return c.TickTime == server.DefaultConfig().TickTime },
			note:  "-Dzookeeper.tickTime (SERVER_JVMFLAGS): ignored, as ZooKeeper does: tickTime is read from zoo.cfg only"},
		{name: "container check interval", jvm: "-Dzookeeper.znode.container.checkIntervalMs=500",
			check: func(c server.Config) bool { return c.SystemProperties["znode.container.checkIntervalMs"] == "500" }},
		{name: "bad integer", server: "-Dzookeeper.snapCount=lots", fail: "-Dzookeeper.snapCount (SERVER_JVMFLAGS)"},
		{name: "bad yes/no", jvm: "-Dzookeeper.forceSync=true", fail: "-Dzookeeper.forceSync (JVMFLAGS)"},
		{name: "bad jute.maxbuffer", jvm: "-Djute.maxbuffer=1m", fail: "-Djute.maxbuffer (JVMFLAGS)"},
		{name: "bad container interval", jvm: "-Dzookeeper.znode.container.checkIntervalMs=0", fail: "-Dzookeeper.znode.container.checkIntervalMs (JVMFLAGS)"},
		{name: "bad container interval in zoo.cfg", zooCfg: "znode.container.checkIntervalMs=soon\n", fail: "znode.container.checkIntervalMs"},
		{name: "no name", jvm: "-D=1", fail: "JVMFLAGS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flags := map[string]string{"SERVER_JVMFLAGS": tc.server, "JVMFLAGS": tc.jvm}
			env := func(k string) string { return flags[k] }
			c, err := LoadConfig(writeCfg(t, base+tc.zooCfg, ""), env)
			if tc.fail != "" {
				if !errors.Is(err, server.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.fail) {
					t.Fatalf("LoadConfig error = %v, want ErrInvalidConfig naming %q", err, tc.fail)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("config not as the flags say: %+v", c)
			}
			if tc.note != "" && !slices.ContainsFunc(c.Notes, func(n string) bool { return strings.Contains(n, tc.note) }) {
				t.Errorf("notes %q, want one containing %q", c.Notes, tc.note)
			}
		})
	}
}

// TestLoadJAAS reads the JAAS file of -Djava.security.auth.login.config:
// the Server section's DIGEST-MD5 users (none without the section), or an
// error naming the property when the file or the mechanism will not do.
func TestLoadJAAS(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.conf", "Server {\n org.apache.zookeeper.server.auth.DigestLoginModule required\n user_super=\"super_secret\"\n user_jaasuser=\"jaas_password\";\n};\nZK {\n org.apache.zookeeper.server.auth.DigestLoginModule required user_other=\"x\";\n};\n")
	krb := write("krb.conf", "Server {\n com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab=\"/k\";\n};\n")
	for _, tc := range []struct {
		name  string
		props map[string]string
		users map[string]string
		fail  string
	}{
		{"Server section", map[string]string{"java.security.auth.login.config": good}, map[string]string{"super": "super_secret", "jaasuser": "jaas_password"}, ""},
		{"sasl.serverconfig", map[string]string{"java.security.auth.login.config": good, "sasl.serverconfig": "ZK"}, map[string]string{"other": "x"}, ""},
		// NB: as ZooKeeper, which then serves no SASL on the client port.
		{"missing section", map[string]string{"java.security.auth.login.config": good, "sasl.serverconfig": "Nope"}, nil, ""},
		{"missing file", map[string]string{"java.security.auth.login.config": filepath.Join(dir, "none")}, nil, "java.security.auth.login.config"},
		{"kerberos", map[string]string{"java.security.auth.login.config": krb}, nil, "GSSAPI"},
		{"no JAAS", map[string]string{}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := server.DefaultConfig()
			cfg.SystemProperties = tc.props
			err := loadJAAS(&cfg)
			if tc.fail != "" {
				if err == nil || !strings.Contains(err.Error(), tc.fail) || !strings.Contains(err.Error(), "java.security.auth.login.config") {
					t.Fatalf("got %v, want an error naming the property and %q", err, tc.fail)
				}
				return
			}
			if err != nil || !maps.Equal(cfg.SASLUsers, tc.users) {
				t.Fatalf("users %v, %v; want %v", cfg.SASLUsers, err, tc.users)
			}
		})
	}
}
