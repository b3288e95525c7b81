#!/usr/bin/env bash
# Local RabbitMQ and PostgreSQL on loopback, for the test, demo and benchmark scripts.
# Sourced, not run: `source scripts/services.sh; services_up; ...; services_down`.
# Installs what is missing (Debian, as root), starts each server in a throwaway data folder
# unless one already answers on its port, and remembers what it started so that services_down
# stops exactly that.

ITSM_SERVICES_DIR=${ITSM_SERVICES_DIR:-/tmp/itsm-services}
ITSM_AMQP_PORT=${ITSM_AMQP_PORT:-5672}
ITSM_PG_PORT=${ITSM_PG_PORT:-5432}
# The broker's TLS listener (started with the broker, only when this script starts it).
ITSM_AMQPS_PORT=${ITSM_AMQPS_PORT:-5671}
ITSM_TLS_DIR="$ITSM_SERVICES_DIR/tls"
# An HTTP proxy (tinyproxy, basic auth) for the ServiceNow-through-a-proxy tests.
ITSM_PROXY_PORT=${ITSM_PROXY_PORT:-8899}
# PgBouncer in transaction pooling mode in front of the local PostgreSQL.
ITSM_PGBOUNCER_PORT=${ITSM_PGBOUNCER_PORT:-6433}
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
  [ -f /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
  command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
  command -v tinyproxy >/dev/null 2>&1 || [ -x /usr/bin/tinyproxy ] || missing+=(tinyproxy)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
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

# A made-up CA and certificates for the TLS tests, in $ITSM_TLS_DIR: the CA (ca.pem), the
# servers' certificate for the name localhost only (server.pem), a client certificate
# (client.pem), a second CA that signed nothing here (other-ca.pem) and a server certificate
# that expired in 2020 (expired.pem). Each key is <name>-key.pem.
tls_material() {
  local dir="$ITSM_TLS_DIR"
  [ -f "$dir/expired.pem" ] && return 0
  rm -rf "$dir"; mkdir -p "$dir"
  (
    cd "$dir"
    local q=(-loglevel error)
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 3650 -subj "/CN=itsm test CA" 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca-key.pem -out other-ca.pem -days 3650 -subj "/CN=another CA" 2>/dev/null
    printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    for name in server client expired; do
      openssl req -newkey rsa:2048 -nodes -keyout "$name-key.pem" -out "$name.csr" -subj "/CN=${name/server/localhost}" 2>/dev/null
    done
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server.pem -days 3650 -extfile server.ext 2>/dev/null
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out client.pem -days 3650 -extfile client.ext 2>/dev/null
    # openssl x509 cannot backdate; openssl ca can.
    touch index.txt; echo 1000 >serial
    cat >ca.cnf <<'CNF'
[ca]
default_ca = test
[test]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = anything
copy_extensions = copy
[anything]
commonName = supplied
CNF
    openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca-key.pem -in expired.csr -out expired.pem -extfile server.ext \
      -startdate 20200101000000Z -enddate 20200201000000Z >/dev/null 2>&1
  ) || { _log "could not make the TLS test certificates"; return 1; }
  # The broker and PostgreSQL run as their own users and read these.
  chmod 755 "$dir"; chmod 644 "$dir"/*.pem
}

rabbitmq_up() {
  if _port_open "$ITSM_AMQP_PORT"; then
    _log "RabbitMQ already answers on $ITSM_AMQP_PORT"
    return 0
  fi
  local base="$ITSM_SERVICES_DIR/rabbitmq"
  local store="${ITSM_BROKER_STORE:-$base/mnesia}"
  rm -rf "$base" "$store"; mkdir -p "$store" "$base/log"
  tls_material || return 1
  # A TLS listener beside the plain one; it asks clients for a certificate and refuses those
  # without one, so the tests exercise mutual TLS.
  cat >"$base/rabbitmq.conf" <<CONF
listeners.ssl.1 = 127.0.0.1:$ITSM_AMQPS_PORT
ssl_options.cacertfile = $ITSM_TLS_DIR/ca.pem
ssl_options.certfile = $ITSM_TLS_DIR/server.pem
ssl_options.keyfile = $ITSM_TLS_DIR/server-key.pem
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = true
CONF
  chmod 644 "$ITSM_TLS_DIR"/*-key.pem
  chown -R rabbitmq:rabbitmq "$base" "$store"
  # The broker runs as the rabbitmq user; its data and logs live in our throwaway folders.
  # Loopback only, including Erlang distribution and epmd.
  local env=(HOME=/var/lib/rabbitmq
    RABBITMQ_MNESIA_BASE="$store" RABBITMQ_LOG_BASE="$base/log"
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$ITSM_AMQP_PORT"
    RABBITMQ_DIST_PORT=$((ITSM_AMQP_PORT + 20000)) ERL_EPMD_ADDRESS=127.0.0.1
    RABBITMQ_PID_FILE="$base/rabbit.pid" RABBITMQ_CONFIG_FILE="$base/rabbitmq.conf"
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}")
  _log "starting RabbitMQ in $base (messages in $store)"
  runuser -u rabbitmq -- env "${env[@]}" setsid rabbitmq-server >"$base/stdout.log" 2>&1 &
  echo "$store" >"$ITSM_SERVICES_DIR/rabbitmq.started"
  _itsm_started+=(rabbitmq)
  local i
  for i in $(seq 1 120); do
    if rabbitmqctl_ -q await_startup >/dev/null 2>&1 && _port_open "$ITSM_AMQP_PORT"; then
      _log "RabbitMQ is running (TLS on $ITSM_AMQPS_PORT)"
      echo "$ITSM_AMQPS_PORT" >"$ITSM_SERVICES_DIR/rabbitmq.tls"
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
    # TLS with the test CA's certificate for localhost (the server insists on a key only its
    # own user can read).
    tls_material || return 1
    install -o postgres -m 600 "$ITSM_TLS_DIR/server-key.pem" "$data/server-key.pem"
    runuser -u postgres -- "$bin/pg_ctl" -D "$data/db" -l "$data/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $ITSM_PG_PORT -k $data -c max_connections=400 -c fsync=off -c ssl=on -c ssl_cert_file=$ITSM_TLS_DIR/server.pem -c ssl_key_file=$data/server-key.pem" start >/dev/null \
      || { tail -n 30 "$data/server.log" >&2; return 1; }
    echo "$data" >"$ITSM_SERVICES_DIR/postgres.started"
    touch "$ITSM_SERVICES_DIR/postgres.tls"
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

# PgBouncer, transaction pooling, trusting loopback clients; it passes every database through
# to the local PostgreSQL.
pgbouncer_up() {
  if _port_open "$ITSM_PGBOUNCER_PORT"; then
    _log "PgBouncer already answers on $ITSM_PGBOUNCER_PORT"
    return 0
  fi
  local dir="$ITSM_SERVICES_DIR/pgbouncer"
  rm -rf "$dir"; mkdir -p "$dir"
  cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$ITSM_PG_PORT
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $ITSM_PGBOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 20
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
  # The password PgBouncer logs in to PostgreSQL with (clients are trusted on loopback).
  echo '"itsm" "itsm"' >"$dir/userlist.txt"
  chown -R postgres:postgres "$dir"
  runuser -u postgres -- pgbouncer -d "$dir/pgbouncer.ini" || { _log "PgBouncer did not start"; return 1; }
  _itsm_started+=(pgbouncer)
  _log "PgBouncer (transaction pooling) on $ITSM_PGBOUNCER_PORT"
}

# tinyproxy on loopback with basic auth (itsm / proxy-secret); its log shows every request it
# forwarded, which the proxy tests read.
proxy_up() {
  if _port_open "$ITSM_PROXY_PORT"; then
    _log "a proxy already answers on $ITSM_PROXY_PORT"
    return 0
  fi
  local dir="$ITSM_SERVICES_DIR/tinyproxy"
  rm -rf "$dir"; mkdir -p "$dir"
  cat >"$dir/tinyproxy.conf" <<CONF
User tinyproxy
Group tinyproxy
Port $ITSM_PROXY_PORT
Listen 127.0.0.1
Timeout 60
LogFile "$dir/tinyproxy.log"
LogLevel Connect
PidFile "$dir/tinyproxy.pid"
MaxClients 200
Allow 127.0.0.1
BasicAuth itsm proxy-secret
CONF
  chown -R tinyproxy:tinyproxy "$dir" 2>/dev/null || chmod 777 "$dir"
  tinyproxy -c "$dir/tinyproxy.conf" || { _log "tinyproxy did not start"; return 1; }
  _itsm_started+=(tinyproxy)
  _log "tinyproxy on $ITSM_PROXY_PORT"
}

services_up() {
  mkdir -p "$ITSM_SERVICES_DIR"
  services_install
  rabbitmq_up
  postgres_up
  pgbouncer_up
  proxy_up
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
        rm -f "$ITSM_SERVICES_DIR/rabbitmq.started" "$ITSM_SERVICES_DIR/rabbitmq.tls" ;;
      pgbouncer)
        kill "$(cat "$ITSM_SERVICES_DIR/pgbouncer/pgbouncer.pid" 2>/dev/null)" 2>/dev/null || true ;;
      tinyproxy)
        kill "$(cat "$ITSM_SERVICES_DIR/tinyproxy/tinyproxy.pid" 2>/dev/null)" 2>/dev/null || true ;;
      postgres)
        _log "stopping PostgreSQL"
        runuser -u postgres -- "$(_pg_bin)/pg_ctl" -D "$ITSM_SERVICES_DIR/postgres/db" -m fast -w stop >/dev/null 2>&1 || true
        rm -f "$ITSM_SERVICES_DIR/postgres.started" "$ITSM_SERVICES_DIR/postgres.tls" ;;
    esac
  done
  _itsm_started=()
}
