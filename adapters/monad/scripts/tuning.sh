#!/usr/bin/env bash
#
# tuning.sh: the kernel tuning Monad's package ships, applied now and at every boot, and
# checked: its sysctl file (network buffers) and its hugepages service.
#
# Inputs (environment):
#   SYSCTL_FILE      the package's sysctl file (default /etc/sysctl.d/90-monad-network-buffer.conf)
#   HUGEPAGES_UNIT   the package's hugepages unit (default set-hugepages.service)
# Inside a container (the lab), keys the kernel does not namespace are read-only and the
# hugepages pool cannot be set: that is reported (refused=...), not fatal; on a real host
# any refused or not retained key, or a failed hugepages unit, fails the step.
# Stdout: infrakit: monad_tuning sysctl=<applied|refused=keys|missing> hugepages_total=<n>
#         hugepagesize_kb=<n> hugepages_unit=<state>, then the step line.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../../../shared/lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/systemd.sh
source "${IK_LIB}/systemd.sh"

apply_sysctl() {
  local key value line current refused=()
  if [[ ! -f "${SYSCTL_FILE}" ]]; then
    ik_warn "${SYSCTL_FILE} is missing: the installed monad package ships no network-buffer sysctls"
    SYSCTL_STATE=missing
    return 0
  fi
  while IFS= read -r line || [[ -n "${line}" ]]; do
    [[ "${line}" =~ ^[[:space:]]*([a-z0-9_.]+)[[:space:]]*=[[:space:]]*(.*[^[:space:]])[[:space:]]*$ ]] || continue
    key="${BASH_REMATCH[1]}"
    value="${BASH_REMATCH[2]}"
    current="$(sysctl -n -- "${key}" 2>/dev/null | tr -s '\t ' ' ' || true)"
    [[ "${current}" == "${value}" ]] && continue
    # changed only when the kernel keeps the value (a container may accept a write and ignore it)
    if sysctl -q -w -- "${key}=${value}" >/dev/null 2>&1 \
      && [[ "$(sysctl -n -- "${key}" 2>/dev/null | tr -s '\t ' ' ')" == "${value}" ]]; then
      ik_log "set ${key}=${value} (was ${current:-unset})"
      ik_changed
    else
      refused+=("${key}")
    fi
  done <"${SYSCTL_FILE}"
  if ((${#refused[@]})); then
    SYSCTL_STATE="refused=$(
      IFS=,
      printf '%s' "${refused[*]}"
    )"
    if ik_in_container; then
      ik_warn "this container may not set ${refused[*]} (not namespaced); a real host applies them"
    else
      ik_die "the kernel refused ${refused[*]} from ${SYSCTL_FILE}"
    fi
  else
    SYSCTL_STATE=applied
  fi
}

hugepages() {
  if ! ik_unit_exists "${HUGEPAGES_UNIT}"; then
    ik_warn "${HUGEPAGES_UNIT} is not installed by this monad package; hugepages stay as the kernel has them"
    HUGE_UNIT_STATE=missing
    return 0
  fi
  if ik_in_container; then
    # enable it for boot; starting it needs a kernel this container does not own
    ik_ensure_unit "${HUGEPAGES_UNIT}" enable
    if ik_unit_active "${HUGEPAGES_UNIT}" || systemctl start -- "${HUGEPAGES_UNIT}" >&2 2>/dev/null; then
      HUGE_UNIT_STATE=active
    else
      ik_warn "${HUGEPAGES_UNIT} cannot run in this container (vm.* is read-only here)"
      HUGE_UNIT_STATE=container-refused
    fi
  else
    ik_ensure_unit "${HUGEPAGES_UNIT}" enable now
    HUGE_UNIT_STATE=active
  fi
}

main() {
  ik_args "$@"
  ik_require_root
  : "${SYSCTL_FILE:=/etc/sysctl.d/90-monad-network-buffer.conf}" "${HUGEPAGES_UNIT:=set-hugepages.service}"
  ik_require_match SYSCTL_FILE '^/etc/sysctl\.d/[A-Za-z0-9._-]+\.conf$' "a file in /etc/sysctl.d"
  ik_require_match HUGEPAGES_UNIT '^[A-Za-z0-9_.@-]+\.service$' "a service unit"
  SYSCTL_STATE="" HUGE_UNIT_STATE=""
  apply_sysctl
  hugepages
  local total size
  total="$(awk '/^HugePages_Total:/ { print $2 }' /proc/meminfo)"
  size="$(awk '/^Hugepagesize:/ { print $2 }' /proc/meminfo)"
  printf 'infrakit: monad_tuning sysctl=%s hugepages_total=%s hugepagesize_kb=%s hugepages_unit=%s\n' \
    "${SYSCTL_STATE}" "${total:-0}" "${size:-0}" "${HUGE_UNIT_STATE}"
  ik_done
}

SYSCTL_STATE=""
HUGE_UNIT_STATE=""
main "$@"
