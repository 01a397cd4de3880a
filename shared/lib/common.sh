#!/usr/bin/env bash
#
# common.sh: the library every InfraKit primitive sources (never run directly).
#
# Strict mode, logging to stderr, input checks, and idempotent building blocks
# that report whether they changed anything. Public functions are prefixed
# ik_; ik__* are internal. See shared/README.md for the full API.
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

[[ -n "${IK__COMMON_LOADED:-}" ]] && return 0
IK__COMMON_LOADED=1

readonly IK_SUPPORTED_OS="debian 12, ubuntu 22.04, ubuntu 24.04"
readonly IK__NAME_RE='^[A-Z][A-Z0-9_]*$'
readonly IK__FILE_NAME_RE='^[A-Za-z0-9_.-]+$'
readonly IK__MODE_RE='^0?[0-7]{3,4}$'
readonly IK__OWNER_RE='^[a-z_][a-z0-9_-]*:[a-z_][a-z0-9_-]*$'
readonly IK__PKG_RE='^[a-z0-9][a-z0-9+.-]+$'
readonly IK__UNIT_RE='^[A-Za-z0-9@._:-]+\.(service|socket|timer|target|path|mount|slice)$'
# Names a parameter or secret may never take: they change how bash or the
# dynamic linker behave.
readonly IK__RESERVED_NAMES=" PATH IFS ENV BASH_ENV SHELLOPTS BASHOPTS CDPATH \
GLOBIGNORE PS4 PROMPT_COMMAND HOME TMPDIR LANG LANGUAGE PYTHONPATH PYTHONHOME \
PERL5LIB UID EUID PPID GROUPS SECONDS RANDOM LINENO OPTIND OPTARG OPTERR \
HOSTNAME HOSTTYPE MACHTYPE OSTYPE PWD OLDPWD SHELL SHLVL USER LOGNAME TERM \
FUNCNAME PIPESTATUS REPLY COLUMNS LINES DEBIAN_FRONTEND NEEDRESTART_MODE "

IK_STEP="${IK_STEP:-$(basename -- "${BASH_SOURCE[-1]:-$0}" .sh)}"
IK_CHANGED=0
IK_ROLLBACK="${IK_ROLLBACK:-1}"
IK__BACKUP_DIR=""
IK__RB_DESTS=()
IK__RB_SAVED=()
IK__CLEANUP=()
# Results of the internal helpers that avoid a subshell (ik__mode_norm, ik__file_path, ...).
IK__MODE=""
IK__PATH=""
IK__NAMES=()
IK_STATE_DIR="${IK_STATE_DIR:-/var/lib/infrakit/state}"
# Results that the scripts sourcing this library read.
# shellcheck disable=SC2034
{
  IK_OS_ID=""
  IK_OS_VERSION=""
  IK_UNIT_SKIPPED=0
  IK_FILE_MODE=""
  IK_FILE_OWNER=""
  IK_FILE_DEST=""
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
  local hint=""
  if (( code == 1 )) && [[ "${cmd}" =~ ^(ik_write_file|ik_install_file|ik_install_all_files|ik_download_verify)[[:space:]] || "${cmd}" == "return 1" ]]; then
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
  if [[ -n "${IK__BACKUP_DIR}" ]]; then
    rm -rf -- "${IK__BACKUP_DIR}"
  fi
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
  done < "${script}"
}

