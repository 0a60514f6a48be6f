#!/usr/bin/python3
"""Extract every metric name Apache ZooKeeper 3.8 and 3.9 publish.

Reads ZooKeeper's source from a git mirror of apache/zookeeper (argument,
default /work/.mirror/apache+zookeeper/repo) at the release tags below and
writes zk/servermetrics.txt: one line per name with its kind, the class
that registers it and the releases that have it:

  - ServerMetrics.java: getCounter, getSummary (BASIC or ADVANCED),
    getSummarySet, getCounterSet;
  - registerMetrics in ZooKeeperServer, QuorumZooKeeperServer,
    LeaderZooKeeperServer and FollowerZooKeeperServer: registerGauge and
    registerGaugeSet;
  - dumpMonitorValues in ZooKeeperServer, QuorumZooKeeperServer and
    ObserverZooKeeperServer: the values mntr prints before the metrics.

admin's tests check every name gokeeper exports against this list.

Run from anywhere: /usr/bin/python3 admin/testdata/servermetrics.py [mirror]
"""
import os, re, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
TAGS = ["release-3.8.4", "release-3.9.4"]
SRV = "zookeeper-server/src/main/java/org/apache/zookeeper/server/"
SOURCES = {
    "ServerMetrics": SRV + "ServerMetrics.java",
    "ZooKeeperServer": SRV + "ZooKeeperServer.java",
    "QuorumZooKeeperServer": SRV + "quorum/QuorumZooKeeperServer.java",
    "LeaderZooKeeperServer": SRV + "quorum/LeaderZooKeeperServer.java",
    "FollowerZooKeeperServer": SRV + "quorum/FollowerZooKeeperServer.java",
    "ObserverZooKeeperServer": SRV + "quorum/ObserverZooKeeperServer.java",
    "QuotaMetricsUtils": SRV + "util/QuotaMetricsUtils.java",
}


def show(git, tag, path):
    r = subprocess.run(["git", "--git-dir", git, "show", tag + ":" + path], capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else ""


def names(git, tag):
    out = {}
    consts = dict(re.findall(r'static final String (\w+) = "(\w+)"', show(git, tag, SOURCES["QuotaMetricsUtils"])))

    def name(arg):
        arg = arg.strip()
        if arg.startswith('"'):
            return arg.strip('"')
        return consts.get(arg.split(".")[-1])

    sm = re.sub(r"\s+", " ", show(git, tag, SOURCES["ServerMetrics"]))
    for m in re.finditer(r'getCounter\(\s*"(\w+)"\s*\)', sm):
        out[m.group(1)] = ("counter", "ServerMetrics")
    for m in re.finditer(r'getSummary\(\s*"(\w+)",\s*DetailLevel\.(BASIC|ADVANCED)\s*\)', sm):
        out[m.group(1)] = ("summary" if m.group(2) == "BASIC" else "summary_advanced", "ServerMetrics")
    for m in re.finditer(r'getSummarySet\(\s*"(\w+)",\s*DetailLevel\.(BASIC|ADVANCED)\s*\)', sm):
        out[m.group(1)] = ("summary_set" if m.group(2) == "BASIC" else "summary_set_advanced", "ServerMetrics")
    for m in re.finditer(r'getCounterSet\(\s*([\w.]+)\s*\)', sm):
        out[name(m.group(1))] = ("counter_set", "ServerMetrics")
    for cls in ["ZooKeeperServer", "QuorumZooKeeperServer", "LeaderZooKeeperServer", "FollowerZooKeeperServer",
                "ObserverZooKeeperServer"]:
        src = show(git, tag, SOURCES[cls])
        for m in re.finditer(r'registerGauge\(\s*"(\w+)"', src):
            out.setdefault(m.group(1), ("gauge", cls))
        for m in re.finditer(r'registerGaugeSet\(\s*([\w.]+)\s*,', src):
            out.setdefault(name(m.group(1)), ("gauge_set", cls))
        dump = re.search(r"void dumpMonitorValues\(.*?\n    }\n", src, re.S)
        if dump:
            for m in re.finditer(r'response\.accept\(\s*"(\w+)"', dump.group(0)):
                out.setdefault(m.group(1), ("info", cls))
    return out


def main():
    git = sys.argv[1] if len(sys.argv) > 1 else "/work/.mirror/apache+zookeeper/repo"
    per = {t: names(git, t) for t in TAGS}
    for t, n in per.items():
        if len(n) < 100:
            sys.exit("only %d names at %s: is %s a mirror of apache/zookeeper?" % (len(n), t, git))
    lines = [
        "# Every metric name Apache ZooKeeper publishes (mntr, /commands/monitor, Prometheus),",
        "# extracted by servermetrics.py from apache/zookeeper at %s:" % ", ".join(TAGS),
        "# ServerMetrics.java, the registerMetrics and dumpMonitorValues methods of",
        "# ZooKeeperServer, QuorumZooKeeperServer, LeaderZooKeeperServer,",
        "# FollowerZooKeeperServer and ObserverZooKeeperServer.",
        "# kind: counter, summary (avg/min/max/cnt/sum), summary_advanced (and",
        "# p50/p95/p99/p999), summary_set(_advanced) and counter_set (one per key,",
        "# mntr's name <stat>_<key>_<name>), gauge, gauge_set, info (a string).",
        "# name kind registered-by releases",
    ]
    all_names = sorted(set().union(*per.values()))
    for n in all_names:
        kinds = {per[t][n] for t in TAGS if n in per[t]}
        kind, cls = sorted(kinds)[-1]
        rel = ",".join(t.split("-")[1][:3] for t in TAGS if n in per[t])
        lines.append("%s %s %s %s" % (n, kind, cls, rel))
    with open(os.path.join(HERE, "zk", "servermetrics.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
