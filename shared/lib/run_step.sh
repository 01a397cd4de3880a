#!/usr/bin/env bash
#
# run_step.sh: run one step of the uploaded bundle, as root.
#
# Usage: run_step.sh STEP HASH [SSH_CLIENT_IP]
#   STEP           step name, a directory under <bundle>/steps/
#   HASH           the step hash the caller planned; must equal steps/STEP/hash
#   SSH_CLIENT_IP  the admin's address for lock-out checks (may be empty;
#                  falls back to $SSH_CLIENT when run directly over SSH)
#
# The bundle is the directory two levels above this file
# (/var/lib/infrakit/bundle). Secrets, if steps/STEP/secrets lists any, come on
# stdin as NAME=value lines: exactly the listed names, each once. Values are
# never printed or written by this runner.
#
# Exports to the step script: the params.env values, the secrets, IK_STEP,
# IK_STEP_DIR, IK_BUNDLE, IK_SSH_CLIENT. On success writes
# $IK_STATE_DIR/STEP.hash and $IK_STATE_DIR/last-apply atomically
# (IK_STATE_DIR defaults to /var/lib/infrakit/state).
#
# Exit codes: the script's own, or 2 bad arguments, 3 stale bundle / unknown
# step, 4 bad stdin (secrets), 1 other runner errors.

IK_STEP="run_step"
IK__SELF_DIR="${BASH_SOURCE[0]%/*}"
[[ "${BASH_SOURCE[0]}" == */* ]] || IK__SELF_DIR=.
# shellcheck source-path=SCRIPTDIR source=core.sh
source "${IK__SELF_DIR}/core.sh"
# shellcheck source-path=SCRIPTDIR source=params.sh
source "${IK_LIB}/params.sh"

readonly IK__STEP_RE='^[a-z][a-z0-9_]{1,40}$'
readonly IK__HASH_RE='^[0-9a-f]{32,128}$'
readonly IK__SCRIPT_RE='^(shared|adapters)/[a-z0-9_/]+\.sh$'
readonly IK__LOCK_TIMEOUT=900

# Write CONTENT to FILE atomically (temp file + rename), mode 0644 (umask 022). The state
# dir is root's alone (checked before), so a fixed temp name is safe.
write_state() {
  local file="$1" content="$2" tmp
  tmp="${file%/*}/.state.${BASHPID}.${file##*/}"
  if [[ -e "${tmp}" || -L "${tmp}" ]]; then
    rm -f -- "${tmp}"
  fi
  printf '%s\n' "${content}" > "${tmp}"
  mv -fT -- "${tmp}" "${file}"
}

main() {
  if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
    ik_help
    return 0
  fi
  (( $# >= 2 && $# <= 3 )) || ik_die "usage: run_step.sh STEP HASH [SSH_CLIENT_IP]" 2
  local step="$1" want_hash="$2" client="${3:-}"
  [[ "${step}" =~ ${IK__STEP_RE} ]] || ik_die "bad step name '${step}'" 2
  [[ "${want_hash}" =~ ${IK__HASH_RE} ]] || ik_die "bad step hash '${want_hash}' (expected lower-case hex)" 2
  if [[ -z "${client}" && -n "${SSH_CLIENT:-}" ]]; then
    client="${SSH_CLIENT%% *}"
  fi
  [[ -z "${client}" || "${client}" =~ ^[0-9A-Fa-f:.]{2,45}$ ]] \
    || ik_die "bad SSH client address '${client}' (expected an IPv4/IPv6 address)" 2
  IK_STEP="${step}"
  ik_require_root

  local bundle step_dir have_hash script stat_out now
  local -a owner_mode
  cd -- "${IK__SELF_DIR}/../.." || ik_die "cannot enter the bundle (${IK__SELF_DIR}/../..)"
  bundle="$(pwd -P)"
  # One stat for the bundle and the state dir: "uid mode" of each.
  stat_out="$(stat -c '%u %a' -- . "${IK_STATE_DIR}" 2>/dev/null || true)"
  read -r -a owner_mode <<< "${stat_out//$'\n'/ }"
  if [[ "${owner_mode[0]:-}" != 0 ]] || (( 8#${owner_mode[1]:-0} & 8#022 )); then
    ik_die "bundle ${bundle} must be owned by root and not group/world-writable"
  fi
  step_dir="${bundle}/steps/${step}"
  have_hash=""
  if [[ -f "${step_dir}/hash" ]]; then
    read -r have_hash < "${step_dir}/hash" || true
  fi
  if [[ "${have_hash}" != "${want_hash}" ]]; then
    ik_die "bundle is stale or step unknown: ${step} has hash '${have_hash:-none}' in ${bundle}, caller expected ${want_hash}" 3
  fi
  read -r script < "${step_dir}/script" || ik_die "${step_dir}/script is empty" 3
  [[ "${script}" =~ ${IK__SCRIPT_RE} && "${script}" != *..* && -f "${bundle}/${script}" ]] \
    || ik_die "step ${step}: script '${script}' is not a bundled shared/ or adapters/ script" 3

  ik_load_params "${step_dir}/params.env"
  if [[ -s "${step_dir}/secrets" ]] && grep -q '[^[:space:]]' "${step_dir}/secrets"; then
    ik_read_secrets "${step_dir}/secrets"
  fi

  if [[ "${owner_mode[2]:-} ${owner_mode[3]:-}" != "0 755" || -L "${IK_STATE_DIR}" ]]; then
    install -d -m 0755 -o root -g root -- "${IK_STATE_DIR}"
  fi
  exec 9> "${IK_STATE_DIR}/.run.lock"
  flock -w "${IK__LOCK_TIMEOUT}" 9 || ik_die "another step is still running (lock ${IK_STATE_DIR}/.run.lock)"

  export IK_STEP="${step}" IK_STEP_DIR="${step_dir}" IK_BUNDLE="${bundle}" IK_SSH_CLIENT="${client}"
  export IK_STATE_DIR PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  umask 022

  local start=${SECONDS} rc=0
  ik_log "running ${script} (hash ${want_hash:0:12})"
  bash -- "${bundle}/${script}" < /dev/null 9>&- || rc=$?
  if (( rc != 0 )); then
    ik_log "${script} failed with exit ${rc} after $((SECONDS - start)) s; state not recorded"
    exit "${rc}"
  fi
  write_state "${IK_STATE_DIR}/${step}.hash" "${want_hash}"
  TZ=UTC printf -v now '%(%Y-%m-%dT%H:%M:%SZ)T' -1
  write_state "${IK_STATE_DIR}/last-apply" "${now} step=${step} hash=${want_hash}"
  ik_log "done in $((SECONDS - start)) s"
}

main "$@"
