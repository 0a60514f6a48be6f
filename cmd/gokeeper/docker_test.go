package main

// Tests of the Docker image's scripts, docker/docker-entrypoint.sh and
// docker/zkServer.sh, without Docker: the entrypoint is pointed at temp
// directories through ZOO_CONF_DIR, ZOO_DATA_DIR, ZOO_DATA_LOG_DIR and
// ZOO_LOG_DIR, and runs in an environment holding only what each test
// sets (so a developer's own ZOO_* variables do not leak in). Stand-ins
// for id, chown and setpriv on PATH let the tests take the image's root
// branch, or stay out of it, whatever user runs them.

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-zookeeper/zk"
)

// composeMembers returns the environment docker-compose.yml gives each
// member, ZOO_MY_ID and ZOO_SERVERS, read line by line (no YAML parser is
// among the module's dependencies). It checks that there are three, with
// myids 1 to 3 and one ZOO_SERVERS.
func composeMembers(t *testing.T) [][]string {
	t.Helper()
	text := readFile(t, filepath.Join("..", "..", "docker-compose.yml"))
	var members [][]string
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ": ")
		switch {
		case !ok:
		case k == "ZOO_MY_ID":
			members = append(members, []string{"ZOO_MY_ID=" + v})
		case k == "ZOO_SERVERS" && len(members) > 0:
			members[len(members)-1] = append(members[len(members)-1], "ZOO_SERVERS="+v)
		}
	}
	if len(members) != 3 {
		t.Fatalf("docker-compose.yml: %d members, want 3: %q", len(members), members)
	}
	for i, m := range members {
		if len(m) != 2 || m[0] != "ZOO_MY_ID="+strconv.Itoa(i+1) || m[1] != members[0][1] {
			t.Fatalf("docker-compose.yml: member %d has %q; want ZOO_MY_ID=%d and the ZOO_SERVERS of the others", i+1, m, i+1)
		}
	}
	return members
}

