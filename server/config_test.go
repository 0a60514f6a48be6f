package server

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gokeeper/gokeeper/quorum"
)

func TestDefaultConfigMatchesZooKeeper(t *testing.T) {
	c := DefaultConfig()
	c.TickTime = 2000
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"maxClientCnxns", c.MaxClientCnxns, 60},
		{"minSessionTimeout", c.EffectiveMinSessionTimeout(), 4000},
		{"maxSessionTimeout", c.EffectiveMaxSessionTimeout(), 40000},
		{"globalOutstandingLimit", c.GlobalOutstandingLimit, 1000},
		{"snapCount", c.SnapCount, 100000},
		{"autopurge.snapRetainCount", c.AutopurgeSnapRetainCount, 3},
		{"autopurge.purgeInterval", c.AutopurgePurgeInterval, time.Duration(0)},
		{"forceSync", c.ForceSync, true},
		{"fsync.warningthresholdms", c.FsyncWarningThresholdMs, int64(1000)},
		{"jute.maxbuffer", c.JuteMaxBuffer, 0xfffff},
		{"admin.enableServer", c.AdminEnableServer, true},
		{"admin.serverAddress", c.AdminServerAddress, "0.0.0.0"},
		{"admin.serverPort", c.AdminServerPort, 8080},
		{"admin.commandURL", c.AdminCommandURL, "/commands"},
		{"metricsProvider.httpPort", c.MetricsProviderHTTPPort, 7000},
		{"standaloneEnabled", c.StandaloneEnabled, true},
		{"reconfigEnabled", c.ReconfigEnabled, false},
		{"electionAlg", c.ElectionAlg, 3},
		{"clientPortListenBacklog", c.ClientPortListenBacklog, -1},
		{"serverId", c.ServerID, UnsetServerID},
		{"tickTime default", DefaultConfig().TickTime, 3000},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if err := DefaultConfig().Validate(); err == nil || !strings.Contains(err.Error(), "dataDir") {
		t.Errorf("DefaultConfig().Validate() = %v, want dataDir not set", err)
	}
}

func validConfig() Config {
	c := DefaultConfig()
	c.DataDir = "/var/lib/zookeeper"
	c.ClientPort = 2181
	return c
}

func ensembleCfg(t *testing.T, lines ...string) []QuorumServer {
	t.Helper()
	var out []QuorumServer
	for i, l := range lines {
		qs, err := ParseQuorumServer(int64(i+1), l, false)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, qs)
	}
	return out
}

func TestValidate(t *testing.T) {
	three := ensembleCfg(t, "a:2888:3888", "b:2888:3888", "c:2888:3888")
	for _, tc := range []struct {
		name    string
		mutate  func(*Config)
		wantKey string // empty: valid
	}{
		{"valid standalone", func(*Config) {}, ""},
		{"zero tick", func(c *Config) { c.TickTime = 0 }, "tickTime"},
		{"negative maxClientCnxns", func(c *Config) { c.MaxClientCnxns = -1 }, "maxClientCnxns"},
		{"port out of range", func(c *Config) { c.ClientPort = 70000 }, "clientPort"},
		{"admin port out of range", func(c *Config) { c.AdminServerPort = -2 }, "admin.serverPort"},
		{"min > max", func(c *Config) { c.MinSessionTimeout = 70000 }, "minSessionTimeout"},
		{"min <= explicit max", func(c *Config) { c.MinSessionTimeout = 50000; c.MaxSessionTimeout = 60000 }, ""},
		{"electionAlg 1", func(c *Config) { c.ElectionAlg = 1 }, "electionAlg"},
		{"snapRetainCount 2", func(c *Config) { c.AutopurgeSnapRetainCount = 2 }, "autopurge.snapRetainCount"},
		{"no dataDir", func(c *Config) { c.DataDir = "" }, "dataDir"},
		{"address without port", func(c *Config) { c.ClientPort = 0; c.ClientPortAddress = "127.0.0.1" }, "clientPortAddress"},
		{"secure address without port", func(c *Config) { c.SecureClientPortAddress = "127.0.0.1" }, "secureClientPortAddress"},
		{"backlog 0", func(c *Config) { c.ClientPortListenBacklog = 0 }, "clientPortListenBacklog"},
		{"command URL", func(c *Config) { c.AdminCommandURL = "commands" }, "admin.commandURL"},
		{"ttl with big id", func(c *Config) { c.ExtendedTypesEnabled = true; c.ServerID = 300 }, "extendedTypesEnabled"},
		{"ensemble ok", func(c *Config) { c.Servers = three; c.ServerID = 2; c.InitLimit = 5; c.SyncLimit = 2 }, ""},
		{"ensemble no initLimit", func(c *Config) { c.Servers = three; c.ServerID = 2; c.SyncLimit = 2 }, "initLimit"},
		{"ensemble no syncLimit", func(c *Config) { c.Servers = three; c.ServerID = 2; c.InitLimit = 5 }, "syncLimit"},
		{"ensemble no myid", func(c *Config) { c.Servers = three; c.InitLimit = 5; c.SyncLimit = 2 }, "myid"},
		{"ensemble myid not listed", func(c *Config) { c.Servers = three; c.ServerID = 9; c.InitLimit = 5; c.SyncLimit = 2 }, "myid"},
		{"duplicate id", func(c *Config) { c.Servers = append(three, three[0]) }, "server.1"},
		{"single server standalone", func(c *Config) { c.Servers = three[:1] }, ""},
		{"observers without quorum", func(c *Config) {
			c.Servers = ensembleCfg(t, "a:2888:3888", "b:2888:3888:observer")
		}, "standaloneEnabled"},
		{"only observers", func(c *Config) { c.Servers = ensembleCfg(t, "a:2888:3888:observer") }, "server.1"},
		{"standalone disabled, no servers", func(c *Config) { c.StandaloneEnabled = false }, "standaloneEnabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mutate(&c)
			err := c.Validate()
			if tc.wantKey == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want a ConfigError", err)
			}
			if ce.Key != tc.wantKey || !strings.Contains(err.Error(), tc.wantKey) {
				t.Fatalf("Validate() = %q (key %q), want key %q", err, ce.Key, tc.wantKey)
			}
		})
	}
}

