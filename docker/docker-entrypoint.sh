#!/bin/sh
# docker-entrypoint.sh of the gokeeper image: the official ZooKeeper
# image's entrypoint (github.com/31z4/zookeeper-docker), in POSIX sh.
#
# Run as root with the image's command (zkServer.sh ...), it gives the
# data directories to the zookeeper user and runs itself again as that
# user. Then it writes $ZOO_CONF_DIR/zoo.cfg from the ZOO_* variables
# unless that file exists (a mounted zoo.cfg is left alone), writes
# $ZOO_DATA_DIR/myid from ZOO_MY_ID unless that file exists, and execs its
# arguments.
#
# NB: an empty or unset variable takes the image's default, as `gokeeper
# serve` without --config does, so the script also runs outside the image
# (its test does). The official script writes an empty value as is.
# Entries of ZOO_SERVERS and ZOO_CFG_EXTRA are split on blanks as there,
# but never globbed (set -f), and values are written with printf, so a
# backslash stays a backslash as with bash's echo.

set -ef

: "${ZOO_CONF_DIR:=/conf}"
: "${ZOO_DATA_DIR:=/data}"
: "${ZOO_DATA_LOG_DIR:=/datalog}"
: "${ZOO_LOG_DIR:=/logs}"

# Allow the container to be started with `--user`.
if [ "$1" = 'zkServer.sh' ] && [ "$(id -u)" = '0' ]; then
	chown -R zookeeper "$ZOO_DATA_DIR" "$ZOO_DATA_LOG_DIR" "$ZOO_LOG_DIR"
	exec setpriv --reuid=zookeeper --regid=zookeeper --init-groups "$0" "$@"
fi

# Generate the config only if it doesn't exist.
CONFIG="$ZOO_CONF_DIR/zoo.cfg"
if [ ! -f "$CONFIG" ]; then
	{
		printf '%s\n' \
			"dataDir=$ZOO_DATA_DIR" \
			"dataLogDir=$ZOO_DATA_LOG_DIR" \
			"tickTime=${ZOO_TICK_TIME:-2000}" \
			"initLimit=${ZOO_INIT_LIMIT:-5}" \
			"syncLimit=${ZOO_SYNC_LIMIT:-2}" \
			"autopurge.snapRetainCount=${ZOO_AUTOPURGE_SNAPRETAINCOUNT:-3}" \
			"autopurge.purgeInterval=${ZOO_AUTOPURGE_PURGEINTERVAL:-0}" \
			"maxClientCnxns=${ZOO_MAX_CLIENT_CNXNS:-60}" \
			"standaloneEnabled=${ZOO_STANDALONE_ENABLED:-true}" \
			"admin.enableServer=${ZOO_ADMINSERVER_ENABLED:-true}"
		if [ -z "${ZOO_SERVERS:-}" ]; then
			ZOO_SERVERS='server.1=localhost:2888:3888;2181'
		fi
		for server in $ZOO_SERVERS; do
			printf '%s\n' "$server"
		done
		if [ -n "${ZOO_4LW_COMMANDS_WHITELIST:-}" ]; then
			printf '%s\n' "4lw.commands.whitelist=$ZOO_4LW_COMMANDS_WHITELIST"
		fi
		for cfg_extra_entry in ${ZOO_CFG_EXTRA:-}; do
			printf '%s\n' "$cfg_extra_entry"
		done
	} >>"$CONFIG"
fi

# Write myid only if it doesn't exist.
if [ ! -f "$ZOO_DATA_DIR/myid" ]; then
	printf '%s\n' "${ZOO_MY_ID:-1}" >"$ZOO_DATA_DIR/myid"
fi

exec "$@"
