#!/usr/bin/env bash
#
# smoke_node.sh: prove the Aztec node is up: its unit is active, its status endpoint answers,
# and the host firewall opens its P2P port but neither its API nor its admin port.
#
# Inputs (environment):
#   UNIT           the node's unit (required, e.g. aztec-node.service)
#   STATUS_URL     the node's status endpoint on loopback (required, http://127.0.0.1:PORT/status)
#   P2P_PORT       the public P2P port (required)
#   PRIVATE_PORTS  space-separated ports the firewall must not open (required)
#   WAIT_SECONDS   how long to wait for the status endpoint (default 300: a first start may
#                  download a snapshot first)
# Read-only: it changes nothing, so it reports changed=0.
# Stdout: infrakit: aztec_node_smoke status=200 p2p=<port> private=<ports>, then the step line.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../../../shared/lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/systemd.sh
source "${IK_LIB}/systemd.sh"

check_firewall() {
  local rules port
  rules="$(ufw status 2>/dev/null)" || ik_die "ufw status failed: is the host firewall on?"
  grep -q '^Status: active' <<<"${rules}" || ik_die "the host firewall (ufw) is not active"
  local proto
  for proto in tcp udp; do
    grep -Eq "^${P2P_PORT}/${proto} +ALLOW" <<<"${rules}" || ik_die "P2P ${P2P_PORT}/${proto} is not open in ufw"
  done
  for port in ${PRIVATE_PORTS}; do
    if grep -Eq "^${port}(/(tcp|udp))? " <<<"${rules}"; then
      ik_die "port ${port} is open in ufw: the node's API/admin port must stay private"
    fi
  done
}

main() {
  ik_args "$@"
  ik_require_root
  : "${WAIT_SECONDS:=300}"
  ik_require_env UNIT STATUS_URL P2P_PORT PRIVATE_PORTS
  local unit="${UNIT:?}"
  ik_require_match UNIT '^[A-Za-z0-9_.@-]+\.service$' "a service unit"
  ik_require_match STATUS_URL '^http://127\.0\.0\.1:[0-9]{1,5}/status$' "a loopback status URL"
  ik_require_match P2P_PORT '^[0-9]{1,5}$' "a port"
  ik_require_match PRIVATE_PORTS '^[0-9]{1,5}( [0-9]{1,5})*$' "a list of ports"
  ik_require_match WAIT_SECONDS '^[0-9]+$' "a number of seconds"

  check_firewall
  ik_wait_active "${unit}" 30 || ik_die "${unit} is not active ($(systemctl is-active -- "${unit}" || true))"
  local deadline=$((SECONDS + WAIT_SECONDS)) code=""
  until code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -- "${STATUS_URL}")" && [[ "${code}" == 200 ]]; do
    ((SECONDS < deadline)) || ik_die "${STATUS_URL} does not answer 200 after ${WAIT_SECONDS} s (last: ${code:-none}); \
journalctl -u ${unit} says why (a dead L1 endpoint: runbooks/aztec-dev.md)"
    sleep 3
  done
  printf 'infrakit: aztec_node_smoke status=%s p2p=%s private=%s\n' "${code}" "${P2P_PORT}" "${PRIVATE_PORTS// /,}"
  ik_done
}

main "$@"
