#!/usr/bin/env bash
# Local RabbitMQ and PostgreSQL on loopback, for the test, demo and benchmark scripts.
# Sourced, not run: `source scripts/services.sh; services_up; ...; services_down`.
# Installs what is missing (Debian, as root), starts each server in a throwaway data folder
# unless one already answers on its port, and remembers what it started so that services_down
# stops exactly that.

ITSM_SERVICES_DIR=${ITSM_SERVICES_DIR:-/tmp/itsm-services}
ITSM_AMQP_PORT=${ITSM_AMQP_PORT:-5672}
ITSM_PG_PORT=${ITSM_PG_PORT:-5432}
# Where the broker keeps its messages (emptied at start); empty means the data folder above.
# /dev/shm/... keeps them in memory, away from a slow disk's fsyncs (up to 1.5 s were traced here
# during test runs). Not the default: two of three CI runs with it waited minutes for the
# broker's restart in the fault suite. Those waits (and one of 191 s on disk) came from the
# worker's outbox relay spinning until 20bb876 and starving the broker; not measured again since.
ITSM_BROKER_STORE=${ITSM_BROKER_STORE:-}
_itsm_started=()

_log() { printf '[services] %s\n' "$*" >&2; }

_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

services_install() {
  local missing=()
  [ -f /usr/include/amqp.h ] || missing+=(librabbitmq-dev)
  [ -f /usr/include/postgresql/libpq-fe.h ] || missing+=(libpq-dev)
  command -v rabbitmq-server >/dev/null 2>&1 || [ -x /usr/sbin/rabbitmq-server ] || missing+=(rabbitmq-server)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v python3 >/dev/null 2>&1 || missing+=(python3)
  if [ ${#missing[@]} -gt 0 ]; then
    _log "installing ${missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  # The contract and deployment tests validate JSON Schemas and parse YAML with Python.
  if ! python3 -c "import jsonschema, referencing, yaml" >/dev/null 2>&1; then
    _log "installing jsonschema and PyYAML"
    python3 -m pip install --quiet jsonschema pyyaml >/dev/null 2>&1 \
      || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-jsonschema python3-yaml >/dev/null
  fi
}

_pg_bin() { ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1; }

rabbitmq_up() {
  if _port_open "$ITSM_AMQP_PORT"; then
    _log "RabbitMQ already answers on $ITSM_AMQP_PORT"
    return 0
  fi
  local base="$ITSM_SERVICES_DIR/rabbitmq"
  local store="${ITSM_BROKER_STORE:-$base/mnesia}"
  rm -rf "$base" "$store"; mkdir -p "$store" "$base/log"
  chown -R rabbitmq:rabbitmq "$base" "$store"
  # The broker runs as the rabbitmq user; its data and logs live in our throwaway folders.
  # Loopback only, including Erlang distribution and epmd.
  local env=(HOME=/var/lib/rabbitmq
    RABBITMQ_MNESIA_BASE="$store" RABBITMQ_LOG_BASE="$base/log"
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$ITSM_AMQP_PORT"
    RABBITMQ_DIST_PORT=$((ITSM_AMQP_PORT + 20000)) ERL_EPMD_ADDRESS=127.0.0.1
    RABBITMQ_PID_FILE="$base/rabbit.pid"
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}")
  _log "starting RabbitMQ in $base (messages in $store)"
  runuser -u rabbitmq -- env "${env[@]}" setsid rabbitmq-server >"$base/stdout.log" 2>&1 &
  echo "$store" >"$ITSM_SERVICES_DIR/rabbitmq.started"
  _itsm_started+=(rabbitmq)
  local i
  for i in $(seq 1 120); do
    if rabbitmqctl_ -q await_startup >/dev/null 2>&1 && _port_open "$ITSM_AMQP_PORT"; then
      _log "RabbitMQ is running"
      return 0
    fi
    sleep 1
  done
  _log "RabbitMQ did not start; last lines of its log:"
  tail -n 30 "$base/stdout.log" >&2
  return 1
}

# rabbitmqctl as the broker's user, so that it shares the broker's Erlang cookie.
rabbitmqctl_() { runuser -u rabbitmq -- env HOME=/var/lib/rabbitmq ERL_EPMD_ADDRESS=127.0.0.1 rabbitmqctl "$@"; }

postgres_up() {
  local bin; bin=$(_pg_bin)
  if ! _port_open "$ITSM_PG_PORT"; then
    local data="$ITSM_SERVICES_DIR/postgres"
    rm -rf "$data"; mkdir -p "$data"; chown postgres:postgres "$data"
    _log "starting PostgreSQL in $data"
    runuser -u postgres -- "$bin/initdb" -D "$data/db" -U postgres --auth-local=trust \
      --auth-host=scram-sha-256 >"$data/initdb.log" 2>&1 || { cat "$data/initdb.log" >&2; return 1; }
    # The test suites run side by side, each with its own workers, and a worker opens its whole
    # pool at start: 400 connections leave room over the suite's peak of about 190.
    runuser -u postgres -- "$bin/pg_ctl" -D "$data/db" -l "$data/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $ITSM_PG_PORT -k $data -c max_connections=400 -c fsync=off" start >/dev/null \
      || { tail -n 30 "$data/server.log" >&2; return 1; }
    echo "$data" >"$ITSM_SERVICES_DIR/postgres.started"
    _itsm_started+=(postgres)
  else
    _log "PostgreSQL already answers on $ITSM_PG_PORT"
  fi
  _pg_bootstrap
}

# Role and databases for the worker (itsm) and its tests (itsm_test); safe to repeat.
_pg_bootstrap() {
  local bin; bin=$(_pg_bin)
  local sock="$ITSM_SERVICES_DIR/postgres"
  local psql=(runuser -u postgres -- "$bin/psql" -h "$sock" -p "$ITSM_PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qtA)
  if [ ! -S "$sock/.s.PGSQL.$ITSM_PG_PORT" ]; then
    # A server we did not start: use its default socket.
    psql=(runuser -u postgres -- "$bin/psql" -p "$ITSM_PG_PORT" -v ON_ERROR_STOP=1 -qtA)
  fi
  "${psql[@]}" -d postgres <<'SQL' >/dev/null || { _log "could not create the itsm role and databases"; return 1; }
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'itsm') THEN
    CREATE ROLE itsm LOGIN PASSWORD 'itsm' SUPERUSER;
  END IF;
END $$;
SELECT 'CREATE DATABASE itsm OWNER itsm' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'itsm') \gexec
SELECT 'CREATE DATABASE itsm_test OWNER itsm' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'itsm_test') \gexec
SQL
}

