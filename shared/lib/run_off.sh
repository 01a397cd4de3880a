#!/usr/bin/env bash
#
# run_off.sh: turn one step's feature off on the host, as root (the "off" transition).
#
# Usage: run_off.sh STEP
#   STEP   the name of a step that is no longer in the installed plan
#
# A feature turned off in the stack (fail2ban, sysctl, node exporter, monitoring,
# web tier) drops its step from the plan. Both control planes call this runner
# for such a step: Pulumi's Step.delete() (deletes run after every create and
# update, so the new bundle is installed by then) and `infrakit apply` (for each
# step the host recorded in $IK_STATE_DIR/STEP.hash that the plan no longer has).
#
# What it does, in order:
#   1. If the installed bundle (two levels above this file) still plans STEP
#      (steps/STEP/hash exists), it does nothing: a renamed resource or a
#      `pulumi destroy` must never switch off what the plan still wants.
#   2. Runs the step's off action, shared/off/STEP.sh from the same bundle, if
#      there is one (none: the step leaves nothing running, e.g. node_env).
#   3. Removes $IK_STATE_DIR/STEP.hash, so turning the feature on again runs
#      the step again on both control planes.
# Holds the same lock as run_step.sh. Exports IK_STEP=STEP, IK_BUNDLE and
# IK_STATE_DIR (default /var/lib/infrakit/state) to the off action.
# Last stdout line: infrakit: step=<STEP> changed=<0|1>
#
# Exit codes: the off action's own, or 2 bad arguments, 1 other runner errors.

IK_STEP="run_off"
IK__SELF_DIR="${BASH_SOURCE[0]%/*}"
[[ "${BASH_SOURCE[0]}" == */* ]] || IK__SELF_DIR=.
# shellcheck source-path=SCRIPTDIR source=core.sh
source "${IK__SELF_DIR}/core.sh"

readonly IK__STEP_RE='^[a-z][a-z0-9_]{1,40}$'
readonly IK__LOCK_TIMEOUT=900

main() {
  if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
    ik_help
    return 0
  fi
  (($# == 1)) || ik_die "usage: run_off.sh STEP" 2
  local step="$1" bundle action stat_out
  local -a owner_mode
  [[ "${step}" =~ ${IK__STEP_RE} ]] || ik_die "bad step name '${step}'" 2
  IK_STEP="${step}"
  ik_require_root
  cd -- "${IK__SELF_DIR}/../.." || ik_die "cannot enter the bundle (${IK__SELF_DIR}/../..)"
  bundle="$(pwd -P)"
  stat_out="$(stat -c '%u %a' -- . 2>/dev/null || true)"
  read -r -a owner_mode <<<"${stat_out}"
  if [[ "${owner_mode[0]:-}" != 0 ]] || ((8#${owner_mode[1]:-0} & 8#022)); then
    ik_die "bundle ${bundle} must be owned by root and not group/world-writable"
  fi
  if [[ -e "${bundle}/steps/${step}/hash" ]]; then
    ik_log "the installed plan still has ${step}: nothing turned off"
    ik_done
    return 0
  fi
  install -d -m 0755 -o root -g root -- "${IK_STATE_DIR}"
  exec 9>"${IK_STATE_DIR}/.run.lock"
  flock -w "${IK__LOCK_TIMEOUT}" 9 || ik_die "another step is still running (lock ${IK_STATE_DIR}/.run.lock)"
  export IK_STEP="${step}" IK_BUNDLE="${bundle}" IK_STATE_DIR
  export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  umask 022

  action="${bundle}/shared/off/${step}.sh"
  if [[ -f "${action}" ]]; then
    ik_log "turning ${step} off (shared/off/${step}.sh)"
    local rc=0
    bash -- "${action}" </dev/null 9>&- || rc=$?
    if ((rc != 0)); then
      ik_log "shared/off/${step}.sh failed with exit ${rc}; the record of ${step} is kept"
      exit "${rc}"
    fi
  else
    ik_log "${step} has no off action (it leaves nothing running)"
  fi
  if [[ -e "${IK_STATE_DIR}/${step}.hash" ]]; then
    rm -f -- "${IK_STATE_DIR}/${step}.hash"
    ik_log "removed the record ${IK_STATE_DIR}/${step}.hash"
  fi
  # The off action printed its own "infrakit: step=STEP changed=N" line.
  [[ -f "${action}" ]] || ik_done
}

main "$@"
