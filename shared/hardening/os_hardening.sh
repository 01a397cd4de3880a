#!/usr/bin/env bash
#
# os_hardening.sh: operating-system settings in the spirit of dev-sec's os_hardening.
#
# Inputs (environment):
#   UMASK          default file creation mask for login sessions (login.defs; e.g. 027)
#   PASS_MAX_DAYS  password aging, login.defs (passwords are locked; for any that is set)
#   PASS_MIN_DAYS  minimum days between password changes (login.defs)
#   SHA_ROUNDS     SHA_CRYPT_MIN_ROUNDS/MAX_ROUNDS for password hashes (login.defs)
# Rendered files (files.tsv):
#   modprobe-hardening.conf -> /etc/modprobe.d/infrakit-hardening.conf (modules
#                              never loaded on demand: USB/FireWire storage,
#                              dccp/sctp/rds/tipc, rare file systems)
#   limits-hardening.conf   -> /etc/security/limits.d/infrakit-hardening.conf (no core dumps)
#   issue, issue.net        -> /etc/issue, /etc/issue.net (a legal banner; no OS version)
#
# Installs the files, then sets each login.defs key to its value (an active line
# is replaced in place, a missing key appended; comments and every other line
# are kept; HOME_MODE 0750 for new users), then tightens the modes of files
# only root reads (sudoers.d 0750, sshd_config 0600, cron directories 0700,
# when present) and takes "other" access off the home directories in /home.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/files.sh
source "${IK_LIB}/files.sh"

readonly LOGIN_DEFS=/etc/login.defs

# login_defs KEY=VALUE...: LOGIN_DEFS with each KEY set to VALUE.
login_defs() {
  local tmp
  ik_tmpfile tmp
  awk -v settings="$*" '
    BEGIN {
      n = split(settings, pairs, " ")
      for (i = 1; i <= n; i++) { split(pairs[i], kv, "="); want[kv[1]] = kv[2] }
    }
    ($1 in want) {
      if (!($1 in done)) print $1 "\t\t" want[$1]
      done[$1] = 1
      next
    }
    { print }
    END { for (k in want) if (!(k in done)) print k "\t\t" want[k] }
  ' "${LOGIN_DEFS}" >"${tmp}"
  if ik_write_file "${tmp}" "${LOGIN_DEFS}" 0644 root:root; then
    ik_log "login.defs: $*"
  fi
}

readonly -a MODES=(
  "/etc/sudoers.d 0750"
  "/etc/ssh/sshd_config 0600"
  "/etc/crontab 0600"
  "/etc/cron.d 0700"
  "/etc/cron.hourly 0700"
  "/etc/cron.daily 0700"
  "/etc/cron.weekly 0700"
  "/etc/cron.monthly 0700"
)

# ensure_mode PATH MODE: chmod PATH (if it exists) when its mode differs.
ensure_mode() {
  local path="$1" mode="$2" have
  [[ -e "${path}" && ! -L "${path}" ]] || return 0
  have="$(stat -c '%04a' -- "${path}")"
  if [[ "${have}" != "${mode}" ]]; then
    chmod -- "${mode}" "${path}"
    ik_log "mode of ${path}: ${have} -> ${mode}"
    ik_changed
  fi
}

# private_homes: no access for "other" to the directories in /home (Lynis HOME-9304).
private_homes() {
  local dir have
  for dir in /home/*/; do
    dir="${dir%/}"
    [[ -d "${dir}" && ! -L "${dir}" ]] || continue
    have="$(stat -c '%a' -- "${dir}")"
    if ((8#${have} & 8#007)); then
      chmod o-rwx -- "${dir}"
      ik_log "home ${dir}: no access for others (was ${have})"
      ik_changed
    fi
  done
}

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  ik_require_env UMASK PASS_MAX_DAYS PASS_MIN_DAYS SHA_ROUNDS
  ik_require_match UMASK '^0[0-7]{2}$' "an octal umask such as 027"
  ik_require_match PASS_MAX_DAYS '^[0-9]{1,5}$' "a number of days"
  ik_require_match PASS_MIN_DAYS '^[0-9]{1,5}$' "a number of days"
  ik_require_match SHA_ROUNDS '^[0-9]{4,7}$' "a number of rounds"
  ik_install_all_files || true
  login_defs "UMASK=${UMASK}" "PASS_MAX_DAYS=${PASS_MAX_DAYS}" "PASS_MIN_DAYS=${PASS_MIN_DAYS}" \
    "SHA_CRYPT_MIN_ROUNDS=${SHA_ROUNDS}" "SHA_CRYPT_MAX_ROUNDS=${SHA_ROUNDS}" "HOME_MODE=0750"
  local entry
  for entry in "${MODES[@]}"; do
    ensure_mode "${entry% *}" "${entry#* }"
  done
  private_homes
  ik_done
}

main "$@"
