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
# are kept).
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
    "SHA_CRYPT_MIN_ROUNDS=${SHA_ROUNDS}" "SHA_CRYPT_MAX_ROUNDS=${SHA_ROUNDS}"
  ik_done
}

main "$@"
