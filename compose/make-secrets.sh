#!/usr/bin/env bash
# Prints fresh random secrets as an env file for plain `docker compose` use:
#   compose/make-secrets.sh > compose/.env && chmod 600 compose/.env
# (`mafa up` generates and keeps its own per project; this is for running the file by hand.)
set -euo pipefail
rand() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
for name in MAFA_SECRET_KEY MAFA_RABBITMQ_PASSWORD MAFA_REDIS_PASSWORD MAFA_POSTGRES_PASSWORD \
            MAFA_SENDER_DB_PASSWORD MAFA_RECEIVER_DB_PASSWORD MAFA_SENDER_AMQP_PASSWORD \
            MAFA_RECEIVER_AMQP_PASSWORD MAFA_MONITOR_AMQP_PASSWORD \
            MAFA_HAPROXY_STATS_PASSWORD; do
  printf '%s=%s\n' "$name" "$(rand)"
done
