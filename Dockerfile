# The gokeeper image, set up as the official ZooKeeper image
# (hub.docker.com/_/zookeeper, github.com/31z4/zookeeper-docker): the same
# ZOO_* variables with the same defaults, the same paths (/conf/zoo.cfg,
# /data, /datalog, /logs), ports, user and command. See README.md,
# "Docker".
#
#	docker build -t gokeeper .
#	docker run --name some-gokeeper --restart always -d gokeeper

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# NB: a static binary (the store's pebble uses Snappy, pure Go; nothing
# else needs cgo), so the runtime image needs no particular libc.
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/gokeeper ./cmd/gokeeper

# A shell is needed by the entrypoint; setpriv (util-linux, in the base
# image) drops root as gosu does in the official image.
FROM debian:bookworm-slim

ENV ZOO_CONF_DIR=/conf \
    ZOO_DATA_DIR=/data \
    ZOO_DATA_LOG_DIR=/datalog \
    ZOO_LOG_DIR=/logs \
    ZOO_TICK_TIME=2000 \
    ZOO_INIT_LIMIT=5 \
    ZOO_SYNC_LIMIT=2 \
    ZOO_AUTOPURGE_PURGEINTERVAL=0 \
    ZOO_AUTOPURGE_SNAPRETAINCOUNT=3 \
    ZOO_MAX_CLIENT_CNXNS=60 \
    ZOO_STANDALONE_ENABLED=true \
    ZOO_ADMINSERVER_ENABLED=true

# Add a user with an explicit UID/GID and create the directories.
RUN set -eux; \
    groupadd -r zookeeper --gid=1000; \
    useradd -r -g zookeeper --uid=1000 zookeeper; \
    mkdir -p "$ZOO_DATA_LOG_DIR" "$ZOO_DATA_DIR" "$ZOO_CONF_DIR" "$ZOO_LOG_DIR"; \
    chown zookeeper:zookeeper "$ZOO_DATA_LOG_DIR" "$ZOO_DATA_DIR" "$ZOO_CONF_DIR" "$ZOO_LOG_DIR"; \
    setpriv --reuid=zookeeper --regid=zookeeper --init-groups true

COPY --from=build /out/gokeeper /usr/local/bin/gokeeper
COPY docker/zkServer.sh /usr/local/bin/zkServer.sh
COPY docker/docker-entrypoint.sh /

VOLUME ["/data", "/datalog", "/logs"]

# Client port, quorum port, election port, AdminServer.
EXPOSE 2181 2888 3888 8080

# zkServer.sh status asks the member for its mode (srvr): healthy while
# it serves as standalone, leader, follower or observer.
HEALTHCHECK --start-period=30s --interval=10s --timeout=10s CMD ["zkServer.sh", "status"]

ENTRYPOINT ["/docker-entrypoint.sh"]
CMD ["zkServer.sh", "start-foreground"]
