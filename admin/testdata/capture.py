#!/usr/bin/python3
"""Capture Apache ZooKeeper 3.8's admin outputs for admin's golden tests.

Starts the Debian ZooKeeper (see /work/shared/REFERENCE-ZK.md) on free
loopback ports, builds a little state with kazoo (znodes, an ephemeral,
data and child watches), then writes every four-letter word's answer to
zk/4lw/<word>.txt and every AdminServer command's JSON to
zk/commands/<name>.json, plus /commands itself and an unknown command.
A second run with the default whitelist captures the refusal text.

Run from anywhere: /usr/bin/python3 admin/testdata/capture.py
"""
import json, os, shutil, socket, subprocess, sys, tempfile, time, urllib.request, urllib.error

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "zk")
CP = ":".join("/usr/share/java/" + j for j in [
    "zookeeper.jar", "zookeeper-jute.jar", "slf4j-log4j12.jar", "log4j-1.2.jar",
    "servlet-api.jar", "jetty9-server.jar", "jetty9-servlet.jar", "jetty9-http.jar",
    "jetty9-util.jar", "jetty9-io.jar", "jetty9-security.jar", "jackson-databind.jar",
    "jackson-core.jar", "jackson-annotations.jar", "slf4j-api.jar", "netty-all.jar"])

WORDS = ["conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "stmk", "ruok", "srst",
         "srvr", "stat", "wchc", "wchp", "wchs", "mntr", "isro", "hash"]
COMMANDS = ["monitor", "stats", "server_stats", "configuration", "connections",
            "connection_stat_reset", "dirs", "dump", "environment", "ruok", "is_read_only",
            "watches", "watches_by_path", "watch_summary", "last_snapshot", "snapshot",
            "get_trace_mask", "set_trace_mask?traceMask=306", "system_properties", "leader",
            "voting_view", "zabstate", "observers", "initial_configuration", "hash",
            "stat_reset", "mntr", "no_such_command"]


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def four(port, word, raw=None):
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.sendall(raw if raw is not None else word.encode())
    buf = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        buf += b
    s.close()
    return buf


def start(whitelist):
    d = tempfile.mkdtemp(prefix="zkcap")
    cport, aport = free_port(), free_port()
    with open(os.path.join(d, "log4j.properties"), "w") as f:
        f.write("log4j.rootLogger=INFO, F\nlog4j.appender.F=org.apache.log4j.FileAppender\n"
                "log4j.appender.F.File=%s/zk.log\nlog4j.appender.F.layout=org.apache.log4j.PatternLayout\n" % d)
    cfg = os.path.join(d, "zoo.cfg")
    with open(cfg, "w") as f:
        f.write("tickTime=2000\ndataDir=%s/data\nclientPort=%d\nclientPortAddress=127.0.0.1\n"
                "maxClientCnxns=0\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=%d\n" % (d, cport, aport))
        if whitelist:
            f.write("4lw.commands.whitelist=%s\n" % whitelist)
    p = subprocess.Popen(["java", "-Xmx512m", "-cp", CP + ":" + d, "-Dzookeeper.digest.enabled=true",
                          "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if four(cport, "srvr").startswith(b"Zookeeper version"):
                break
        except OSError:
            pass
        time.sleep(0.2)
    else:
        p.kill(); sys.exit("zookeeper did not start; see " + d)
    return p, d, cport, aport


def write(rel, data):
    path = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main():
    from kazoo.client import KazooClient
    p, d, cport, aport = start("*")
    try:
        zk = KazooClient(hosts="127.0.0.1:%d" % cport); zk.start()
        zk.create("/app", b"hello")
        zk.create("/app/a", b"x" * 10)
        zk.create("/app/eph", b"", ephemeral=True)
        zk.get("/app", watch=lambda e: None)
        zk.get_children("/app", watch=lambda e: None)
        zk.exists("/app/a", watch=lambda e: None)
        for w in WORDS:
            write("4lw/%s.txt" % w, four(cport, w))
        write("4lw/telnet_close.txt", four(cport, "", raw=b"\xff\xf4\xff\xfd"))
        for c in COMMANDS:
            try:
                r = urllib.request.urlopen("http://127.0.0.1:%d/commands/%s" % (aport, c), timeout=10)
                body, code = r.read(), r.status
            except urllib.error.HTTPError as e:
                body, code = e.read(), e.code
            name = c.split("?")[0]
            write("commands/%s.json" % name, body)
            write("commands/%s.status" % name, b"%d\n" % code)
        r = urllib.request.urlopen("http://127.0.0.1:%d/commands" % aport, timeout=10)
        write("commands/index.html", r.read())
        zk.stop()
    finally:
        p.terminate(); p.wait()
        shutil.rmtree(d, ignore_errors=True)
    p, d, cport, aport = start(None)
    try:
        write("4lw/refused_ruok.txt", four(cport, "ruok"))
    finally:
        p.terminate(); p.wait()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
