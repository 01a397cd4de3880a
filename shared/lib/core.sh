#!/usr/bin/env bash
#
# core.sh: the part of the InfraKit shell library every script sources (never run directly).
#
# Strict mode, logging to stderr, error and exit traps, --help, input checks, the
# changed/done protocol and temp files. The other modules (files.sh, apt.sh,
# download.sh, systemd.sh, params.sh) source this one; a script sources only the
# modules whose functions it calls, so a step's hash covers exactly those
# (infrakit/plan/sources.py). Public functions are prefixed ik_; ik__* are internal.
# See shared/README.md for the full API.
#
# Conventions:
#   - stdout carries only machine-readable "infrakit: ..." lines; the last one
#     is printed by ik_done. Tool chatter (apt, ufw, systemctl) goes to stderr.
#   - ik_write_file, ik_install_file, ik_install_all_files and
#     ik_download_verify are predicates: 0 = changed something, 1 = nothing to
#     do. Call them in a condition (`if ik_install_file x; then ...`) or append
#     `|| true`.
#   - Nothing here evaluates input as code: params.env and stdin secrets are
#     parsed, not sourced.
#
# Test hooks (environment): IK_OS_RELEASE_FILE (default /etc/os-release).

set -Eeuo pipefail
shopt -s inherit_errexit

