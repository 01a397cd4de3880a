#!/usr/bin/env bash
#
# sysctl.sh (off): turn InfraKit's sysctls off: drop-in removed, the remaining configuration re-applied.
#
# Inputs (environment): none. Run by shared/lib/run_off.sh when the stack sets
# hardening.sysctl.enabled: false (the sysctl step left the plan).
#
# Removes /etc/sysctl.d/zz-infrakit.conf, then runs `sysctl --system`, which
# re-applies every other sysctl.d file (Debian's, the operator's): a key that
# one of them sets gets that value back now. A key only InfraKit set keeps its
# running value until the next reboot, when the kernel default returns (the
# value before InfraKit is not recorded, so it is not guessed). Reports:
#   infrakit: sysctl off reverted=<key,...> until-reboot=<key,...>
# (reverted: the running value now differs from InfraKit's; until-reboot: it
# does not). Keys the kernel refuses to write (container) are not errors here.
# Idempotent: with the file gone, a second run changes nothing.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/off.sh
source "${IK_LIB}/off.sh"

readonly DROPIN=/etc/sysctl.d/zz-infrakit.conf
readonly KEY_RE='^[a-z0-9_]+(\.[A-Za-z0-9_:-]+)+$'

main() {
  ik_args "$@"
  ik_require_root
  if [[ ! -e "${DROPIN}" ]]; then
    ik_log "${DROPIN} is not there: nothing to turn off"
    ik_done
    return 0
  fi
  local line key value path now
  local -A ours=()
  local -a reverted=() kept=() words=()
  while IFS= read -r line || [[ -n "${line}" ]]; do
    [[ "${line}" =~ ^[[:space:]]*(#|;|$) ]] && continue
    key="${line%%=*}"
    value="${line#*=}"
    read -r key <<<"${key}"
    key="${key#-}"
    read -r -a words <<<"${value}" || true
    [[ "${key}" =~ ${KEY_RE} ]] || continue # globs and odd lines: not reported one by one
    local IFS=' '
    ours[${key}]="${words[*]}"
    unset IFS
  done <"${DROPIN}"
  ik_off_remove "${DROPIN}"
  sysctl --system >/dev/null 2>&1 || ik_log "sysctl --system reported errors (keys this kernel or container refuses)"
  for key in "${!ours[@]}"; do
    path="/proc/sys/${key//.//}"
    now=""
    if [[ -r "${path}" ]]; then
      read -r -a words <"${path}" 2>/dev/null || true
      local IFS=' '
      now="${words[*]}"
      unset IFS
    fi
    if [[ "${now}" != "${ours[${key}]}" ]]; then
      reverted+=("${key}")
    else
      kept+=("${key}")
    fi
  done
  local IFS=,
  printf 'infrakit: sysctl off reverted=%s until-reboot=%s\n' "${reverted[*]}" "${kept[*]}"
  unset IFS
  ik_done
}

main "$@"
