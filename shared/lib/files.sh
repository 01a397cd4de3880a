#!/usr/bin/env bash
#
# files.sh: rendered files (files.tsv), atomic write-if-changed with rollback, directories.
# Part of the InfraKit shell library (shared/lib/, never run directly). It sources
# core.sh itself; a script sources only the modules whose functions it calls, so
# a step's hash covers exactly those (infrakit/plan/sources.py). API: shared/README.md.

# shellcheck source-path=SCRIPTDIR source=core.sh
source "${BASH_SOURCE[0]%/*}/core.sh"

[[ -n "${IK__FILES_LOADED:-}" ]] && return 0
IK__FILES_LOADED=1

readonly IK__FILE_NAME_RE='^[A-Za-z0-9_.-]+$'
readonly IK__OWNER_RE='^[a-z_][a-z0-9_-]*:[a-z_][a-z0-9_-]*$'
IK_ROLLBACK="${IK_ROLLBACK:-1}"
IK__BACKUP_DIR=""
IK__RB_DESTS=()
IK__RB_SAVED=()
# Results of the internal helpers that avoid a subshell (ik__mode_norm, ik__file_path, ...).
IK__MODE=""
IK__PATH=""
IK__NAMES=()
# Results that the scripts sourcing this module read.
# shellcheck disable=SC2034
{
  IK_FILE_MODE=""
  IK_FILE_OWNER=""
  IK_FILE_DEST=""
}

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
  ((IK_ROLLBACK)) || return 0
  for i in "${!IK__RB_DESTS[@]}"; do
    [[ "${IK__RB_DESTS[i]}" == "${dest}" ]] && return 0
  done
  if [[ -z "${IK__BACKUP_DIR}" ]]; then
    IK__BACKUP_DIR="$(mktemp -d "${TMPDIR:-/tmp}/infrakit-rollback.XXXXXXXX")" \
      || ik_die "cannot create a rollback dir"
    IK__CLEANUP+=("${IK__BACKUP_DIR}")
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
  if ((same_content && same_meta)); then
    return 1
  fi
  ik__backup "${dest}"
  if ((same_content)); then
    chown -- "${owner}" "${dest}" || ik_die "cannot chown ${dest}"
    chmod -- "${mode}" "${dest}" || ik_die "cannot chmod ${dest}"
    ik_log "set ${dest} to ${mode} ${owner}"
  else
    tmp="$(mktemp "${dir}/.infrakit.XXXXXXXX")" || ik_die "cannot create a temp file in ${dir}"
    if ! { cat -- "${src}" >"${tmp}" && chown -- "${owner}" "${tmp}" && chmod -- "${mode}" "${tmp}" \
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
  for ((i = ${#IK__RB_DESTS[@]} - 1; i >= 0; i--)); do
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
    [[ -z "${extra}" && "${mode}" =~ ${IK__MODE_RE} && "${owner}" =~ ${IK__OWNER_RE} &&
      "${dest}" == /* && "${dest}" != *[[:space:]]* ]] \
      || ik_die "files.tsv: malformed entry for ${name}"
    IK_FILE_MODE="${mode}"
    IK_FILE_OWNER="${owner}"
    IK_FILE_DEST="${dest}"
    return 0
  done <"${dir}/files.tsv"
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
  done <"${IK_STEP_DIR}/files.tsv"
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