[[ -n "${IK__CORE_LOADED:-}" ]] && return 0
IK__CORE_LOADED=1
# This library's directory: scripts source the other modules from it (no fork).
IK_LIB="${BASH_SOURCE[0]%/*}"
[[ "${BASH_SOURCE[0]}" == */* ]] || IK_LIB=.
# shellcheck disable=SC2034  # read by the scripts and modules that source this one
readonly IK_LIB

readonly IK_SUPPORTED_OS="debian 12, ubuntu 22.04, ubuntu 24.04"
# shellcheck disable=SC2034  # read by files.sh and download.sh
readonly IK__MODE_RE='^0?[0-7]{3,4}$'

IK_STEP="${IK_STEP:-$(basename -- "${BASH_SOURCE[-1]:-$0}" .sh)}"
IK_CHANGED=0
IK__CLEANUP=()
IK_STATE_DIR="${IK_STATE_DIR:-/var/lib/infrakit/state}"
# Results that the scripts sourcing this library read.
# shellcheck disable=SC2034
{
  IK_OS_ID=""
  IK_OS_VERSION=""
}
export DEBIAN_FRONTEND=noninteractive
export NEEDRESTART_MODE=l
export LC_ALL=C

# ---------------------------------------------------------------- logging ----

# Log a message to stderr, tagged with the step name.
ik_log() {
  printf 'infrakit[%s]: %s\n' "${IK_STEP}" "$*" >&2
}

ik_warn() {
  printf 'infrakit[%s]: WARNING: %s\n' "${IK_STEP}" "$*" >&2
}

# ik_die MSG [CODE]: log an error and exit (default code 1).
ik_die() {
  local msg="$1" code="${2:-1}"
  printf 'infrakit[%s]: ERROR: %s\n' "${IK_STEP}" "${msg}" >&2
  exit "${code}"
}

ik__on_err() {
  local code="$1" line="$2" cmd="$3"
  local hint="" predicates='^(ik_write_file|ik_install_file|ik_install_all_files|ik_download_verify)[[:space:]]'
  if ((code == 1)) && [[ "${cmd}" =~ ${predicates} || "${cmd}" == "return 1" ]]; then
    hint=" (ik_write_file, ik_install_file, ik_install_all_files and ik_download_verify return 1 when nothing changed: call them in a condition or add '|| true')"
  fi
  printf 'infrakit[%s]: ERROR: command failed (exit %s) at %s line %s: %s%s\n' \
    "${IK_STEP}" "${code}" "$(basename -- "${BASH_SOURCE[1]:-?}")" "${line}" "${cmd}" "${hint}" >&2
}

ik__on_exit() {
  local path
  for path in "${IK__CLEANUP[@]}"; do
    [[ -n "${path}" ]] && rm -rf -- "${path}"
  done
  return 0
}

trap 'ik__on_err "$?" "${LINENO}" "${BASH_COMMAND}"' ERR
trap ik__on_exit EXIT

# ---------------------------------------------------------- script basics ----

# Print the calling script's header comment block (its inputs) to stdout.
ik_help() {
  local script="${BASH_SOURCE[-1]:-$0}" line started=0
  while IFS= read -r line; do
    [[ "${line}" == '#!'* ]] && continue
    [[ "${line}" == '#'* ]] || break
    [[ "${line}" == '# shellcheck'* ]] && continue
    line="${line#\#}"
    line="${line# }"
    [[ -z "${line}" && "${started}" == 0 ]] && continue
    started=1
    printf '%s\n' "${line}"
  done <"${script}"
}

# ik_args "$@": handle --help (print the header, exit 0); refuse anything else.
ik_args() {
  if (($# == 0)); then
    return 0
  fi
  if [[ "$1" == "--help" || "$1" == "-h" ]] && (($# == 1)); then
    ik_help
    exit 0
  fi
  ik_die "unexpected argument(s): $*; inputs come from the environment (see --help)" 2
}

ik_require_root() {
  ((EUID == 0)) || ik_die "must run as root (use sudo)"
}

# Debian 12 or Ubuntu 22.04/24.04, else die. Sets IK_OS_ID and IK_OS_VERSION.
ik_require_os() {
  local file="${IK_OS_RELEASE_FILE:-/etc/os-release}" line key value
  IK_OS_ID="" IK_OS_VERSION=""
  [[ -r "${file}" ]] || ik_die "cannot read ${file}; supported: ${IK_SUPPORTED_OS}"
  while IFS= read -r line || [[ -n "${line}" ]]; do
    [[ "${line}" =~ ^([A-Z_]+)=(.*)$ ]] || continue
    key="${BASH_REMATCH[1]}"
    value="${BASH_REMATCH[2]}"
    value="${value#[\"\']}"
    value="${value%[\"\']}"
    case "${key}" in
      ID) IK_OS_ID="${value}" ;;
      VERSION_ID) IK_OS_VERSION="${value}" ;;
    esac
  done <"${file}"
  case "${IK_OS_ID} ${IK_OS_VERSION}" in
    "debian 12" | "ubuntu 22.04" | "ubuntu 24.04") return 0 ;;
  esac
  ik_die "unsupported OS ${IK_OS_ID:-unknown} ${IK_OS_VERSION:-unknown}; supported: ${IK_SUPPORTED_OS}"
}

# ik_require_env VAR...: each must be set and non-empty.
ik_require_env() {
  local name
  for name in "$@"; do
    [[ "${name}" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || ik_die "ik_require_env: bad variable name '${name}'"
    [[ -n "${!name:-}" ]] || ik_die "required input ${name} is missing or empty (see --help)"
  done
}

# ik_require_match VAR REGEX DESCRIPTION: the variable's value must match.
ik_require_match() {
  local name="$1" re="$2" what="$3"
  [[ "${!name:-}" =~ ${re} ]] || ik_die "input ${name}='${!name:-}' is not ${what}"
}

ik_changed() {
  IK_CHANGED=1
}

# The last line of every primitive's stdout.
ik_done() {
  printf 'infrakit: step=%s changed=%s\n' "${IK_STEP}" "${IK_CHANGED}"
}

ik_in_container() {
  systemd-detect-virt --container --quiet 2>/dev/null
}

# ik_tmpdir VAR [PARENT] / ik_tmpfile VAR [DIR]: create a temp dir / file
# (mode 0700 / 0600), store its path in VAR, and remove it at exit.
ik_tmpdir() {
  local _ik_path
  _ik_path="$(mktemp -d "${2:-${TMPDIR:-/tmp}}/infrakit.XXXXXXXX")" || ik_die "cannot create a temp dir"
  IK__CLEANUP+=("${_ik_path}")
  printf -v "$1" '%s' "${_ik_path}"
}

ik_tmpfile() {
  local _ik_path
  _ik_path="$(mktemp "${2:-${TMPDIR:-/tmp}}/.infrakit.XXXXXXXX")" || ik_die "cannot create a temp file"
  IK__CLEANUP+=("${_ik_path}")
  printf -v "$1" '%s' "${_ik_path}"
}
