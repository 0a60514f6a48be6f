#!/bin/sh
# zkServer.sh of the gokeeper image: the commands of ZooKeeper's
# bin/zkServer.sh that make sense in a container, run by gokeeper, so that
# the image's command (zkServer.sh start-foreground) and health checks
# written for the official ZooKeeper image (zkServer.sh status) work as
# they are.
#
#	zkServer.sh [--config <conf-dir>] start-foreground [zoo.cfg]
#	zkServer.sh [--config <conf-dir>] status [zoo.cfg]
#	zkServer.sh [--config <conf-dir>] print-cmd [zoo.cfg]
#
# The config file is found as zkServer.sh finds it: $ZOOCFGDIR/$ZOOCFG
# (zoo.cfg), or the file named by the second argument, inside $ZOOCFGDIR
# unless it has a directory part. ZOOCFGDIR defaults to $ZOO_CONF_DIR
# (/conf), so a ZOO_CONF_DIR set when the container starts moves both
# the generated zoo.cfg and the one read. JVMFLAGS and SERVER_JVMFLAGS
# pass through the environment: gokeeper reads their -D properties.

set -e

if [ "$1" = '--config' ]; then
	ZOOCFGDIR=$2
	shift 2
fi
ZOOCFGDIR=${ZOOCFGDIR:-${ZOO_CONF_DIR:-/conf}}
ZOOCFG="$ZOOCFGDIR/${ZOOCFG:-zoo.cfg}"
if [ -n "$2" ]; then
	case $2 in
	*/*) ZOOCFG=$2 ;;
	*) ZOOCFG="$ZOOCFGDIR/$2" ;;
	esac
fi
echo "Using config: $ZOOCFG" >&2

case $1 in
start-foreground)
	exec gokeeper serve --config "$ZOOCFG"
	;;
status)
	exec gokeeper status --config "$ZOOCFG"
	;;
print-cmd)
	echo "gokeeper serve --config \"$ZOOCFG\""
	;;
*)
	echo "Usage: $0 [--config <conf-dir>] {start-foreground|status|print-cmd}" >&2
	echo "(gokeeper's zkServer.sh: start, stop, restart and version are not provided in the image)" >&2
	exit 1
	;;
esac
