#!/usr/bin/env bash
# One broker user per part of the stack, each with only what it needs, and the topology declared
# by the broker itself (RabbitMQ lets whoever may declare a queue delete it, so no service may):
#   mafa           administrator: operators and tests
#   mafa_sender    publish to the default exchange (routes to `messages`); declares nothing
#   mafa_receiver  consume `messages` (ack, requeue, reject: the queue dead-letters by itself)
#   mafa_monitor   monitoring tag (queues, connections, channels) + read `messages.dead`, where
#                  `mafa ledger` reads the parked messages and puts them back
# With load_definitions set the broker seeds no default user or vhost (so no guest either), and
# re-imports the file at every boot: passwords follow the environment (or the files it names).
set -euo pipefail

die() { echo "mafa-rabbitmq: $*" >&2; exit 64; }

# A JSON string literal; a password is free text, so escape it, and refuse control characters.
json_string() {
  local value=$1
  [[ $value =~ [[:cntrl:]] ]] && die "a password holds a control character"
  value=${value//\\/\\\\}
  printf '"%s"' "${value//\"/\\\"}"
}

# A variable's value, or the contents of the file <variable>_FILE names (on a Swarm, a secret
# under /run/secrets); as a JSON string.
password() {
  local file="$1_FILE" value
  if [ -n "${!file:-}" ]; then value=$(cat -- "${!file}"); else value=${!1:?set $1 or $file}; fi
  json_string "$value"
}

admin=$(password MAFA_RABBITMQ_PASSWORD)
sender=$(password MAFA_SENDER_AMQP_PASSWORD)
receiver=$(password MAFA_RECEIVER_AMQP_PASSWORD)
monitor=$(password MAFA_MONITOR_AMQP_PASSWORD)
limit=${MAFA_DELIVERY_LIMIT:-10}
[[ $limit =~ ^[1-9][0-9]{0,5}$ ]] || die "MAFA_DELIVERY_LIMIT must be a whole number >= 1, got '$limit'"

definitions=/etc/rabbitmq/mafa-definitions.json
# The offline image has no conf.d; RabbitMQ reads every *.conf in it (official and offline).
mkdir -p /etc/rabbitmq/conf.d
umask 077  # both files readable by their owner only, from the first byte
rm -f "$definitions" /etc/rabbitmq/conf.d/90-mafa.conf
cat >"$definitions" <<JSON
{
  "vhosts": [{"name": "/"}],
  "users": [
    {"name": "mafa", "password": $admin, "tags": "administrator"},
    {"name": "mafa_sender", "password": $sender, "tags": ""},
    {"name": "mafa_receiver", "password": $receiver, "tags": ""},
    {"name": "mafa_monitor", "password": $monitor, "tags": "monitoring"}
  ],
  "permissions": [
    {"user": "mafa", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"},
    {"user": "mafa_sender", "vhost": "/", "configure": "^$", "write": "^amq\\\\.default$", "read": "^$"},
    {"user": "mafa_receiver", "vhost": "/", "configure": "^$", "write": "^$", "read": "^messages$"},
    {"user": "mafa_monitor", "vhost": "/", "configure": "^$", "write": "^$", "read": "^messages\\\\.dead$"}
  ],
  "exchanges": [
    {"name": "messages.dlx", "vhost": "/", "type": "direct", "durable": true,
     "auto_delete": false, "internal": false, "arguments": {}}
  ],
  "queues": [
    {"name": "messages.dead", "vhost": "/", "durable": true, "auto_delete": false,
     "arguments": {"x-queue-type": "quorum"}},
    {"name": "messages", "vhost": "/", "durable": true, "auto_delete": false,
     "arguments": {"x-queue-type": "quorum", "x-delivery-limit": $limit,
                   "x-dead-letter-exchange": "messages.dlx",
                   "x-dead-letter-routing-key": "messages"}}
  ],
  "bindings": [
    {"source": "messages.dlx", "vhost": "/", "destination": "messages.dead",
     "destination_type": "queue", "routing_key": "messages", "arguments": {}}
  ]
}
JSON
echo "load_definitions = $definitions" >/etc/rabbitmq/conf.d/90-mafa.conf
if [ "$(id -u)" = 0 ]; then  # the official image starts as root, then drops to rabbitmq
  chown rabbitmq:rabbitmq "$definitions" /etc/rabbitmq/conf.d/90-mafa.conf
fi

if [ "$#" -gt 0 ]; then
  exec docker-entrypoint.sh "$@"
elif [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then  # offline (Debian's package)
  # The server script itself (Debian's /usr/sbin wrapper does not exec, so no SIGTERM reaches it).
  exec docker-entrypoint.sh /usr/lib/rabbitmq/bin/rabbitmq-server
else  # official: its entrypoint drops to the rabbitmq user for this exact first argument
  exec docker-entrypoint.sh rabbitmq-server
fi
