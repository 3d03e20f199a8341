#!/usr/bin/env bash
# First start of the database only: one role per service, each able to create and use its own
# schema in its own database and nothing else (the sender cannot read or write the receiver's
# tables, and the other way round; neither can connect to the `postgres` database). Passwords come from the environment, never from this file.
set -euo pipefail
: "${MAFA_SENDER_DB_PASSWORD:?}" "${MAFA_RECEIVER_DB_PASSWORD:?}"
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
  -v sender_pw="$MAFA_SENDER_DB_PASSWORD" -v receiver_pw="$MAFA_RECEIVER_DB_PASSWORD" <<'SQL'
CREATE ROLE mafa_sender LOGIN PASSWORD :'sender_pw';
CREATE ROLE mafa_receiver LOGIN PASSWORD :'receiver_pw';
REVOKE ALL ON DATABASE :"DBNAME" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"DBNAME" TO mafa_sender, mafa_receiver;
CREATE SCHEMA sender AUTHORIZATION mafa_sender;
CREATE SCHEMA receiver AUTHORIZATION mafa_receiver;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
-- The service roles reach their own database only (every role may connect to these by default).
REVOKE ALL ON DATABASE postgres FROM PUBLIC;
REVOKE ALL ON DATABASE template1 FROM PUBLIC;
SQL
