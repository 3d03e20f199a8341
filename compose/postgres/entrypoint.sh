#!/usr/bin/env bash
# Passwords from files as well as from the environment: <variable>_FILE names a file that holds
# it (on a Swarm, a secret under /run/secrets). The official image reads POSTGRES_PASSWORD_FILE
# itself but the offline one does not, and the init script reads the roles' passwords from the
# environment: so each is put there, then the base image's entrypoint starts as usual.
set -euo pipefail
for variable in POSTGRES_PASSWORD MAFA_SENDER_DB_PASSWORD MAFA_RECEIVER_DB_PASSWORD; do
  file_variable="${variable}_FILE"
  if [ -n "${!file_variable:-}" ]; then
    value=$(cat -- "${!file_variable}")
    export "$variable=$value"
    unset "$file_variable"
  fi
done
exec docker-entrypoint.sh "$@"
