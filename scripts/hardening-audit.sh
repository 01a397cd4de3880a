#!/usr/bin/env bash
# Measure what the hardened-host plan buys: Lynis hardening index and ssh-audit of a stock
# lab host versus a converged lab host (run scripts/demo.sh first). Needs root.
#
# Environment:
#   AUDIT_HOST        the converged lab host (default: $INFRAKIT_LAB_HOST, else lab)
#   AUDIT_STOCK_HOST  the throwaway stock host booted for comparison (default stock)
#
# Lynis (Debian's package) runs inside each guest; ssh-audit, the latest release from PyPI
# (Debian's 2.5.0 predates post-quantum kex and Terrapin), is installed into
# out/audit/ssh-audit-venv and runs from this machine against the guests' lab addresses only.
# Prints one summary line per host (Lynis hardening index; ssh-audit fail and warn notes,
# every [fail]/[warn] line counted) and writes the full reports to out/audit/.
set -Eeuo pipefail

readonly STOCK="${AUDIT_STOCK_HOST:-stock}"
readonly CONVERGED="${AUDIT_HOST:-${INFRAKIT_LAB_HOST:-lab}}"
readonly AUDIT_VENV=out/audit/ssh-audit-venv

guest_pid() {
  .venv/bin/python -c "from infrakit_lab.host import LabHost; h = LabHost.get('$1'); print(h.guest_init_pid)"
}

guest_address() {
  .venv/bin/python -c "from infrakit_lab.host import LabHost; print(LabHost.get('$1').address)"
}

in_guest() {
  local pid="$1"
  shift
  nsenter --target "${pid}" --mount --uts --ipc --net --pid -- "$@"
}

audit() {
  local name="$1" pid address
  pid="$(guest_pid "${name}")"
  address="$(guest_address "${name}")"
  in_guest "${pid}" apt-get update -q >/dev/null
  in_guest "${pid}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q lynis >/dev/null
  in_guest "${pid}" lynis audit system --quick --no-colors > "out/audit/lynis-${name}.txt" 2>&1 || true
  "${AUDIT_VENV}/bin/ssh-audit" --no-colors "${address}" > "out/audit/ssh-audit-${name}.txt" 2>&1 || true
  if grep -q '^\[exception\]' "out/audit/ssh-audit-${name}.txt"; then
    echo "ssh-audit could not talk to ${name}: $(grep '^\[exception\]' "out/audit/ssh-audit-${name}.txt")" >&2
    return 1
  fi
  printf '%-10s lynis: %-28s ssh-audit: %s fail, %s warn\n' "${name}" \
    "$(grep -o 'Hardening index : [0-9]*' "out/audit/lynis-${name}.txt" || echo 'no index')" \
    "$(grep -c '\[fail\]' "out/audit/ssh-audit-${name}.txt" || true)" \
    "$(grep -c '\[warn\]' "out/audit/ssh-audit-${name}.txt" || true)"
}

main() {
  cd "$(dirname "${BASH_SOURCE[0]}")/.."
  mkdir -p out/audit
  [[ -x "${AUDIT_VENV}/bin/pip" ]] || python3 -m venv "${AUDIT_VENV}"
  "${AUDIT_VENV}/bin/pip" install -q --upgrade ssh-audit
  echo "ssh-audit $("${AUDIT_VENV}/bin/pip" show ssh-audit | sed -n 's/^Version: //p') (PyPI)," \
    "lynis from Debian"
  if ! .venv/bin/python -c "import sys; from infrakit_lab.host import LabHost; \
h = LabHost.get('${CONVERGED}'); sys.exit(0 if h and h.is_running else 1)"; then
    echo "the converged lab host is not up: run scripts/demo.sh first" >&2
    exit 1
  fi
  .venv/bin/infrakit-lab down --name "${STOCK}" >/dev/null
  .venv/bin/infrakit-lab up --name "${STOCK}" >/dev/null 2>&1
  trap '.venv/bin/infrakit-lab down --name "${STOCK}" >/dev/null' EXIT
  audit "${STOCK}"
  audit "${CONVERGED}"
  echo "full reports: out/audit/"
}

main "$@"