// dockerScript returns the absolute path of a script in docker/.
func dockerScript(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "docker", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// dockerDirs stand in for the image's /conf, /data, /datalog and /logs.
type dockerDirs struct{ conf, data, dataLog, log string }

func newDockerDirs(t *testing.T) dockerDirs {
	t.Helper()
	root := t.TempDir()
	d := dockerDirs{
		conf:    filepath.Join(root, "conf"),
		data:    filepath.Join(root, "data"),
		dataLog: filepath.Join(root, "datalog"),
		log:     filepath.Join(root, "logs"),
	}
	for _, dir := range []string{d.conf, d.data, d.dataLog, d.log} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// env returns the variables pointing the entrypoint at the directories.
func (d dockerDirs) env() []string {
	return []string{"ZOO_CONF_DIR=" + d.conf, "ZOO_DATA_DIR=" + d.data, "ZOO_DATA_LOG_DIR=" + d.dataLog, "ZOO_LOG_DIR=" + d.log}
}

// fakeBin writes stand-ins for id, chown and setpriv into a temp dir and
// returns it. Each appends its command line to the file $CALLS; id -u
// answers $FAKE_UID (0 when unset); setpriv drops its options and runs
// the rest as uid 1000, the image's zookeeper user.
func fakeBin(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	scripts := map[string]string{
		"id":      `[ "$1" = -u ] && echo "${FAKE_UID:-0}"`,
		"chown":   `echo "chown $*" >>"$CALLS"`,
		"setpriv": `echo "setpriv $*" >>"$CALLS"; while [ "${1#--}" != "$1" ]; do shift; done; FAKE_UID=1000 exec "$@"`,
	}
	for name, body := range scripts {
		writeScript(t, filepath.Join(dir, name), body)
	}
	return dir
}

func writeScript(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// entrypointCmd returns a command running the entrypoint with args, in an
// environment holding env only. Its stdin is empty.
func entrypointCmd(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(dockerScript(t, "docker-entrypoint.sh"), args...)
	cmd.Env = env
	return cmd
}

// readFile returns a file's contents, or "<missing>".
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return "<missing>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// entrypointCase is one run of the entrypoint in TestDockerEntrypointConfig.
type entrypointCase struct {
	name string
	env  []string
	// globFile, if set, is a file created in the working directory,
	// where an unquoted * would match it.
	globFile string
	// cfg and myid, if set, exist before the entrypoint runs.
	cfg, myid string
	// want are the lines of zoo.cfg after dataDir and dataLogDir,
	// or all of it when cfg was set.
	want     []string
	wantMyid string
	// rawEnv marks values that `gokeeper serve` without --config
	// keeps as they are but zoo.cfg's .properties reader decodes.
	rawEnv bool
}

// TestDockerEntrypointConfig runs the entrypoint with the image's
// variables and checks the zoo.cfg and myid it leaves, against the
// official image's script: the same lines in the same order, defaults
// for unset or empty variables, a mounted zoo.cfg and an existing myid
// left alone. A zoo.cfg it writes must load (gokeeper refuses no key of
// it) and say what `gokeeper serve` without --config makes of the same
// variables.
func TestDockerEntrypointConfig(t *testing.T) {
	defaults := []string{
		"tickTime=2000",
		"initLimit=5",
		"syncLimit=2",
		"autopurge.snapRetainCount=3",
		"autopurge.purgeInterval=0",
		"maxClientCnxns=60",
		"standaloneEnabled=true",
		"admin.enableServer=true",
	}
	with := func(extra ...string) []string { return append(slices.Clone(defaults), extra...) }
	compose := composeMembers(t)
	composeServers := strings.TrimPrefix(compose[0][1], "ZOO_SERVERS=")
	composeLines := strings.Fields(composeServers)
	tests := []entrypointCase{{
		name:     "defaults",
		want:     with("server.1=localhost:2888:3888;2181"),
		wantMyid: "1\n",
	}, {
		name: "empty variables take the defaults",
		env: []string{"ZOO_TICK_TIME=", "ZOO_INIT_LIMIT=", "ZOO_SYNC_LIMIT=", "ZOO_AUTOPURGE_SNAPRETAINCOUNT=",
			"ZOO_AUTOPURGE_PURGEINTERVAL=", "ZOO_MAX_CLIENT_CNXNS=", "ZOO_STANDALONE_ENABLED=",
			"ZOO_ADMINSERVER_ENABLED=", "ZOO_SERVERS=", "ZOO_4LW_COMMANDS_WHITELIST=", "ZOO_CFG_EXTRA=", "ZOO_MY_ID="},
		want:     with("server.1=localhost:2888:3888;2181"),
		wantMyid: "1\n",
	}, {
		name: "every variable",
		env: []string{
			"ZOO_MY_ID=3",
			"ZOO_SERVERS=" + composeServers,
			"ZOO_TICK_TIME=500",
			"ZOO_INIT_LIMIT=10",
			"ZOO_SYNC_LIMIT=4",
			"ZOO_AUTOPURGE_SNAPRETAINCOUNT=5",
			"ZOO_AUTOPURGE_PURGEINTERVAL=1",
			"ZOO_MAX_CLIENT_CNXNS=0",
			"ZOO_STANDALONE_ENABLED=false",
			"ZOO_ADMINSERVER_ENABLED=false",
			"ZOO_4LW_COMMANDS_WHITELIST=srvr, ruok,mntr",
			"ZOO_CFG_EXTRA=metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider metricsProvider.httpPort=7070",
		},
		want: slices.Concat([]string{
			"tickTime=500",
			"initLimit=10",
			"syncLimit=4",
			"autopurge.snapRetainCount=5",
			"autopurge.purgeInterval=1",
			"maxClientCnxns=0",
			"standaloneEnabled=false",
			"admin.enableServer=false",
		}, composeLines, []string{
			"4lw.commands.whitelist=srvr, ruok,mntr",
			"metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider",
			"metricsProvider.httpPort=7070",
		}),
		wantMyid: "3\n",
	}, {
		name:     "entries split on any blanks, never globbed",
		env:      []string{"ZOO_SERVERS=\n  server.1=a:2888:3888;2181\t server.2=b:2888:3888;2181  \n", "ZOO_CFG_EXTRA=4lw.commands.whitelist=*"},
		globFile: "4lw.commands.whitelist=oops",
		want:     with("server.1=a:2888:3888;2181", "server.2=b:2888:3888;2181", "4lw.commands.whitelist=*"),
		wantMyid: "1\n",
	}, {
		// NB: dash's echo would turn \t into a tab; bash's, which the
		// official script uses, writes it as is.
		name:     "backslashes written as they are",
		env:      []string{`ZOO_CFG_EXTRA=sun.some.path=C:\tmp`},
		want:     with("server.1=localhost:2888:3888;2181", `sun.some.path=C:\tmp`),
		wantMyid: "1\n",
		rawEnv:   true,
	}, {
		name:     "mounted zoo.cfg and existing myid are kept",
		env:      []string{"ZOO_MY_ID=2", "ZOO_SERVERS=" + composeServers, "ZOO_TICK_TIME=500"},
		cfg:      "# mounted\ntickTime=1000\nclientPort=2181\n",
		myid:     "7\n",
		want:     []string{"# mounted", "tickTime=1000", "clientPort=2181"},
		wantMyid: "7\n",
	}}
	for i, env := range compose {
		tests = append(tests, entrypointCase{name: fmt.Sprintf("docker-compose.yml zoo%d", i+1), env: env, want: with(composeLines...), wantMyid: fmt.Sprintf("%d\n", i+1)})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDockerDirs(t)
			cfgPath := filepath.Join(d.conf, "zoo.cfg")
			if tt.cfg != "" {
				if err := os.WriteFile(cfgPath, []byte(tt.cfg), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tt.myid != "" {
				if err := os.WriteFile(filepath.Join(d.data, "myid"), []byte(tt.myid), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			env := append(d.env(), tt.env...)
			cmd := entrypointCmd(t, append(slices.Clone(env), "PATH="+os.Getenv("PATH")), "true")
			cmd.Dir = t.TempDir()
			if tt.globFile != "" {
				if err := os.WriteFile(filepath.Join(cmd.Dir, tt.globFile), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("entrypoint: %v\n%s", err, out)
			}

			want := tt.want
			if tt.cfg == "" {
				want = append([]string{"dataDir=" + d.data, "dataLogDir=" + d.dataLog}, want...)
			}
			if got := readFile(t, cfgPath); got != strings.Join(want, "\n")+"\n" {
				t.Errorf("zoo.cfg:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
			}
			if got := readFile(t, filepath.Join(d.data, "myid")); got != tt.wantMyid {
				t.Errorf("myid = %q, want %q", got, tt.wantMyid)
			}
			if tt.cfg != "" {
				return
			}

			cfg, err := LoadConfig(cfgPath, nil)
			if err != nil {
				t.Fatalf("gokeeper refuses the generated zoo.cfg: %v", err)
			}
			if id, _ := strconv.ParseInt(strings.TrimSpace(tt.wantMyid), 10, 64); cfg.ServerID != id {
				t.Errorf("ServerID = %d, want %d", cfg.ServerID, id)
			}
			if cfg.ClientPort != 2181 {
				t.Errorf("ClientPort = %d, want 2181 from this member's server.N line", cfg.ClientPort)
			}
			if cfg.DataLogDir != d.dataLog {
				t.Errorf("DataLogDir = %q, want %q", cfg.DataLogDir, d.dataLog)
			}
			if tt.rawEnv {
				return
			}
			lookup := func(k string) string {
				for _, kv := range slices.Backward(env) {
					if key, v, _ := strings.Cut(kv, "="); key == k {
						return v
					}
				}
				return ""
			}
			fromEnv, err := envProperties(lookup)
			if err != nil {
				t.Fatal(err)
			}
			fromCfg, err := parseProperties(readFile(t, cfgPath))
			if err != nil {
				t.Fatal(err)
			}
			if kv(fromCfg) != kv(fromEnv) {
				t.Errorf("zoo.cfg says\n%s\ngokeeper serve without --config reads the variables as\n%s", kv(fromCfg), kv(fromEnv))
			}
		})
	}
}

// kv renders properties as key=value lines.
func kv(props []property) string {
	var b strings.Builder
	for _, p := range props {
		fmt.Fprintf(&b, "%s=%s\n", p.key, p.value)
	}
	return b.String()
}

// TestDockerEntrypointUser checks the image's user switch: started as root
// with the image's command, the entrypoint gives the data directories to
// the zookeeper user and runs itself again as that user, which writes the
// config; as any other user, or with another command, it runs the
// command as it is.
func TestDockerEntrypointUser(t *testing.T) {
	tests := []struct {
		name, uid string
		args      []string
		want      func(d dockerDirs, entrypoint string) []string
	}{{
		name: "root",
		uid:  "0",
		args: []string{"zkServer.sh", "start-foreground"},
		want: func(d dockerDirs, entrypoint string) []string {
			return []string{
				"chown -R zookeeper " + d.data + " " + d.dataLog + " " + d.log,
				"setpriv --reuid=zookeeper --regid=zookeeper --init-groups " + entrypoint + " zkServer.sh start-foreground",
				"zkServer.sh start-foreground as 1000",
			}
		},
	}, {
		name: "started with --user",
		uid:  "1000",
		args: []string{"zkServer.sh", "start-foreground"},
		want: func(dockerDirs, string) []string { return []string{"zkServer.sh start-foreground as 1000"} },
	}, {
		name: "root with another command",
		uid:  "0",
		args: []string{"zkServer.sh.not", "status"},
		want: func(dockerDirs, string) []string { return []string{"zkServer.sh.not status as 0"} },
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDockerDirs(t)
			bin := fakeBin(t)
			for _, name := range []string{"zkServer.sh", "zkServer.sh.not"} {
				writeScript(t, filepath.Join(bin, name), `echo "$(basename "$0") $* as $(id -u)" >>"$CALLS"`)
			}
			calls := filepath.Join(t.TempDir(), "calls")
			env := append(d.env(), "PATH="+bin+":"+os.Getenv("PATH"), "CALLS="+calls, "FAKE_UID="+tt.uid)
			if out, err := entrypointCmd(t, env, tt.args...).CombinedOutput(); err != nil {
				t.Fatalf("entrypoint: %v\n%s", err, out)
			}
			want := tt.want(d, dockerScript(t, "docker-entrypoint.sh"))
			if got := readFile(t, calls); got != strings.Join(want, "\n")+"\n" {
				t.Errorf("calls:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
			}
			if readFile(t, filepath.Join(d.conf, "zoo.cfg")) == "<missing>" {
				t.Error("no zoo.cfg written")
			}
		})
	}
}

// TestDockerZkServerSh checks which config file the image's zkServer.sh
// runs gokeeper with, as ZooKeeper's zkServer.sh finds it, and that it
// refuses the commands it does not provide.
func TestDockerZkServerSh(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		args []string
		want string // the config path, or "" for a usage error
	}{
		{"ZOO_CONF_DIR", []string{"ZOO_CONF_DIR=/c"}, []string{"print-cmd"}, "/c/zoo.cfg"},
		{"default", nil, []string{"print-cmd"}, "/conf/zoo.cfg"},
		{"ZOOCFGDIR wins", []string{"ZOO_CONF_DIR=/c", "ZOOCFGDIR=/z"}, []string{"print-cmd"}, "/z/zoo.cfg"},
		{"ZOOCFG", []string{"ZOO_CONF_DIR=/c", "ZOOCFG=alt.cfg"}, []string{"print-cmd"}, "/c/alt.cfg"},
		{"--config", []string{"ZOO_CONF_DIR=/c"}, []string{"--config", "/d", "print-cmd"}, "/d/zoo.cfg"},
		{"file in the conf dir", []string{"ZOO_CONF_DIR=/c"}, []string{"print-cmd", "other.cfg"}, "/c/other.cfg"},
		{"file with a path", []string{"ZOO_CONF_DIR=/c"}, []string{"print-cmd", "/etc/zk/zoo.cfg"}, "/etc/zk/zoo.cfg"},
		{"stop", nil, []string{"stop"}, ""},
		{"no command", nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(dockerScript(t, "zkServer.sh"), tt.args...)
			cmd.Env = append(slices.Clone(tt.env), "PATH="+os.Getenv("PATH"))
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if tt.want == "" {
				if err == nil || !strings.Contains(stderr.String(), "Usage:") {
					t.Errorf("zkServer.sh %v: err %v, stderr %q; want a usage error", tt.args, err, stderr.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("zkServer.sh %v: %v\n%s", tt.args, err, stderr.String())
			}
			if want := fmt.Sprintf("gokeeper serve --config %q\n", tt.want); string(out) != want {
				t.Errorf("zkServer.sh %v printed %q, want %q", tt.args, out, want)
			}
			if want := "Using config: " + tt.want + "\n"; stderr.String() != want {
				t.Errorf("stderr %q, want %q", stderr.String(), want)
			}
		})
	}
}

// TestDockerEnsemble starts three members as docker-compose.yml does,
// but on loopback: each is the image's entrypoint and command
// (zkServer.sh start-foreground) with ZOO_MY_ID and one ZOO_SERVERS. They
// elect a leader, a write through a follower is read on every member,
// zkServer.sh status (the image's health check) reports each one's mode,
// and a member restarted with other variables keeps its zoo.cfg and myid,
// rejoins and takes writes.
func TestDockerEnsemble(t *testing.T) {
	bin := gokeeperBinary(t)
	// NB: id says uid 1000, the zookeeper user the image switches to, so
	// a test run as root does not take the root branch.
	path := strings.Join([]string{fakeBin(t), filepath.Dir(bin), filepath.Dir(dockerScript(t, "zkServer.sh")), os.Getenv("PATH")}, ":")
	e := &gkEnsemble{t: t}
	var servers []string
	for i := 1; i <= 3; i++ {
		client := freePort(t)
		servers = append(servers, fmt.Sprintf("server.%d=127.0.0.1:%d:%d;127.0.0.1:%d", i, freePort(t), freePort(t), client))
		e.addrs = append(e.addrs, "127.0.0.1:"+strconv.Itoa(client))
	}
	var dirs []dockerDirs
	var envs [][]string
	var adminPorts []int
	for i := 1; i <= 3; i++ {
		d := newDockerDirs(t)
		admin := freePort(t)
		dirs = append(dirs, d)
		adminPorts = append(adminPorts, admin)
		envs = append(envs, append(d.env(), "PATH="+path, "FAKE_UID=1000",
			"ZOO_MY_ID="+strconv.Itoa(i),
			"ZOO_SERVERS="+strings.Join(servers, " "),
			"ZOO_TICK_TIME=200",
			"ZOO_INIT_LIMIT=10",
			"ZOO_SYNC_LIMIT=5",
			"ZOO_4LW_COMMANDS_WHITELIST=*",
			fmt.Sprintf("ZOO_CFG_EXTRA=admin.serverAddress=127.0.0.1 admin.serverPort=%d", admin)))
		e.dirs = append(e.dirs, d.data)
		e.cfgs = append(e.cfgs, filepath.Join(d.conf, "zoo.cfg"))
		e.procs = append(e.procs, nil)
		e.observer = append(e.observer, false)
	}
	start := func(i int, env []string) {
		e.procs[i] = spawnProc(t, entrypointCmd(t, env, "zkServer.sh", "start-foreground"), e.cfgs[i])
	}
	for i := range e.procs {
		start(i, envs[i])
	}
	lead := e.leader()
	for i, d := range dirs {
		if got, want := readFile(t, filepath.Join(d.data, "myid")), strconv.Itoa(i+1)+"\n"; got != want {
			t.Errorf("member %d: myid = %q, want %q", i+1, got, want)
		}
	}

	// The AdminServer is on (ZOO_ADMINSERVER_ENABLED's default), on the
	// port ZOO_CFG_EXTRA gave it.
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/commands/ruok", adminPorts[lead]))
	if err != nil {
		t.Fatalf("AdminServer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("AdminServer ruok: %s", resp.Status)
	}

	follower, other := (lead+1)%3, (lead+2)%3
	c := e.connect(follower)
	if _, err := c.Create("/docker", []byte("hello"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create through member %d: %v", follower+1, err)
	}
	c.Close()
	if got := e.converged("/"); !slices.Equal(got, []string{"docker", "zookeeper"}) {
		t.Fatalf("children of / = %v, want [docker zookeeper]", got)
	}
	for _, i := range []int{other, lead} {
		c := e.connect(i)
		if data, _, err := c.Get("/docker"); err != nil || string(data) != "hello" {
			t.Errorf("get /docker on member %d = %q, %v; want hello", i+1, data, err)
		}
		c.Close()
	}

	for i := range e.procs {
		cmd := exec.Command(dockerScript(t, "zkServer.sh"), "status")
		cmd.Env = envs[i]
		out, err := cmd.CombinedOutput()
		want := "Mode: follower"
		if i == lead {
			want = "Mode: leader"
		}
		if err != nil || !strings.Contains(string(out), want) {
			t.Errorf("zkServer.sh status of member %d: %v\n%s\nwant %q", i+1, err, out, want)
		}
	}

	// A restarted container keeps /conf and /data: variables that would
	// make another member change nothing.
	cfgBefore := readFile(t, e.cfgs[other])
	e.procs[other].kill9()
	env := append(slices.Clone(envs[other]), "ZOO_MY_ID=9", "ZOO_SERVERS=server.9=127.0.0.1:1:2;3", "ZOO_TICK_TIME=2000")
	start(other, env)
	e.leader()
	if got := readFile(t, e.cfgs[other]); got != cfgBefore {
		t.Errorf("restart rewrote zoo.cfg:\n%s\nwas:\n%s", got, cfgBefore)
	}
	if got, want := readFile(t, filepath.Join(dirs[other].data, "myid")), strconv.Itoa(other+1)+"\n"; got != want {
		t.Errorf("restart rewrote myid: %q, want %q", got, want)
	}
	if got := e.converged("/"); !slices.Equal(got, []string{"docker", "zookeeper"}) {
		t.Fatalf("after the restart: children of / = %v, want [docker zookeeper]", got)
	}
	c = e.connect(other)
	if _, err := c.Create("/restarted", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create through the restarted member %d: %v", other+1, err)
	}
	c.Close()
	if got := e.converged("/"); !slices.Equal(got, []string{"docker", "restarted", "zookeeper"}) {
		t.Fatalf("after the restart: children of / = %v, want [docker restarted zookeeper]", got)
	}
}
