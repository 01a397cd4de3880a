#!/usr/bin/env bash
#
# systemd.sh: systemd units: query, converge enablement and running state, refresh.
# Part of the InfraKit shell library (shared/lib/, never run directly). It sources
# core.sh itself; a script sources only the modules whose functions it calls, so
# a step's hash covers exactly those (infrakit/plan/sources.py). API: shared/README.md.

# shellcheck source-path=SCRIPTDIR source=core.sh
source "${BASH_SOURCE[0]%/*}/core.sh"

[[ -n "${IK__SYSTEMD_LOADED:-}" ]] && return 0
IK__SYSTEMD_LOADED=1

readonly IK__UNIT_RE='^[A-Za-z0-9@._:-]+\.(service|socket|timer|target|path|mount|slice)$'
# Read by the scripts sourcing this module.
# shellcheck disable=SC2034
IK_UNIT_SKIPPED=0

ik__check_unit() {
  [[ "$1" =~ ${IK__UNIT_RE} ]] || ik_die "bad unit name '$1' (expected e.g. name.service)"
}

ik_unit_exists() {
  [[ -n "$(systemctl list-unit-files --no-legend -- "$1" 2>/dev/null)" ]] \
    || [[ "$(systemctl show -p LoadState --value -- "$1" 2>/dev/null)" == "loaded" ]]
}

ik_unit_active() {
  systemctl is-active --quiet -- "$1"
}

# ik_wait_active UNIT [SECONDS]: wait while the unit is activating.
ik_wait_active() {
  local unit="$1" deadline state
  deadline=$((SECONDS + ${2:-30}))
  while true; do
    state="$(systemctl is-active -- "${unit}" 2>/dev/null || true)"
    [[ "${state}" == "active" ]] && return 0
    [[ "${state}" == "activating" || "${state}" == "reloading" ]] || return 1
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

ik__unit_failed() {
  local unit="$1"
  systemctl --no-pager --lines=0 status -- "${unit}" >&2 || true
  journalctl --no-pager -n 20 -u "${unit}" >&2 || true
  ik_die "${unit} did not become active"
}

# ik_ensure_unit UNIT [enable|disable] [now]: converge enablement, and with
# "now" also the running state. Marks changed only when it acted. A unit whose
# start condition fails (ConditionResult=no, e.g. a capability missing in a
# container) is only a warning inside a container (IK_UNIT_SKIPPED=1); on a
# real host every failure to start is fatal.
ik_ensure_unit() {
  local unit="$1" action="${2:-enable}" now="${3:-}" state
  ik__check_unit "${unit}"
  [[ "${action}" == "enable" || "${action}" == "disable" ]] || ik_die "ik_ensure_unit: action must be enable|disable"
  [[ -z "${now}" || "${now}" == "now" ]] || ik_die "ik_ensure_unit: third argument must be 'now'"
  if [[ "${action}" == "disable" ]]; then
    ik_unit_exists "${unit}" || return 0
    state="$(systemctl is-enabled -- "${unit}" 2>/dev/null || true)"
  else
    state="$(systemctl is-enabled -- "${unit}" 2>/dev/null || true)"
    case "${state}" in
      # a unit file state: the unit exists (no need to ask systemctl again)
      enabled | enabled-runtime | linked | linked-runtime | alias | masked | masked-runtime | static | \
        indirect | disabled | generated | transient) ;;
      *) ik_unit_exists "${unit}" || ik_die "unit ${unit} does not exist" ;;
    esac
  fi
  if [[ "${action}" == "enable" ]]; then
    case "${state}" in
      enabled | static | indirect | generated | alias | transient) ;;
      masked | masked-runtime) ik_die "unit ${unit} is masked; unmask it deliberately first" ;;
      *)
        systemctl enable --quiet -- "${unit}" >&2
        ik_log "enabled ${unit}"
        ik_changed
        ;;
    esac
    if [[ -n "${now}" ]] && ! ik_unit_active "${unit}"; then
      ik_wait_active "${unit}" 30 && return 0
      systemctl start -- "${unit}" >&2 || ik__unit_failed "${unit}"
      if ik_wait_active "${unit}" 60; then
        ik_log "started ${unit}"
        ik_changed
      elif [[ "$(systemctl show -p ConditionResult --value -- "${unit}")" == "no" ]] && ik_in_container; then
        ik_warn "${unit} was not started: a start condition of the unit is not met in this container"
        # shellcheck disable=SC2034  # read by the calling script
        IK_UNIT_SKIPPED=1
      else
        ik__unit_failed "${unit}"
      fi
    fi
  else
    if [[ "${state}" == "enabled" || "${state}" == "enabled-runtime" ]]; then
      systemctl disable --quiet -- "${unit}" >&2
      ik_log "disabled ${unit}"
      ik_changed
    fi
    if [[ -n "${now}" ]] && ik_unit_active "${unit}"; then
      systemctl stop -- "${unit}" >&2
      ik_log "stopped ${unit}"
      ik_changed
    fi
  fi
  return 0
}

# ik_refresh_unit UNIT RESTART RELOAD: enable and start UNIT (ik_ensure_unit); if it
# was already running before, restart it when RESTART is 1, else reload it when RELOAD
# is 1 (a unit started just now already runs the new configuration). Marks changed
# when it restarts or reloads.
ik_refresh_unit() {
  local unit="$1" restart="$2" reload="$3" was_active=0
  if ik_unit_active "${unit}"; then
    was_active=1
  fi
  ik_ensure_unit "${unit}" enable now
  if ((was_active && restart)); then
    systemctl restart "${unit}"
    ik_log "restarted ${unit} (its unit or sandbox changed)"
    ik_changed
  elif ((was_active && reload)); then
    systemctl reload "${unit}"
    ik_log "reloaded ${unit}"
    ik_changed
  fi
}
