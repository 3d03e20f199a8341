#!/usr/bin/env bash
# The official rabbitmq image's contract for the default user: RABBITMQ_DEFAULT_USER/PASS replace
# guest (which then does not exist); clients may log in from other hosts than loopback.
set -euo pipefail
conf=/etc/rabbitmq/rabbitmq.conf
# It holds the default user's password: readable by the broker's user only.
umask 077
rm -f "$conf"
{
  echo "loopback_users = none"
  echo "listeners.tcp.default = 5672"
  echo "management.tcp.port = 15672"
  if [ -n "${RABBITMQ_DEFAULT_USER:-}" ]; then
    echo "default_user = $RABBITMQ_DEFAULT_USER"
    echo "default_pass = ${RABBITMQ_DEFAULT_PASS:?RABBITMQ_DEFAULT_PASS must be set}"
  fi
} >"$conf"
exec "$@"
