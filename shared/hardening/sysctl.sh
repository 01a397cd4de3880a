#!/usr/bin/env bash
#
# sysctl.sh: persist and apply kernel/network sysctls; report what the kernel refuses.
#
# Inputs (environment): none.
# Rendered files (files.tsv):
#   sysctl.conf -> /etc/sysctl.d/zz-infrakit.conf (key = value lines; a leading
#                  '-' on a key means "ignore if the kernel refuses", as in
#                  sysctl.d(5); '*' globs are expanded)
#
# Installs the file, then writes each key with `sysctl -w` only where the
# running value differs (whitespace-normalized) and reads it back. Keys the
# kernel refuses are reported on stdout, one line per reason:
#   infrakit: sysctl refused=<key,key,...> reason=<reason>
# reasons: container-read-only, read-only, missing, invalid-value, not-retained.
# On a real kernel any refusal is fatal. Inside a container (systemd-detect-virt
# -c) refusals of non-net.* keys are reported but not fatal, and so are net.*
# keys the container's network namespace does not have (reason missing): only
# the host kernel has them. A refused key is never reported as applied.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/files.sh
source "${IK_LIB}/files.sh"

readonly KEY_RE='^-?[a-z0-9_]+(\.[A-Za-z0-9_*:-]+)+$'

# Whitespace-normalize $1 (tabs and runs of spaces -> one space, trimmed) into NORM.
# No subshells here: this runs for every line and every key (a no-op run forked ~250
# processes for it before).
NORM=""
norm() {
  local -a words=()
  read -r -a words <<< "$1" || true
  local IFS=' '
  NORM="${words[*]}"
}

# read_norm PATH: the first line of PATH, normalized, into NORM ("" if unreadable).
read_norm() {
  local -a words=()
  read -r -a words 2>/dev/null < "$1" || true
  local IFS=' '
  NORM="${words[*]}"
}

# classify ERR_TEXT: the reason a write was refused.
classify() {
  local err="$1"
  case "${err}" in
    *"Read-only file system"* | *"ermission denied"* | *"Operation not permitted"*)
      if (( IN_CONTAINER )); then printf 'container-read-only'; else printf 'read-only'; fi
      ;;
    *"Invalid argument"*) printf 'invalid-value' ;;
    *"No such file"* | *"cannot stat"* | *"unknown key"*) printf 'missing' ;;
    *) printf 'not-retained' ;;
  esac
}

declare -A REFUSED_REASON=()
declare -a REFUSED_KEYS=() FATAL_KEYS=()
IN_CONTAINER=0

refuse() {
  local key="$1" reason="$2" optional="$3"
  REFUSED_KEYS+=("${key}")
  REFUSED_REASON[${key}]="${reason}"
  (( optional )) && return 0
  if (( ! IN_CONTAINER )) || [[ "${key}" == net.* && "${reason}" != "missing" ]]; then
    FATAL_KEYS+=("${key}")
  fi
  return 0
}

# apply_key KEY VALUE OPTIONAL: one concrete key.
apply_key() {
  local key="$1" want="$2" optional="$3" path cur err new
  path="/proc/sys/${key//.//}"
  if [[ ! -e "${path}" ]]; then
    refuse "${key}" missing "${optional}"
    return 0
  fi
  read_norm "${path}"
  cur="${NORM}"
  [[ "${cur}" == "${want}" ]] && return 0
  err="$(sysctl -q -w "${key}=${want}" 2>&1 >/dev/null || true)"
  read_norm "${path}"
  new="${NORM}"
  if [[ "${new}" == "${want}" ]]; then
    ik_log "set ${key} = ${want} (was ${cur:-unreadable})"
    ik_changed
  else
    refuse "${key}" "$(classify "${err}")" "${optional}"
  fi
}

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  command -v sysctl >/dev/null || ik_die "sysctl (procps) is not installed"
  local src line key value optional path n=0
  local -a keys=() values=() paths=()
  src="$(ik_file sysctl.conf)"
  while IFS= read -r line || [[ -n "${line}" ]]; do
    n=$((n + 1))
    norm "${line}"
    line="${NORM}"
    [[ -z "${line}" || "${line}" == '#'* || "${line}" == ';'* ]] && continue
    [[ "${line}" == *=* ]] || ik_die "sysctl.conf line ${n}: expected 'key = value'"
    norm "${line%%=*}"
    key="${NORM}"
    norm "${line#*=}"
    value="${NORM}"
    [[ "${key}" =~ ${KEY_RE} ]] || ik_die "sysctl.conf line ${n}: bad key '${key}'"
    keys+=("${key}")
    values+=("${value}")
  done < "${src}"

  ik_install_file sysctl.conf || true
  if ik_in_container; then
    IN_CONTAINER=1
  fi

  local i
  for i in "${!keys[@]}"; do
    key="${keys[i]}"
    optional=0
    if [[ "${key}" == -* ]]; then
      optional=1
      key="${key#-}"
    fi
    if [[ "${key}" == *'*'* ]]; then
      mapfile -t paths < <(compgen -G "/proc/sys/${key//.//}" || true)
      if (( ${#paths[@]} == 0 )); then
        refuse "${key}" missing "${optional}"
        continue
      fi
      for path in "${paths[@]}"; do
        path="${path#/proc/sys/}"
        apply_key "${path//\//.}" "${values[i]}" "${optional}"
      done
    else
      apply_key "${key}" "${values[i]}" "${optional}"
    fi
  done

  if (( ${#REFUSED_KEYS[@]} )); then
    local reason list
    for reason in container-read-only read-only missing invalid-value not-retained; do
      list=""
      for key in "${REFUSED_KEYS[@]}"; do
        if [[ "${REFUSED_REASON[${key}]}" == "${reason}" ]]; then
          list+="${list:+,}${key}"
        fi
      done
      if [[ -n "${list}" ]]; then
        printf 'infrakit: sysctl refused=%s reason=%s\n' "${list}" "${reason}"
      fi
    done
    if (( ${#FATAL_KEYS[@]} )); then
      ik_die "the kernel refused: ${FATAL_KEYS[*]} (the file is installed; these values are NOT applied)"
    fi
    ik_warn "${#REFUSED_KEYS[@]} key(s) not applied in this container; the host kernel or the VM lane applies them"
  fi
  ik_done
}

main "$@"