func TestConfigErrorText(t *testing.T) {
	err := error(&ConfigError{Key: "tickTime", Value: "abc", Reason: "not an integer"})
	if got, want := err.Error(), `invalid value "abc" for tickTime: not an integer`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, ErrInvalidConfig) {
		t.Error("ConfigError does not wrap ErrInvalidConfig")
	}
	if got, want := (&ConfigError{Key: "dataDir", Reason: "not set"}).Error(), "dataDir: not set"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestParseQuorumServer(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want: String() form; empty means error
		multi    bool
	}{
		{"zk1:2888:3888", "zk1:2888:3888:participant", false},
		{" zk1:2888:3888:observer ", "zk1:2888:3888:observer", false},
		{"zk1:2888:3888:Participant;2181", "zk1:2888:3888:participant;0.0.0.0:2181", false},
		{"zk1:2888:3888;127.0.0.1:2181", "zk1:2888:3888:participant;127.0.0.1:2181", false},
		{"[::1]:2888:3888;[::1]:2181", "[::1]:2888:3888:participant;[::1]:2181", false},
		{"zk1:2888:3888;;2281", "zk1:2888:3888:participant;;0.0.0.0:2281", false},
		{"zk1:2888:3888;2181;2281", "zk1:2888:3888:participant;0.0.0.0:2181;0.0.0.0:2281", false},
		{"b:2888:3888|a:2889:3889", "a:2889:3889|b:2888:3888:participant", true},
		{"b:2888:3888|a:2889:3889", "", false},
		{"zk1:2888", "", false},
		{"zk1:2888:3888:leader", "", false},
		{"zk1:2888:2888", "", false},
		{"zk1:x:3888", "", false},
		{"zk1:2888:99999", "", false},
		{"zk1:2888:3888;a:b:c", "", false},
		{"zk1:2888:3888;1;2;3", "", false},
		{"[::1:2888:3888", "", false},
		{"a:1:2:observer|b:3:4:participant", "", true},
	} {
		qs, err := ParseQuorumServer(7, tc.in, tc.multi)
		if tc.want == "" {
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Key != "server.7" {
				t.Errorf("ParseQuorumServer(%q) = %v, %v; want a server.7 error", tc.in, qs, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseQuorumServer(%q): %v", tc.in, err)
			continue
		}
		if got := qs.String(); got != tc.want {
			t.Errorf("ParseQuorumServer(%q).String() = %q, want %q", tc.in, got, tc.want)
		}
		again, err := ParseQuorumServer(7, qs.String(), tc.multi)
		if err != nil || again.String() != qs.String() {
			t.Errorf("round trip of %q: %v, %v", qs.String(), again, err)
		}
	}
}

func TestFourLetterWordEnabled(t *testing.T) {
	for _, tc := range []struct {
		list, word string
		want       bool
	}{
		{"", "srvr", true},
		{"", "ruok", false},
		{"*", "mntr", true},
		{"*", "nope", false},
		{" stat , ruok,isro", "ruok", true},
		{" stat , ruok,isro", "isro", true},
		{" stat , ruok,isro", "conf", false},
		{"stat", "srvr", true},
		{"foo bar", "foo", false},
	} {
		c := DefaultConfig()
		c.FourLetterWordsWhitelist = tc.list
		if got := c.FourLetterWordEnabled(tc.word); got != tc.want {
			t.Errorf("whitelist %q: FourLetterWordEnabled(%q) = %v, want %v", tc.list, tc.word, got, tc.want)
		}
	}
}

// TestWriteConfGolden renders the configurations Apache ZooKeeper 3.8.0
// ran with when testdata/conf*.txt were captured (its `conf` output, with
// 4lw.commands.whitelist=*) and compares byte for byte.
func TestWriteConfGolden(t *testing.T) {
	standalone := DefaultConfig()
	standalone.TickTime = 2000
	standalone.DataDir = "/tmp/h5zk/s1/data"
	standalone.ClientPort = 21811
	standalone.ClientPortAddress = "127.0.0.1"
	standalone.MaxClientCnxns = 0

	quorum := DefaultConfig()
	quorum.TickTime = 2000
	quorum.InitLimit, quorum.SyncLimit = 5, 2
	quorum.DataDir = "/tmp/h5zk/s2/data"
	quorum.StandaloneEnabled = false
	quorum.ServerID = 1
	quorum.Servers = ensembleCfg(t, "127.0.0.1:22888:23888;127.0.0.1:21812")
	quorum.ClientPort = 21812

	for _, tc := range []struct {
		file string
		cfg  Config
		rt   ConfRuntime
	}{
		{"testdata/conf.txt", standalone, ConfRuntime{SnapDir: "/tmp/h5zk/s1/data/version-2", LogDir: "/tmp/h5zk/s1/data/version-2", DataDirSize: 457, DataLogSize: 457}},
		{"testdata/conf-quorum.txt", quorum, ConfRuntime{SnapDir: "/tmp/h5zk/s2/data/version-2", LogDir: "/tmp/h5zk/s2/data/version-2", DataDirSize: 527, DataLogSize: 527}},
	} {
		want, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		if err := tc.cfg.Validate(); err != nil {
			t.Fatalf("%s: Validate: %v", tc.file, err)
		}
		var b strings.Builder
		if err := tc.cfg.WriteConf(&b, tc.rt); err != nil {
			t.Fatal(err)
		}
		if b.String() != string(want) {
			t.Errorf("%s: WriteConf =\n%s\nwant\n%s", tc.file, b.String(), want)
		}
	}
}

func TestMembershipString(t *testing.T) {
	c := DefaultConfig()
	c.Servers = ensembleCfg(t, "a:2888:3888", "b:2888:3888;2181", "c:2888:3888:observer")
	c.ConfigVersion = 0x100000003
	want := "server.1=a:2888:3888:participant\n" +
		"server.2=b:2888:3888:participant;0.0.0.0:2181\n" +
		"server.3=c:2888:3888:observer\n" +
		"version=100000003"
	if got := c.MembershipString(); got != want {
		t.Errorf("MembershipString() =\n%s\nwant\n%s", got, want)
	}
	if !c.Distributed() || len(c.Voters()) != 2 {
		t.Errorf("Distributed() = %v, Voters = %d; want true, 2", c.Distributed(), len(c.Voters()))
	}
}

// TestCoreConfig: the quorum core ticks at most every 20 ms, so the
// election's 200 ms finalize wait is not rounded up to tickTime/2, and
// its limits are zoo.cfg's in wall time.
func TestCoreConfig(t *testing.T) {
	for _, tc := range []struct {
		tickTime, initLimit, syncLimit, snapCount int
		tick                                      time.Duration
		want                                      quorum.Config
	}{
		{2000, 10, 5, 100000, 20 * time.Millisecond, quorum.Config{InitLimit: 1000, SyncLimit: 500, PingInterval: 50,
			FinalizeWait: 10, MinNotifyInterval: 10, MaxNotifyInterval: 3000, MaxDiff: 100000}},
		{200, 10, 5, 10, 20 * time.Millisecond, quorum.Config{InitLimit: 100, SyncLimit: 50, PingInterval: 5,
			FinalizeWait: 10, MinNotifyInterval: 10, MaxNotifyInterval: 3000, MaxDiff: 10}},
		{20, 3, 2, 10, 10 * time.Millisecond, quorum.Config{InitLimit: 6, SyncLimit: 4, PingInterval: 1,
			FinalizeWait: 20, MinNotifyInterval: 20, MaxNotifyInterval: 6000, MaxDiff: 10}},
	} {
		cfg := Config{TickTime: tc.tickTime, InitLimit: tc.initLimit, SyncLimit: tc.syncLimit, SnapCount: tc.snapCount}
		tick, got := coreConfig(cfg)
		got.ConfigText = nil
		if tick != tc.tick || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("tickTime %d: tick %v, core %+v; want %v, %+v", tc.tickTime, tick, got, tc.tick, tc.want)
		}
	}
}
