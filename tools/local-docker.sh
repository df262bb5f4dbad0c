#!/usr/bin/env bash
# Starts (or reuses) a private Docker engine for this checkout's builds and tests.
#
# Usage: tools/local-docker.sh start|stop|status|client
#   start   install Debian's docker.io if dockerd is missing, start an engine whose state lives
#           under $STATE_DIR (default: .local/docker), wait until it answers; prints the socket.
#   stop    stop that engine.
#   client  print the path of a docker client that builds with BuildKit: `docker` when it has
#           the buildx plugin, else an older client (< 23) whose builder includes BuildKit.
#
# Why a private engine: a developer or CI machine may have only the docker client (no daemon),
# and tests must not disturb an engine someone else uses. Callers point the client at it with
# DOCKER_HOST=unix://$STATE_DIR/docker.sock (the Makefile does this).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# One engine per machine, shared by every checkout: two engines fight over the docker0 bridge.
STATE_DIR=${STATE_DIR:-/var/tmp/sagemaker-rl-containers/docker}
SOCK=$STATE_DIR/docker.sock
PIDFILE=$STATE_DIR/dockerd.pid
# Test networks use a range outside the private blocks: some machines' firewalls treat
# 172.16/12 (Docker's default) as off-limits.
BRIDGE_IP=${DOCKER_BRIDGE_IP:-198.18.0.1/24}
ADDRESS_POOL=${DOCKER_ADDRESS_POOL:-base=198.18.0.0/16,size=24}

log() { echo "local-docker: $*" >&2; }

running() {
    [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

install_engine() {
    command -v dockerd >/dev/null 2>&1 && return 0
    [ -x /usr/sbin/dockerd ] && return 0
    if [ "$(id -u)" != 0 ]; then
        log "dockerd is not installed and this user cannot install it; install docker.io (or Docker Engine)"
        exit 1
    fi
    log "installing Debian's docker.io (about a minute)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq docker.io >/dev/null
}

start() {
    if running && DOCKER_HOST=unix://$SOCK docker info >/dev/null 2>&1; then
        echo "unix://$SOCK"
        return 0
    fi
    install_engine
    mkdir -p "$STATE_DIR/data" "$STATE_DIR/exec"
    local dockerd_bin
    dockerd_bin=$(command -v dockerd || echo /usr/sbin/dockerd)
    log "starting dockerd (state in $STATE_DIR)"
    "$dockerd_bin" --data-root "$STATE_DIR/data" --exec-root "$STATE_DIR/exec" \
        -H "unix://$SOCK" --pidfile "$PIDFILE" \
        --bip "$BRIDGE_IP" --default-address-pool "$ADDRESS_POOL" \
        >"$STATE_DIR/dockerd.log" 2>&1 &
    for _ in $(seq 1 60); do
        if DOCKER_HOST=unix://$SOCK docker info >/dev/null 2>&1; then
            echo "unix://$SOCK"
            return 0
        fi
        sleep 0.5
    done
    log "dockerd did not come up in 30 s; its log:"
    tail -20 "$STATE_DIR/dockerd.log" >&2
    exit 1
}

stop() {
    if running; then
        kill "$(cat "$PIDFILE")"
        for _ in $(seq 1 40); do running || break; sleep 0.25; done
    fi
}

client() {
    local candidate major
    for candidate in $(command -v -a docker 2>/dev/null) /usr/bin/docker; do
        [ -x "$candidate" ] || continue
        if "$candidate" buildx version >/dev/null 2>&1; then echo "$candidate"; return 0; fi
        major=$("$candidate" --version 2>/dev/null | sed -n 's/^Docker version \([0-9]*\).*/\1/p')
        if [ -n "$major" ] && [ "$major" -lt 23 ]; then echo "$candidate"; return 0; fi
    done
    install_engine  # Debian's docker.io brings a client with BuildKit built in
    echo /usr/bin/docker
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    client) client ;;
    status) if running; then echo "running: unix://$SOCK"; else echo "stopped"; exit 1; fi ;;
    *) echo "usage: $0 start|stop|status|client" >&2; exit 2 ;;
esac
