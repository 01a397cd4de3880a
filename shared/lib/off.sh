#!/usr/bin/env bash
#
# off.sh: helpers of the off actions (shared/off/*.sh): remove a file, switch units off.
# Part of the InfraKit shell library (shared/lib/, never run directly). It sources
# core.sh and systemd.sh itself. No step sources it, so no step hash covers it.

# shellcheck source-path=SCRIPTDIR source=core.sh
source "${BASH_SOURCE[0]%/*}/core.sh"
# shellcheck source-path=SCRIPTDIR source=systemd.sh
source "${BASH_SOURCE[0]%/*}/systemd.sh"

[[ -n "${IK__OFF_LOADED:-}" ]] && return 0
IK__OFF_LOADED=1

# ik_off_remove PATH...: remove each file that exists (marks changed); refuses
# anything that is not an absolute path to a regular file or symlink.
ik_off_remove() {
  local path
  for path in "$@"; do
    [[ "${path}" == /* && "${path}" != *..* ]] || ik_die "ik_off_remove: '${path}' is not an absolute path"
    if [[ -L "${path}" || -f "${path}" ]]; then
      rm -f -- "${path}"
      ik_log "removed ${path}"
      ik_changed
    elif [[ -e "${path}" ]]; then
      ik_die "ik_off_remove: ${path} is not a regular file"
    fi
  done
}

# ik_off_units UNIT...: stop and disable each unit that exists (marks changed when it acted).
ik_off_units() {
  local unit
  for unit in "$@"; do
    ik_ensure_unit "${unit}" disable now
  done
}
