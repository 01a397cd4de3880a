#!/usr/bin/env bash
#
# smoke_test.sh: after an apply, prove the Monad node answers: its services are active,
# eth_blockNumber answers on the local RPC and advances, and RPC is bound to localhost only.
# Statesync: monad-rpc listens only once statesync has completed (Monad's docs, General
# Operations, "Monitoring Block Height"), which takes hours on a fresh node. So when nothing
# listens on the RPC port after WAIT_SECONDS while every service stays active and none
# restarted meanwhile, the node is statesyncing: reported (statesync=running) and passed; the
# status page's RPC checks stay CRIT until RPC answers. A port that listens but does not answer
# or advance, a stopped or restarting service: the step fails.
#
# Inputs (environment):
#   SERVICES      units that must be active (required)
#   RPC_URL       monad-rpc's JSON-RPC URL (default http://127.0.0.1:8080)
#   LOCAL_PORTS   TCP ports that must listen on loopback only (default 8080)
#   WAIT_SECONDS  how long to wait for RPC to answer, and then for the head to move (default 120)
# Read-only: it changes nothing, so it reports changed=0. By hand:
#   sudo SERVICES="monad-bft.service monad-rpc.service" bash \
#     /var/lib/infrakit/bundle/adapters/monad/scripts/smoke_test.sh
# Stdout: infrakit: monad_smoke block=<n> advanced_to=<n> syncing=<false|..>, or
#   infrakit: monad_smoke block=- statesync=running (RPC not listening yet), then the step line.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../../../shared/lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/systemd.sh
source "${IK_LIB}/systemd.sh"

REPLY_BODY=""

rpc() {
  REPLY_BODY="$(curl -fsS --max-time 5 -H 'Content-Type: application/json' \
    --data "{\"jsonrpc\":\"2.0\",\"method\":\"$1\",\"params\":[],\"id\":1}" -- "${RPC_URL}")" || return 1
  jq -e 'has("result")' <<<"${REPLY_BODY}" >/dev/null
}

block_number() {
  rpc eth_blockNumber || return 1
  printf '%d\n' "$(jq -r .result <<<"${REPLY_BODY}")"
}

# How often each service was restarted by systemd, as one comparable line.
restarts() {
  local unit out=""
  for unit in ${SERVICES}; do
    out+="${unit}=$(systemctl show -p NRestarts --value -- "${unit}") "
  done
  printf '%s\n' "${out% }"
}

# Is anything listening on TCP port $1 (any address)?
listening() {
  [[ -n "$(ss -Hltn "sport = :$1")" ]]
}

check_local_ports() {
  local listeners port
  listeners="$(ss -Hltn)"
  for port in ${LOCAL_PORTS}; do
    if awk -v p=":${port}" '$4 ~ p"$" { print $4 }' <<<"${listeners}" | grep -qvE '^(127\.0\.0\.1|\[::1\]):'; then
      ik_die "port ${port} listens beyond localhost: $(awk -v p=":${port}" '$4 ~ p"$" { print $4 }' <<<"${listeners}" | tr '\n' ' ')"
    fi
  done
}

# RPC never answered: statesync if nothing listens on its port and the services stay up.
statesync_or_die() {
  local before="$1" unit now
  if listening "${RPC_URL##*:}"; then
    ik_die "eth_blockNumber does not answer on ${RPC_URL} after ${WAIT_SECONDS} s (the port listens: not statesync)"
  fi
  for unit in ${SERVICES}; do
    systemctl is-active --quiet -- "${unit}" || ik_die "${unit} stopped while waiting for RPC ($(systemctl is-active -- "${unit}" || true))"
  done
  now="$(restarts)"
  [[ "${now}" == "${before}" ]] || ik_die "a service restarted while waiting for RPC (${before} -> ${now}): see journalctl -u monad-bft -u monad-execution"
  ik_warn "nothing listens on ${RPC_URL} after ${WAIT_SECONDS} s while every service stays up: statesync is running \
(monad-rpc listens once it completes). Watch journalctl -fu monad-bft; the status page's RPC checks are CRIT until then"
}

main() {
  ik_args "$@"
  ik_require_root
  : "${RPC_URL:=http://127.0.0.1:8080}" "${LOCAL_PORTS:=8080}" "${WAIT_SECONDS:=120}"
  ik_require_env SERVICES
  ik_require_match SERVICES '^([A-Za-z0-9_.@-]+\.service ?)+$' "a list of service units"
  ik_require_match RPC_URL '^http://127\.0\.0\.1:[0-9]{1,5}$' "a loopback http URL"
  ik_require_match LOCAL_PORTS '^([0-9]{1,5} ?)*$' "a list of ports"
  ik_require_match WAIT_SECONDS '^[0-9]+$' "a number of seconds"

  local unit
  for unit in ${SERVICES}; do
    ik_wait_active "${unit}" 30 || ik_die "${unit} is not active ($(systemctl is-active -- "${unit}" || true))"
  done
  local deadline=$((SECONDS + WAIT_SECONDS)) first="" now="" before
  before="$(restarts)"
  until first="$(block_number)"; do
    if ((SECONDS >= deadline)); then
      statesync_or_die "${before}"
      check_local_ports
      printf 'infrakit: monad_smoke block=- statesync=running\n'
      ik_done
      return 0
    fi
    sleep 2
  done
  deadline=$((SECONDS + WAIT_SECONDS))
  while true; do
    now="$(block_number || printf '%s' "${first}")"
    ((now > first)) && break
    ((SECONDS < deadline)) || ik_die "the head does not advance: block ${first} for ${WAIT_SECONDS} s"
    sleep 2
  done
  rpc eth_syncing || ik_die "eth_syncing does not answer"
  local syncing
  syncing="$(jq -c .result <<<"${REPLY_BODY}")"
  check_local_ports
  printf 'infrakit: monad_smoke block=%s advanced_to=%s syncing=%s\n' "${first}" "${now}" "${syncing}"
  ik_done
}

main "$@"
