#!/usr/bin/env bash
#
# smoke_test.sh: after an apply, prove the node answers: services up, EL JSON-RPC, beacon API,
# mev-boost, validator in the expected state, RPC ports bound to localhost only.
#
# Inputs (environment):
#   UNITS               space-separated units that must be active (required)
#   EL_RPC              EL JSON-RPC URL (default http://127.0.0.1:8545)
#   BEACON_API          beacon REST API URL (default http://127.0.0.1:5052)
#   MEV_BOOST           mev-boost URL, empty = not part of this node (default "")
#   VALIDATOR_UNIT      validator unit, empty = none (default "")
#   EXPECT_VALIDATOR    active | inactive (default inactive): a validator that
#                       the stack has not enabled must not be running
#   LOCAL_PORTS         space-separated TCP ports that must listen on loopback
#                       only (default "8545 8551 5052")
#   WAIT_SECONDS        how long each check may wait for a service to answer
#                       (default 90)
#
# Read-only: it changes nothing, so it reports changed=0. Run it by hand with
#   sudo UNITS="eth-execution.service eth-beacon.service" bash \
#     /var/lib/infrakit/bundle/adapters/ethereum/scripts/smoke_test.sh
# Stdout: infrakit: smoke el_syncing=<..> el_peers=<n> cl_syncing=<..> cl_peers=<n>
#         cl_health=<http code> mev=<ok|-> validator=<state>, then the step line.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../../../shared/lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/systemd.sh
source "${IK_LIB}/systemd.sh"

REPLY_BODY=""

# until_ok SECONDS CMD...: retry CMD every 2 s until it succeeds or time is up.
until_ok() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    (( SECONDS < deadline )) || return 1
    sleep 2
  done
}

rpc() {
  local method="$1"
  REPLY_BODY="$(curl -fsS --max-time 5 -H 'Content-Type: application/json' \
    --data "{\"jsonrpc\":\"2.0\",\"method\":\"${method}\",\"params\":[],\"id\":1}" -- "${EL_RPC}")" || return 1
  jq -e 'has("result")' <<< "${REPLY_BODY}" >/dev/null
}

beacon_get() {
  REPLY_BODY="$(curl -fsS --max-time 5 -- "${BEACON_API}$1")" || return 1
  jq -e 'has("data")' <<< "${REPLY_BODY}" >/dev/null
}

health_code() {
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -- "${BEACON_API}/eth/v1/node/health")" || return 1
  [[ "${code}" == 200 || "${code}" == 206 ]] || return 1
  REPLY_BODY="${code}"
}

mev_status() {
  curl -fsS -o /dev/null --max-time 5 -- "${MEV_BOOST}/eth/v1/builder/status"
}

# Every listener on PORT must be a loopback address.
loopback_only() {
  local port="$1" addr found=0
  while read -r addr; do
    [[ -z "${addr}" ]] && continue
    found=1
    case "${addr}" in
      "127."*":${port}" | "[::1]:${port}") ;;
      *) ik_warn "port ${port} listens on ${addr}: it must be bound to 127.0.0.1"; return 2 ;;
    esac
  done < <(ss -Hltn "sport = :${port}" | awk '{print $4}')
  (( found )) || return 1
}

main() {
  ik_args "$@"
  ik_require_root
  : "${EL_RPC:=http://127.0.0.1:8545}" "${BEACON_API:=http://127.0.0.1:5052}" "${MEV_BOOST:=}"
  : "${VALIDATOR_UNIT:=}" "${EXPECT_VALIDATOR:=inactive}" "${LOCAL_PORTS:=8545 8551 5052}" "${WAIT_SECONDS:=90}"
  ik_require_env UNITS
  ik_require_match EXPECT_VALIDATOR '^(active|inactive)$' "active or inactive"
  ik_require_match WAIT_SECONDS '^[0-9]{1,4}$' "a number of seconds"
  local unit port el_syncing el_peers cl_syncing cl_peers cl_health mev="-" validator="-" rc
  for unit in ${UNITS}; do
    until_ok "${WAIT_SECONDS}" ik_unit_active "${unit}" || {
      journalctl --no-pager -n 30 -u "${unit}" >&2 || true
      ik_die "${unit} is not active"
    }
  done
  until_ok "${WAIT_SECONDS}" rpc eth_syncing || ik_die "EL JSON-RPC ${EL_RPC} does not answer eth_syncing"
  el_syncing="$(jq -c '.result | if type == "object" then "yes" else . end' <<< "${REPLY_BODY}")"
  until_ok "${WAIT_SECONDS}" rpc net_peerCount || ik_die "EL JSON-RPC ${EL_RPC} does not answer net_peerCount"
  el_peers="$(( $(jq -r '.result' <<< "${REPLY_BODY}") ))"
  until_ok "${WAIT_SECONDS}" beacon_get /eth/v1/node/syncing || ik_die "beacon API ${BEACON_API} does not answer /eth/v1/node/syncing"
  cl_syncing="$(jq -r '.data.is_syncing' <<< "${REPLY_BODY}")"
  until_ok "${WAIT_SECONDS}" beacon_get /eth/v1/node/peer_count || ik_die "beacon API does not answer /eth/v1/node/peer_count"
  cl_peers="$(jq -r '.data.connected' <<< "${REPLY_BODY}")"
  until_ok "${WAIT_SECONDS}" health_code || ik_die "beacon API /eth/v1/node/health is not 200/206"
  cl_health="${REPLY_BODY}"
  if [[ -n "${MEV_BOOST}" ]]; then
    until_ok "${WAIT_SECONDS}" mev_status || ik_die "mev-boost ${MEV_BOOST}/eth/v1/builder/status does not answer"
    mev=ok
  fi
  if [[ -n "${VALIDATOR_UNIT}" ]]; then
    validator="$(systemctl is-active -- "${VALIDATOR_UNIT}" 2>/dev/null || true)"
    if [[ "${EXPECT_VALIDATOR}" == active ]]; then
      until_ok "${WAIT_SECONDS}" ik_unit_active "${VALIDATOR_UNIT}" || ik_die "${VALIDATOR_UNIT} is not active"
      validator=active
    elif [[ "${validator}" == active || "${validator}" == activating ]]; then
      ik_die "${VALIDATOR_UNIT} is ${validator} but the stack has not enabled it"
    fi
  fi
  for port in ${LOCAL_PORTS}; do
    rc=0
    until_ok 20 loopback_only "${port}" || rc=$?
    (( rc == 0 )) || ik_die "port ${port}/tcp must listen on loopback only (see the warning above, or nothing listens)"
  done
  printf 'infrakit: smoke el_syncing=%s el_peers=%s cl_syncing=%s cl_peers=%s cl_health=%s mev=%s validator=%s\n' \
    "${el_syncing}" "${el_peers}" "${cl_syncing}" "${cl_peers}" "${cl_health}" "${mev}" "${validator}"
  ik_done
}

main "$@"
