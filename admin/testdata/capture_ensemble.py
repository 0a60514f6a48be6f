#!/usr/bin/python3
"""Capture Apache ZooKeeper 3.8's mntr in a three-member ensemble.

Starts three Debian ZooKeeper servers (see /work/shared/REFERENCE-ZK.md)
on free loopback ports, writes through a follower with kazoo (creates,
a data watch that fires, deletes), then writes each member's mntr to
zk/4lw/mntr_leader.txt and zk/4lw/mntr_follower.txt (the first follower
by myid). admin's metric tests read them for the keys, their order and
their kinds in an ensemble, which the standalone capture (capture.py)
cannot show: zk_peer_state, the leader's gauges, the quorum summaries.

Run from anywhere: /usr/bin/python3 admin/testdata/capture_ensemble.py
"""
import os, shutil, subprocess, sys, tempfile, time

from capture import CP, four, free_port, write


def main():
    from kazoo.client import KazooClient
    root = tempfile.mkdtemp(prefix="zkens")
    n = 3
    cports = [free_port() for _ in range(n)]
    servers = "".join("server.%d=127.0.0.1:%d:%d\n" % (i + 1, free_port(), free_port()) for i in range(n))
    procs = []
    try:
        for i in range(n):
            d = os.path.join(root, "m%d" % (i + 1))
            os.makedirs(os.path.join(d, "data"))
            with open(os.path.join(d, "data", "myid"), "w") as f:
                f.write("%d\n" % (i + 1))
            with open(os.path.join(d, "log4j.properties"), "w") as f:
                f.write("log4j.rootLogger=INFO, F\nlog4j.appender.F=org.apache.log4j.FileAppender\n"
                        "log4j.appender.F.File=%s/zk.log\nlog4j.appender.F.layout=org.apache.log4j.PatternLayout\n" % d)
            cfg = os.path.join(d, "zoo.cfg")
            with open(cfg, "w") as f:
                f.write("tickTime=200\ninitLimit=10\nsyncLimit=5\ndataDir=%s/data\nclientPort=%d\n"
                        "clientPortAddress=127.0.0.1\nmaxClientCnxns=0\n4lw.commands.whitelist=*\n"
                        "admin.enableServer=false\n" % (d, cports[i]))
                f.write(servers)
            procs.append(subprocess.Popen(["java", "-Xmx256m", "-cp", CP + ":" + d,
                                           "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        modes = {}
        deadline = time.time() + 60
        while time.time() < deadline and sorted(modes.values()) != ["follower", "follower", "leader"]:
            for i in range(n):
                try:
                    for l in four(cports[i], "srvr").decode().splitlines():
                        if l.startswith("Mode: "):
                            modes[i] = l[6:]
                except OSError:
                    pass
            time.sleep(0.2)
        if sorted(modes.values()) != ["follower", "follower", "leader"]:
            sys.exit("no leader and two followers within 60 s: %s; see %s" % (modes, root))
        leader = [i for i in range(n) if modes[i] == "leader"][0]
        follower = [i for i in range(n) if modes[i] == "follower"][0]
        zk = KazooClient(hosts="127.0.0.1:%d" % cports[follower]); zk.start()
        zk.create("/app", b"hello")
        zk.get("/app", watch=lambda e: None)
        for k in range(10):
            zk.create("/app/n%d" % k, b"x" * 10)
        zk.set("/app", b"changed")
        for k in range(10):
            zk.delete("/app/n%d" % k)
        zk.stop()
        time.sleep(1)
        write("4lw/mntr_leader.txt", four(cports[leader], "mntr"))
        write("4lw/mntr_follower.txt", four(cports[follower], "mntr"))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
