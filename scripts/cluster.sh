#!/usr/bin/env bash
# A three-node RabbitMQ cluster on loopback, for the cluster failover stage of scripts/test.
#   scripts/cluster.sh up            start itsm-a, itsm-b, itsm-c and join them; prints the URL list
#   scripts/cluster.sh start NODE    start one node again (after it was killed); it rejoins
#   scripts/cluster.sh pid NODE      the node's OS process id
#   scripts/cluster.sh status        cluster_status as seen from itsm-a
#   scripts/cluster.sh down          stop every node and remove their folders
# Nodes listen for AMQP on 5701-5703 (ITSM_CLUSTER_PORT_BASE + 1..3) and for Erlang distribution
# on 25701-25703, all on 127.0.0.1, and share the rabbitmq user's Erlang cookie.
set -euo pipefail
ITSM_SERVICES_DIR=${ITSM_SERVICES_DIR:-/tmp/itsm-services}
BASE_PORT=${ITSM_CLUSTER_PORT_BASE:-5700}
DIR="$ITSM_SERVICES_DIR/cluster"
NODES=(a b c)

log() { printf '[cluster] %s\n' "$*" >&2; }
port_of() { case "$1" in a) echo $((BASE_PORT + 1)) ;; b) echo $((BASE_PORT + 2)) ;; c) echo $((BASE_PORT + 3)) ;; esac; }
ctl() { local node=$1; shift; runuser -u rabbitmq -- env HOME=/var/lib/rabbitmq ERL_EPMD_ADDRESS=127.0.0.1 rabbitmqctl -n "itsm-$node@localhost" "$@"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_node() {
  local node=$1 port; port=$(port_of "$node")
  if ctl "$node" -q ping >/dev/null 2>&1; then log "itsm-$node is already running"; return 0; fi
  local base="$DIR/$node"
  mkdir -p "$base/mnesia" "$base/log"
  chown -R rabbitmq:rabbitmq "$DIR"
  runuser -u rabbitmq -- env HOME=/var/lib/rabbitmq \
    RABBITMQ_NODENAME="itsm-$node@localhost" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$port" \
    RABBITMQ_DIST_PORT=$((port + 20000)) ERL_EPMD_ADDRESS=127.0.0.1 \
    RABBITMQ_MNESIA_BASE="$base/mnesia" RABBITMQ_LOG_BASE="$base/log" RABBITMQ_PID_FILE="$base/pid" \
    RABBITMQ_CONFIG_FILE="$base/rabbitmq.conf" \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    setsid rabbitmq-server >>"$base/stdout.log" 2>&1 &
}

await_node() {
  local node=$1 i
  for i in $(seq 1 120); do
    if ctl "$node" -q await_startup >/dev/null 2>&1 && port_open "$(port_of "$node")"; then return 0; fi
    sleep 1
  done
  log "itsm-$node did not start; its log:"; tail -n 20 "$DIR/$node/stdout.log" >&2
  return 1
}

case "${1:-}" in
  up)
    rm -rf "$DIR"; mkdir -p "$DIR"
    for node in "${NODES[@]}"; do
      mkdir -p "$DIR/$node"
      # No management plugin or other listeners: only AMQP on loopback.
      echo "listeners.tcp.default = 127.0.0.1:$(port_of "$node")" >"$DIR/$node/rabbitmq.conf"
      start_node "$node"
    done
    for node in "${NODES[@]}"; do await_node "$node"; done
    for node in b c; do
      ctl "$node" -q stop_app >/dev/null
      ctl "$node" -q join_cluster itsm-a@localhost >/dev/null
      ctl "$node" -q start_app >/dev/null
    done
    log "cluster of itsm-a, itsm-b, itsm-c running on $(port_of a)-$(port_of c)"
    urls=(); for node in "${NODES[@]}"; do urls+=("amqp://guest:guest@127.0.0.1:$(port_of "$node")/%2f"); done
    (IFS=,; echo "${urls[*]}")
    ;;
  start) start_node "$2"; await_node "$2" ;;
  pid) cat "$DIR/$2/pid" ;;
  status) ctl a -q cluster_status ;;
  down)
    # By name, not only by pid file: a node started twice removes the file when the second exits.
    for node in "${NODES[@]}"; do
      ctl "$node" -q stop >/dev/null 2>&1 || pkill -9 -u rabbitmq -f "itsm-$node@localhost" >/dev/null 2>&1 || true
    done
    rm -rf "$DIR"
    ;;
  *) echo "usage: scripts/cluster.sh up|start NODE|pid NODE|status|down" >&2; exit 2 ;;
esac
