#!/usr/bin/env bash
# The stats password haproxy.cfg reads from the environment may come from a file instead:
# MAFA_HAPROXY_STATS_PASSWORD_FILE (on a Swarm, a secret under /run/secrets). Then HAProxy starts.
set -euo pipefail
if [ -n "${MAFA_HAPROXY_STATS_PASSWORD_FILE:-}" ]; then
  MAFA_HAPROXY_STATS_PASSWORD=$(cat -- "$MAFA_HAPROXY_STATS_PASSWORD_FILE")
  export MAFA_HAPROXY_STATS_PASSWORD
  unset MAFA_HAPROXY_STATS_PASSWORD_FILE
fi
exec "$@"