# ik_args "$@": handle --help (print the header, exit 0); refuse anything else.
ik_args() {
  if (( $# == 0 )); then
    return 0
  fi
  if [[ "$1" == "--help" || "$1" == "-h" ]] && (( $# == 1 )); then
    ik_help
    exit 0
  fi
  ik_die "unexpected argument(s): $*; inputs come from the environment (see --help)" 2
}

ik_require_root() {
  (( EUID == 0 )) || ik_die "must run as root (use sudo)"
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
  done < "${file}"
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

# ------------------------------------------------------- params & secrets ----

ik__reserved_name() {
  [[ "$1" == IK_* || "$1" == LC_* || "$1" == LD_* || "$1" == BASH* \
    || "${IK__RESERVED_NAMES}" == *" $1 "* ]]
}

# ik__unquote RAW: decode one shell word written by shlex.quote (or plain
# single quotes) into REPLY without evaluating it. Returns 1 if RAW uses any
# other syntax.
ik__unquote() {
  local raw="$1" out=""
  local re_sq="^'([^']*)'(.*)$"
  local re_dq_quote="^\"'\"(.*)$"
  local re_bs_quote="^\\\\'(.*)$"
  local re_plain='^([A-Za-z0-9@%+=:,./_-]+)(.*)$'
  while [[ -n "${raw}" ]]; do
    if [[ "${raw}" =~ ${re_sq} ]]; then
      out+="${BASH_REMATCH[1]}"
      raw="${BASH_REMATCH[2]}"
    elif [[ "${raw}" =~ ${re_dq_quote} ]]; then
      out+="'"
      raw="${BASH_REMATCH[1]}"
    elif [[ "${raw}" =~ ${re_bs_quote} ]]; then
      out+="'"
      raw="${BASH_REMATCH[1]}"
    elif [[ "${raw}" =~ ${re_plain} ]]; then
      out+="${BASH_REMATCH[1]}"
      raw="${BASH_REMATCH[2]}"
    else
      return 1
    fi
  done
  REPLY="${out}"
}

# ik_load_params FILE: export every KEY=value line (values shell-quoted as
# written by shlex.quote). Blank lines and '#' comments are skipped; anything
# else is an error. The file is parsed, never sourced.
ik_load_params() {
  local file="$1" line name raw n=0
  local -A seen=()
  [[ -f "${file}" ]] || ik_die "params file ${file} is missing"
  while IFS= read -r line || [[ -n "${line}" ]]; do
    n=$((n + 1))
    [[ -z "${line}" || "${line}" == '#'* ]] && continue
    [[ "${line}" =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] \
      || ik_die "${file} line ${n}: expected KEY='value'" 2
    name="${BASH_REMATCH[1]}"
    raw="${BASH_REMATCH[2]}"
    [[ "${name}" =~ ${IK__NAME_RE} ]] || ik_die "${file} line ${n}: parameter ${name} must be UPPER_CASE" 2
    ik__reserved_name "${name}" && ik_die "${file} line ${n}: parameter name ${name} is reserved" 2
    [[ -z "${seen[${name}]:-}" ]] || ik_die "${file} line ${n}: parameter ${name} is set twice" 2
    seen[${name}]=1
    REPLY=""
    ik__unquote "${raw}" || ik_die "${file} line ${n}: the value of ${name} is not a single-quoted shell word" 2
    printf -v "${name}" '%s' "${REPLY}"
    export "${name?}"
  done < "${file}"
}

# ik_read_secrets NAMES_FILE: read NAME=value lines from stdin; exactly the
# names listed in NAMES_FILE, each once, non-empty; anything else is an error.
# Values are exported and never printed.
ik_read_secrets() {
  local names_file="$1" line name value n=0
  local -A wanted=() got=()
  while IFS= read -r name || [[ -n "${name}" ]]; do
    [[ -z "${name}" ]] && continue
    [[ "${name}" =~ ${IK__NAME_RE} ]] || ik_die "secret name '${name}' in ${names_file} is not UPPER_CASE" 2
    ik__reserved_name "${name}" && ik_die "secret name ${name} is reserved" 2
    wanted[${name}]=1
  done < "${names_file}"
  while IFS= read -r line || [[ -n "${line}" ]]; do
    n=$((n + 1))
    if [[ ! "${line}" =~ ^([A-Z][A-Z0-9_]{0,63})=(.*)$ ]]; then
      ik_die "stdin line ${n} is not NAME=value (contents not shown)" 4
    fi
    name="${BASH_REMATCH[1]}"
    value="${BASH_REMATCH[2]}"
    [[ -n "${wanted[${name}]:-}" ]] || ik_die "stdin line ${n}: unexpected secret ${name} (this step takes: ${!wanted[*]})" 4
    [[ -z "${got[${name}]:-}" ]] || ik_die "stdin line ${n}: secret ${name} given twice" 4
    [[ -n "${value}" ]] || ik_die "stdin line ${n}: secret ${name} is empty" 4
    got[${name}]=1
    printf -v "${name}" '%s' "${value}"
    export "${name?}"
  done
  for name in "${!wanted[@]}"; do
    [[ -n "${got[${name}]:-}" ]] || ik_die "secret ${name} was not given on stdin" 4
  done
}

# --------------------------------------------------------------- files -------

# ik__mode_norm MODE: set IK__MODE to MODE as `stat -c %a` prints it (0644 -> 644).
ik__mode_norm() {
  local mode="${1#0}"
  [[ ${#mode} -eq 4 && "${mode}" == 0* ]] && mode="${mode#0}"
  IK__MODE="${mode}"
}

ik__normalize_mode() {
  ik__mode_norm "$1"
  printf '%s\n' "${IK__MODE}"
}

# Owners already checked in this run (a step installs several files as root:root).
declare -gA IK__OWNER_OK=()

ik__check_owner() {
  local owner="$1"
  [[ -n "${IK__OWNER_OK[${owner}]:-}" ]] && return 0
  [[ "${owner}" =~ ${IK__OWNER_RE} ]] || ik_die "owner '${owner}' is not user:group"
  id -u "${owner%%:*}" >/dev/null 2>&1 || ik_die "owner ${owner}: no such user"
  getent group "${owner#*:}" >/dev/null 2>&1 || ik_die "owner ${owner}: no such group"
  IK__OWNER_OK[${owner}]=1
}

# Record DEST's current state once per run, for ik_rollback_files.
ik__backup() {
  local dest="$1" i saved
  (( IK_ROLLBACK )) || return 0
  for i in "${!IK__RB_DESTS[@]}"; do
    [[ "${IK__RB_DESTS[i]}" == "${dest}" ]] && return 0
  done
  if [[ -z "${IK__BACKUP_DIR}" ]]; then
    IK__BACKUP_DIR="$(mktemp -d "${TMPDIR:-/tmp}/infrakit-rollback.XXXXXXXX")" \
      || ik_die "cannot create a rollback dir"
  fi
  saved="-"
  if [[ -e "${dest}" || -L "${dest}" ]]; then
    saved="${IK__BACKUP_DIR}/${#IK__RB_DESTS[@]}"
    cp -a -- "${dest}" "${saved}" || ik_die "cannot back up ${dest}"
  fi
  IK__RB_DESTS+=("${dest}")
  IK__RB_SAVED+=("${saved}")
}

# ik_write_file SRC DEST MODE OWNER: make DEST have SRC's content, MODE and
# OWNER (user:group), atomically (temp file + rename in DEST's directory).
# Creates a missing parent directory (0755 root). Returns 0 and marks the step
# changed if it changed anything, 1 if DEST was already right. The previous
# DEST is kept for ik_rollback_files unless IK_ROLLBACK=0.
ik_write_file() {
  local src="$1" dest="$2" mode="$3" owner="$4"
  local dir want_mode tmp same_content=0 same_meta=0
  [[ -f "${src}" && -r "${src}" ]] || ik_die "ik_write_file: source ${src} is not a readable file"
  [[ "${dest}" == /* && "${dest}" != */ && "${dest}" != *[[:space:]]* ]] \
    || ik_die "ik_write_file: destination '${dest}' must be an absolute file path"
  [[ "${mode}" =~ ${IK__MODE_RE} ]] || ik_die "ik_write_file: mode '${mode}' is not octal like 0644"
  ik__check_owner "${owner}"
  ik__mode_norm "${mode}"
  want_mode="${IK__MODE}"
  dir="${dest%/*}"
  dir="${dir:-/}"
  if [[ ! -d "${dir}" ]]; then
    install -d -m 0755 -o root -g root -- "${dir}" || ik_die "cannot create ${dir}"
    ik_log "created directory ${dir}"
    ik_changed
  fi
  if [[ -f "${dest}" && ! -L "${dest}" ]]; then
    if cmp -s -- "${src}" "${dest}"; then
      same_content=1
    fi
    if [[ "$(stat -c '%a %U:%G' -- "${dest}")" == "${want_mode} ${owner}" ]]; then
      same_meta=1
    fi
  elif [[ -e "${dest}" && ! -L "${dest}" ]]; then
    ik_die "ik_write_file: ${dest} exists and is not a regular file"
  fi
  if (( same_content && same_meta )); then
    return 1
  fi
  ik__backup "${dest}"
  if (( same_content )); then
    chown -- "${owner}" "${dest}" || ik_die "cannot chown ${dest}"
    chmod -- "${mode}" "${dest}" || ik_die "cannot chmod ${dest}"
    ik_log "set ${dest} to ${mode} ${owner}"
  else
    tmp="$(mktemp "${dir}/.infrakit.XXXXXXXX")" || ik_die "cannot create a temp file in ${dir}"
    if ! { cat -- "${src}" > "${tmp}" && chown -- "${owner}" "${tmp}" && chmod -- "${mode}" "${tmp}" \
      && mv -fT -- "${tmp}" "${dest}"; }; then
      rm -f -- "${tmp}"
      ik_die "cannot write ${dest}"
    fi
    ik_log "wrote ${dest} (${mode} ${owner})"
  fi
  ik_changed
  return 0
}

# Restore every file ik_write_file changed in this run to its previous state
# (removing files that did not exist). Used when validation fails.
ik_rollback_files() {
  local i dest saved tmp
  for (( i = ${#IK__RB_DESTS[@]} - 1; i >= 0; i-- )); do
    dest="${IK__RB_DESTS[i]}"
    saved="${IK__RB_SAVED[i]}"
    if [[ "${saved}" == "-" ]]; then
      rm -f -- "${dest}" || ik_warn "rollback: cannot remove ${dest}"
      ik_warn "rolled back: removed ${dest}"
    else
      tmp="$(dirname -- "${dest}")/.infrakit.rollback.$$.${i}"
      if cp -a -- "${saved}" "${tmp}" && mv -fT -- "${tmp}" "${dest}"; then
        ik_warn "rolled back: restored ${dest}"
      else
        rm -f -- "${tmp}"
        ik_warn "rollback: cannot restore ${dest}"
      fi
    fi
  done
  IK__RB_DESTS=()
  IK__RB_SAVED=()
}

ik__require_step_dir() {
  [[ -n "${IK_STEP_DIR:-}" && -d "${IK_STEP_DIR}" ]] \
    || ik_die "IK_STEP_DIR is not set or missing: run this script through shared/lib/run_step.sh"
}

ik__step_dir() {
  ik__require_step_dir
  printf '%s\n' "${IK_STEP_DIR}"
}

# ik__file_path NAME: set IK__PATH to the path of rendered file NAME (no subshell).
ik__file_path() {
  local name="$1"
  [[ "${name}" =~ ${IK__FILE_NAME_RE} ]] || ik_die "bad rendered file name '${name}'"
  ik__require_step_dir
  [[ -f "${IK_STEP_DIR}/files/${name}" ]] \
    || ik_die "rendered file ${name} is missing from the bundle (${IK_STEP_DIR}/files/)"
  IK__PATH="${IK_STEP_DIR}/files/${name}"
}

# ik_file NAME: the path of rendered file NAME of this step.
ik_file() {
  ik__file_path "$1"
  printf '%s\n' "${IK__PATH}"
}

# ik_file_entry NAME: set IK_FILE_MODE, IK_FILE_OWNER, IK_FILE_DEST from files.tsv.
ik_file_entry() {
  local want="$1" dir name mode owner dest extra
  ik__require_step_dir
  dir="${IK_STEP_DIR}"
  [[ -f "${dir}/files.tsv" ]] || ik_die "files.tsv is missing in ${dir}"
  while IFS=$'\t' read -r name mode owner dest extra || [[ -n "${name}" ]]; do
    [[ "${name}" == "${want}" ]] || continue
    [[ -z "${extra}" && "${mode}" =~ ${IK__MODE_RE} && "${owner}" =~ ${IK__OWNER_RE} \
      && "${dest}" == /* && "${dest}" != *[[:space:]]* ]] \
      || ik_die "files.tsv: malformed entry for ${name}"
    IK_FILE_MODE="${mode}"
    IK_FILE_OWNER="${owner}"
    IK_FILE_DEST="${dest}"
    return 0
  done < "${dir}/files.tsv"
  ik_die "files.tsv has no entry for rendered file ${want}"
}

# ik_file_dest NAME: print the destination of rendered file NAME.
ik_file_dest() {
  ik_file_entry "$1"
  printf '%s\n' "${IK_FILE_DEST}"
}

# ik_file_names: print the names in files.tsv, one per line.
ik_file_names() {
  local name
  ik__file_names
  for name in "${IK__NAMES[@]}"; do
    printf '%s\n' "${name}"
  done
}

# ik__file_names: set the array IK__NAMES to the names in files.tsv (no subshell).
ik__file_names() {
  local name rest
  IK__NAMES=()
  ik__require_step_dir
  [[ -f "${IK_STEP_DIR}/files.tsv" ]] || return 0
  while IFS=$'\t' read -r name rest || [[ -n "${name}" ]]; do
    [[ -n "${name}" ]] && IK__NAMES+=("${name}")
  done < "${IK_STEP_DIR}/files.tsv"
  return 0
}

# ik_install_file NAME: install rendered file NAME per files.tsv (predicate).
ik_install_file() {
  local name="$1"
  ik__file_path "${name}"
  ik_file_entry "${name}"
  ik_write_file "${IK__PATH}" "${IK_FILE_DEST}" "${IK_FILE_MODE}" "${IK_FILE_OWNER}"
}

# ik_install_all_files: install every rendered file (predicate: 0 if any changed).
ik_install_all_files() {
  local name any=1
  local -a names
  ik__file_names
  names=("${IK__NAMES[@]}")
  for name in "${names[@]}"; do
    if ik_install_file "${name}"; then
      any=0
    fi
  done
  return "${any}"
}

# ik_ensure_dir PATH MODE OWNER: a directory with that mode and owner.
ik_ensure_dir() {
  local path="$1" mode="$2" owner="$3"
  [[ "${mode}" =~ ${IK__MODE_RE} ]] || ik_die "ik_ensure_dir: bad mode '${mode}'"
  ik__check_owner "${owner}"
  ik__mode_norm "${mode}"
  if [[ -L "${path}" ]]; then
    ik_die "${path} is a symlink; refusing to manage it"
  elif [[ ! -e "${path}" ]]; then
    install -d -m "${mode}" -o "${owner%%:*}" -g "${owner#*:}" -- "${path}"
    ik_log "created ${path} (${mode} ${owner})"
    ik_changed
  elif [[ ! -d "${path}" ]]; then
    ik_die "${path} exists and is not a directory"
  elif [[ "$(stat -c '%a %U:%G' -- "${path}")" != "${IK__MODE} ${owner}" ]]; then
    chown -- "${owner}" "${path}"
    chmod -- "${mode}" "${path}"
    ik_log "set ${path} to ${mode} ${owner}"
    ik_changed
  fi
}

# ------------------------------------------------------------------ apt ------

ik_pkg_installed() {
  local status
  status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" || return 1
  [[ "${status}" == ?i* ]]
}

# ik__missing_pkgs PKG...: set the array IK__NAMES to the PKGs that dpkg does not list as
# installed, with one dpkg-query for all of them.
ik__missing_pkgs() {
  local name status
  local -A installed=()
  IK__NAMES=()
  (( $# )) || return 0
  while IFS=' ' read -r name status; do
    [[ "${status}" == ?i* ]] && installed[${name}]=1
  done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "$@" 2>/dev/null || true)
  for name in "$@"; do
    [[ -n "${installed[${name}]:-}" ]] || IK__NAMES+=("${name}")
  done
  return 0
}

ik__apt_lists_fresh() {
  local stamp
  compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null || return 1
  for stamp in "${IK_STATE_DIR}/apt-update.stamp" /var/lib/apt/periodic/update-success-stamp; do
    [[ -f "${stamp}" && -n "$(find "${stamp}" -mmin -60 2>/dev/null)" ]] && return 0
  done
  return 1
}

ik__apt_update() {
  local timeout="$1" deadline
  deadline=$((SECONDS + timeout))
  until apt-get -q -o "DPkg::Lock::Timeout=${timeout}" -o Acquire::Retries=3 update >&2; do
    (( SECONDS < deadline )) || ik_die "apt-get update failed"
    ik_warn "apt-get update failed; retrying in 10 s"
    sleep 10
  done
  install -d -m 0755 -- "${IK_STATE_DIR}"
  touch -- "${IK_STATE_DIR}/apt-update.stamp"
}

ik__apt_get_install() {
  local timeout="$1"
  shift
  apt-get -y -q --no-install-recommends \
    -o "DPkg::Lock::Timeout=${timeout}" -o Dpkg::Use-Pty=0 \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    install -- "$@" >&2
}

# ik_apt_install PKG...: install the packages that are not installed yet.
ik_apt_install() {
  local timeout="${APT_LOCK_TIMEOUT:-600}" pkg updated=0
  local -a missing=()
  [[ "${timeout}" =~ ^[0-9]+$ ]] || ik_die "APT_LOCK_TIMEOUT='${timeout}' is not a number of seconds"
  for pkg in "$@"; do
    [[ "${pkg}" =~ ${IK__PKG_RE} ]] || ik_die "bad package name '${pkg}'"
  done
  ik__missing_pkgs "$@"
  missing=("${IK__NAMES[@]}")
  (( ${#missing[@]} )) || return 0
  ik_log "installing: ${missing[*]}"
  if ! ik__apt_lists_fresh; then
    ik__apt_update "${timeout}"
    updated=1
  fi
  if ! ik__apt_get_install "${timeout}" "${missing[@]}"; then
    (( updated )) && ik_die "apt-get install failed: ${missing[*]}"
    ik_warn "apt-get install failed with package lists less than 1 h old; updating and retrying once"
    ik__apt_update "${timeout}"
    ik__apt_get_install "${timeout}" "${missing[@]}" || ik_die "apt-get install failed: ${missing[*]}"
  fi
  ik__missing_pkgs "${missing[@]}"
  (( ${#IK__NAMES[@]} == 0 )) \
    || ik_die "package(s) ${IK__NAMES[*]} still not installed after apt-get install"
  ik_changed
}

# ------------------------------------------------------------- download ------

# ik_download_verify URL SHA256 DEST [MODE]: DEST has exactly that sha256.
# Downloads to a temp file next to DEST, verifies, then renames; a mismatch
# dies and leaves nothing behind. Predicate: 0 downloaded, 1 already there.
ik_download_verify() {
  local url="$1" want="${2,,}" dest="$3" mode="${4:-0644}" dir tmp got
  [[ "${url}" =~ ^https?://[^[:space:]]+$ ]] || ik_die "ik_download_verify: bad URL '${url}'"
  [[ "${want}" =~ ^[0-9a-f]{64}$ ]] || ik_die "ik_download_verify: '${2}' is not a sha256 hex digest"
  [[ "${dest}" == /* && "${dest}" != */ ]] || ik_die "ik_download_verify: bad destination '${dest}'"
  [[ "${mode}" =~ ${IK__MODE_RE} ]] || ik_die "ik_download_verify: bad mode '${mode}'"
  if [[ -f "${dest}" ]]; then
    got="$(sha256sum -- "${dest}")" || ik_die "cannot hash ${dest}"
    if [[ "${got%% *}" == "${want}" ]]; then
      return 1
    fi
  fi
  dir="$(dirname -- "${dest}")"
  [[ -d "${dir}" ]] || install -d -m 0755 -o root -g root -- "${dir}" || ik_die "cannot create ${dir}"
  ik_tmpfile tmp "${dir}"
  ik_log "downloading ${url}"
  if ! curl --fail --silent --show-error --location --proto '=https,http' \
    --retry 5 --retry-delay 3 --retry-connrefused --connect-timeout 20 \
    --max-time "${IK_DOWNLOAD_TIMEOUT:-1800}" --output "${tmp}" -- "${url}"; then
    rm -f -- "${tmp}"
    ik_die "download failed: ${url}"
  fi
  got="$(sha256sum -- "${tmp}")" || { rm -f -- "${tmp}"; ik_die "cannot hash the download"; }
  if [[ "${got%% *}" != "${want}" ]]; then
    rm -f -- "${tmp}"
    ik_die "sha256 mismatch for ${url}: expected ${want}, got ${got%% *}; nothing installed"
  fi
  if ! { chmod -- "${mode}" "${tmp}" && mv -fT -- "${tmp}" "${dest}"; }; then
    rm -f -- "${tmp}"
    ik_die "cannot install ${dest}"
  fi
  ik_log "installed ${dest} (sha256 ${want:0:12}...)"
  ik_changed
  return 0
}

# -------------------------------------------------------------- systemd ------

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
    (( SECONDS < deadline )) || return 1
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
      enabled | enabled-runtime | linked | linked-runtime | alias | masked | masked-runtime | static \
        | indirect | disabled | generated | transient) ;;
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
  if (( was_active && restart )); then
    systemctl restart "${unit}"
    ik_log "restarted ${unit} (its unit or sandbox changed)"
    ik_changed
  elif (( was_active && reload )); then
    systemctl reload "${unit}"
    ik_log "reloaded ${unit}"
    ik_changed
  fi
}
