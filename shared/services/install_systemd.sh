#!/usr/bin/env bash
#
# install_systemd.sh: install systemd units/drop-ins, verify them, enable/start the named units.
#
# Inputs (environment):
#   UNITS              space-separated unit names to manage, e.g.
#                      "geth.service lighthouse.service" (default: none)
#   ENABLE             1 = enable each of UNITS; 0 = leave as is (default: 1)
#   START              1 = start each of UNITS if not running; 0 = leave (default: 1)
#   RESTART_ON_CHANGE  1 = restart a running unit whose unit file or drop-in
#                      changed in this run; 0 = never restart (default: 0)
# Rendered files (files.tsv; any number):
#   unit files -> /etc/systemd/system/<unit>
#   drop-ins   -> /etc/systemd/system/<unit>.d/<name>.conf
#
# Changed files are checked with `systemd-analyze verify`: a complaint about
# one of our units (other than one systemd says it is "ignoring") rolls every
# file back and fails; complaints about other units are warnings. Runs
# daemon-reload only when a file changed.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/files.sh
source "${IK_LIB}/files.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/systemd.sh
source "${IK_LIB}/systemd.sh"

readonly UNIT_DIR=/etc/systemd/system
readonly UNIT_NAME_RE='^[A-Za-z0-9_.:-]+(@[A-Za-z0-9_.:-]*)?\.(service|socket|timer|target|path|mount|slice)$'

# The unit a destination path belongs to (unit file or drop-in).
unit_of_dest() {
  local dest="$1" rel
  rel="${dest#"${UNIT_DIR}"/}"
  case "${rel}" in
    */*.conf) printf '%s\n' "${rel%%.d/*}" ;;
    */*) return 1 ;;
    *) printf '%s\n' "${rel}" ;;
  esac
}

# The unit file name that defines UNIT (foo@bar.service -> foo@.service).
template_of() {
  local unit="$1"
  if [[ "${unit}" == *@?*.* ]]; then
    printf '%s@.%s\n' "${unit%%@*}" "${unit##*.}"
  else
    printf '%s\n' "${unit}"
  fi
}

# verify UNIT...: systemd-analyze verify; fail on complaints about our units.
verify_units() {
  local -a units=("$@")
  local out line unit fatal=0 ours
  out="$(systemd-analyze verify -- "${units[@]/#/${UNIT_DIR}/}" 2>&1 || true)"
  while IFS= read -r line; do
    [[ -z "${line}" ]] && continue
    ours=0
    for unit in "${units[@]}"; do
      if [[ "${line}" == *"${unit}"* ]]; then
        ours=1
      fi
    done
    if (( ours )) && [[ "${line}" != *"ignoring." && "${line}" != *"ignoring" ]]; then
      ik_warn "systemd-analyze verify: ${line}"
      fatal=1
    else
      ik_log "systemd-analyze verify (not fatal): ${line}"
    fi
  done <<< "${out}"
  return "${fatal}"
}

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  : "${UNITS:=}" "${ENABLE:=1}" "${START:=1}" "${RESTART_ON_CHANGE:=0}"
  ik_require_match ENABLE '^[01]$' "0 or 1"
  ik_require_match START '^[01]$' "0 or 1"
  ik_require_match RESTART_ON_CHANGE '^[01]$' "0 or 1"
  local -a units names=() verify=()
  local unit name dest
  read -r -a units <<< "${UNITS}"
  for unit in "${units[@]}"; do
    [[ "${unit}" =~ ${UNIT_NAME_RE} ]] || ik_die "UNITS: bad unit name '${unit}'"
  done
  mapfile -t names < <(ik_file_names)
  for name in "${names[@]}"; do
    dest="$(ik_file_dest "${name}")"
    [[ "${dest}" == "${UNIT_DIR}"/* ]] || ik_die "rendered file ${name} goes to ${dest}, outside ${UNIT_DIR}"
    unit="$(unit_of_dest "${dest}")" || ik_die "rendered file ${name}: ${dest} is neither a unit nor a <unit>.d/*.conf drop-in"
    [[ "${unit}" =~ ${UNIT_NAME_RE} ]] || ik_die "rendered file ${name}: bad unit name '${unit}'"
  done

  local -A changed_units=()
  for name in "${names[@]}"; do
    if ik_install_file "${name}"; then
      unit="$(unit_of_dest "${IK_FILE_DEST}")"
      changed_units[${unit}]=1
    fi
  done

  if (( ${#changed_units[@]} )); then
    for unit in "${!changed_units[@]}"; do
      if [[ -f "${UNIT_DIR}/${unit}" ]]; then
        verify+=("${unit}")
      fi
    done
    if (( ${#verify[@]} )) && ! verify_units "${verify[@]}"; then
      ik_rollback_files
      ik_die "systemd-analyze verify rejects ${verify[*]}; rolled back"
    fi
    systemctl daemon-reload
    ik_log "systemd reloaded (changed: ${!changed_units[*]})"
  fi

  for unit in "${units[@]}"; do
    local started=0 defining
    defining="$(template_of "${unit}")"
    ik_unit_exists "${unit}" || ik_die "unit ${unit} does not exist"
    if (( ENABLE )); then
      ik_ensure_unit "${unit}" enable
    fi
    if (( START )) && ! ik_unit_active "${unit}"; then
      systemctl start -- "${unit}"
      ik_wait_active "${unit}" 60 || {
        journalctl --no-pager -n 30 -u "${unit}" >&2 || true
        ik_die "${unit} did not start"
      }
      ik_log "started ${unit}"
      ik_changed
      started=1
    fi
    if (( RESTART_ON_CHANGE && ! started )) && [[ -n "${changed_units[${defining}]:-}" ]] \
      && ik_unit_active "${unit}"; then
      systemctl restart -- "${unit}"
      ik_log "restarted ${unit} (its unit file changed)"
      ik_changed
    fi
  done
  ik_done
}

main "$@"
