#!/usr/bin/env bash
# The password is REDISCLI_AUTH (the variable redis-cli reads, so `docker exec ... redis-cli`
# just works) or the file REDISCLI_AUTH_FILE names (on a Swarm: a secret under /run/secrets).
#   redis-server ...   the server reads it as `requirepass` on its standard input
#                      (`redis-server - ...`): never on its command line
#   anything else      (redis-cli in the health check) runs with REDISCLI_AUTH set
set -euo pipefail

die() { echo "mafa-redis: $*" >&2; exit 64; }
# A variable's value, or the contents of the file <variable>_FILE names.
secret() { local file="$1_FILE"; if [ -n "${!file:-}" ]; then cat -- "${!file}"; else printf '%s' "${!1:?set $1 or $file}"; fi; }

password=$(secret REDISCLI_AUTH)
unset REDISCLI_AUTH_FILE
if [ "${1:-}" != redis-server ]; then
  REDISCLI_AUTH=$password exec "$@"
fi
[[ $password =~ [[:cntrl:]] ]] && die "the password holds a control character"
password=${password//\\/\\\\}
shift
set -- redis-server - "$@"  # `-` first: the official entrypoint may append options
if command -v docker-entrypoint.sh >/dev/null; then  # official: it drops to the redis user
  set -- docker-entrypoint.sh "$@"
fi
exec "$@" <<<"requirepass \"${password//\"/\\\"}\""
