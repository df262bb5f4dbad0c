#!/usr/bin/env bash
# Builds a local stand-in for a public Debian/Python base image with debootstrap, for machines
# that cannot pull from a registry (tests pass it to the Dockerfiles through BASE_IMAGE).
#
# Usage: tools/stand-in-base.sh IMAGE[:TAG] [SUITE]      (SUITE defaults to bookworm: Python 3.11)
# Needs root and debootstrap (installed if missing); talks to the engine through tools/docker.
# The host's CA bundle is copied in so pip inside builds trusts the same HTTPS proxies the host
# does; the product's Dockerfiles never depend on that.
set -euo pipefail

IMAGE=${1:?usage: $0 IMAGE[:TAG] [SUITE]}
DOCKER=${DOCKER:-$(cd "$(dirname "$0")" && pwd)/docker}
SUITE=${2:-bookworm}

if "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "stand-in-base: $IMAGE exists" >&2
    exit 0
fi
if ! command -v debootstrap >/dev/null 2>&1; then
    echo "stand-in-base: installing debootstrap" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
ROOTFS=$(mktemp -d /var/tmp/stand-in-base.XXXXXX)
trap 'rm -rf "$ROOTFS"' EXIT
echo "stand-in-base: debootstrap $SUITE (about 40 s)" >&2
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    "$SUITE" "$ROOTFS" >"$ROOTFS.log" 2>&1 || { tail -20 "$ROOTFS.log" >&2; exit 1; }
rm -f "$ROOTFS.log"
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
fi
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
tar -C "$ROOTFS" -c . | "$DOCKER" import \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' - "$IMAGE" >/dev/null
echo "stand-in-base: built $IMAGE" >&2
