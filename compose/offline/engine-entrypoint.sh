#!/usr/bin/env bash
# dockerd in a container on a cgroup v1 host: the container sees each controller mounted
# read-only, and dockerd must create cgroups for its own containers. Replace each controller's
# mount with a fresh writable one (the container's own cgroup namespace keeps it to itself),
# then start dockerd. A cgroup v2 host needs none of this.
set -euo pipefail
if [ ! -e /sys/fs/cgroup/cgroup.controllers ]; then
  mount -o remount,rw /sys/fs/cgroup 2>/dev/null || true
  while read -r _ dir fstype options _; do
    [ "$fstype" = cgroup ] || continue
    # The controller options: what is left once the generic mount flags are dropped.
    controllers=$(tr ',' '\n' <<<"$options" \
      | grep -vxE 'ro|rw|nosuid|nodev|noexec|relatime|xattr|clone_children' | paste -sd, -)
    [ "$controllers" = name=systemd ] && controllers=none,name=systemd
    umount "$dir" && mount -t cgroup -o "$controllers" cgroup "$dir"
  done < <(grep ' cgroup ' /proc/self/mounts)
fi
mkdir -p /run/engine
exec "$@"