services_up() {
  mkdir -p "$ITSM_SERVICES_DIR"
  services_install
  rabbitmq_up
  postgres_up
}

services_down() {
  local s
  for s in "${_itsm_started[@]}"; do
    case "$s" in
      rabbitmq)
        _log "stopping RabbitMQ"
        rabbitmqctl_ -q stop >/dev/null 2>&1 || pkill -u rabbitmq -f beam >/dev/null 2>&1 || true
        # The broker started epmd (Erlang's port mapper); it outlives the broker otherwise.
        runuser -u rabbitmq -- epmd -kill >/dev/null 2>&1 || true
        # A store in memory is given back; one in the data folder goes with the next start.
        case "$(cat "$ITSM_SERVICES_DIR/rabbitmq.started" 2>/dev/null)" in
          /dev/shm/*) rm -rf "$(cat "$ITSM_SERVICES_DIR/rabbitmq.started")" ;;
        esac
        rm -f "$ITSM_SERVICES_DIR/rabbitmq.started" ;;
      postgres)
        _log "stopping PostgreSQL"
        runuser -u postgres -- "$(_pg_bin)/pg_ctl" -D "$ITSM_SERVICES_DIR/postgres/db" -m fast -w stop >/dev/null 2>&1 || true
        rm -f "$ITSM_SERVICES_DIR/postgres.started" ;;
    esac
  done
  _itsm_started=()
}
