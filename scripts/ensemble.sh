#!/usr/bin/env bash
# Runs a three-member gokeeper ensemble in the foreground on loopback:
# client ports 2181-2183, quorum ports 2888-2890, election ports
# 3888-3890, data in ./data/node1..3. Each log line is prefixed with its
# member; Ctrl-C stops all three.
set -euo pipefail
bin=${1:-bin/gokeeper}
servers=""
for n in 1 2 3; do
	servers+="server.$n=127.0.0.1:$((2887 + n)):$((3887 + n))"$'\n'
done
pids=()
for n in 1 2 3; do
	dir="data/node$n"
	mkdir -p "$dir"
	echo "$n" > "$dir/myid"
	cat > "$dir/zoo.cfg" <<CFG
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$PWD/$dir
clientPort=$((2180 + n))
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=*
$servers
CFG
	"$bin" serve --config "$dir/zoo.cfg" 2>&1 | sed -u "s/^/[node$n] /" &
	pids+=($!)
done
trap 'kill "${pids[@]}" 2>/dev/null; pkill -f "serve --config data/node[123]/zoo.cfg" 2>/dev/null; wait' INT TERM
echo "ensemble: clients connect to 127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183; Ctrl-C stops it"
wait
