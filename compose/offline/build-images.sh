#!/usr/bin/env bash
# Builds the offline image set: images made from Debian packages (debootstrap + docker import),
# for hosts that cannot pull from a registry (air-gapped sites, this project's CI).
# Each image honours the environment contract of the official image it stands in for
# (see compose/offline/README.md). Idempotent: the base rootfs is rebuilt only when the package
# list changes, the service layers are cached by the Docker builder.
#
# Usage: `mafa images` runs it from the installed package (or, in a checkout,
#   compose/offline/build-images.sh)   env: MAFA_DEBIAN_MIRROR, MAFA_OFFLINE_NS, MAFA_WHEELS_DIR
#   (where the wheels go; default: the checkout's compose/wheels), MAFA_PYTHON (whose pip)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ns=${MAFA_OFFLINE_NS:-mafa-offline}
mirror=${MAFA_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
packages=ca-certificates,python3,python3-venv,redis-server,postgresql,rabbitmq-server,haproxy,bash
# The label ties the base image to the package list: change the list, get a new base.
base_key=$(printf '%s|%s' "$suite" "$packages" | sha256sum | cut -c1-16)
base=$ns/base:$suite

export DOCKER_BUILDKIT=0   # the engine here (20.10) has no BuildKit/buildx; the classic builder is enough

log() { printf '[offline-images] %s\n' "$*" >&2; }

have_base() {
  [ "$(docker image inspect -f '{{index .Config.Labels "org.mafa.base-key"}}' "$base" 2>/dev/null)" = "$base_key" ]
}

if have_base; then
  log "$base is up to date (key $base_key)"
else
  command -v debootstrap >/dev/null || { log "debootstrap is missing: apt-get install -y debootstrap"; exit 1; }
  rootfs=$(mktemp -d /var/tmp/mafa-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  log "debootstrap $suite into $rootfs (about a minute)"
  debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
    || { tail -20 "$rootfs.log" >&2; exit 1; }
  rm -f "$rootfs.log"
  # Smaller image: no apt lists or caches, no docs.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
  tar -C "$rootfs" -c . | docker import \
    --change "LABEL org.mafa.base-key=$base_key" \
    --change 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' - "$base" >/dev/null
  log "imported $base"
fi

# Service images: thin layers over the base, each with the official image's entrypoint contract.
build() {  # build <name:tag> <dockerfile>
  log "building $ns/$1"
  docker build -q --build-arg BASE="$base" -t "$ns/$1" -f "$here/$2" "$here" >/dev/null
}
build rabbitmq:3-management rabbitmq.Dockerfile
build postgres:15 postgres.Dockerfile
build redis:7 redis.Dockerfile
build haproxy:2.6 haproxy.Dockerfile
build python:3.11-slim-bookworm python.Dockerfile
build registry:2 registry.Dockerfile
log "done: $(docker images --format '{{.Repository}}:{{.Tag}}' "$ns/*" | tr '\n' ' ')"

# Python wheels for the app image, so it builds with `PIP_ARGS=--no-index` (no package index
# reachable from inside a build). pip skips files it already has.
wheels=${MAFA_WHEELS_DIR:-$here/../wheels}
mkdir -p "$wheels"
log "downloading wheels into $wheels"
# For the image's interpreter (CPython 3.11 on Debian bookworm) and the engine's architecture,
# whatever Python and machine run this script (pipx on Python 3.12, a Mac with an arm64 engine).
arch=$(docker info -f '{{.Architecture}}')
case "$arch" in amd64) arch=x86_64 ;; arm64) arch=aarch64 ;; esac
platforms=()
for tag in manylinux2014 manylinux_2_17 manylinux_2_28; do platforms+=(--platform "${tag}_$arch"); done
"${MAFA_PYTHON:-python3}" -m pip download --disable-pip-version-check -q \
  --python-version 3.11 --implementation cp --only-binary=:all: "${platforms[@]}" \
  -r "$here/../requirements-services.txt" -d "$wheels"
# The load image's (locust, for `mafa load --workers K` on a Swarm) in a directory of their own:
# the app image copies compose/wheels/ and must not carry them.
"${MAFA_PYTHON:-python3}" -m pip download --disable-pip-version-check -q \
  --python-version 3.11 --implementation cp --only-binary=:all: "${platforms[@]}" \
  -r "$here/../requirements-load.txt" -d "$wheels/load"
