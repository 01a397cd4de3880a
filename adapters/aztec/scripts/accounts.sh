#!/usr/bin/env bash
#
# accounts.sh: the accounts an Aztec host needs, and the C library the Aztec binaries need.
#
# Inputs (environment):
#   INSTALL_USER  system account that runs `npm ci` and the node (required, e.g. aztec):
#                 created with its own group, no home, no login shell
#   DEV_USER      the developer's account (role dev; empty = none): created as a normal
#                 login account (home, bash, no password) if absent, and put in INSTALL_USER's
#                 group so that it can run the system-wide toolchain; never removed
#   OS_OVERRIDE   none (default): refuse a host whose glibc is older than 2.39 (Aztec 4.x's
#                 prover binary `bb` needs it: Ubuntu 24.04+); debian-12-lab: only warn
#                 (the lab's Debian 12 host, where the CLI runs but bb cannot)
# Checks first, then changes: a refused host is left as it was.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../../../shared/lib/core.sh"

readonly MIN_GLIBC=2.39

check_glibc() {
  local found
  found="$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')" || found=""
  [[ -n "${found}" ]] || ik_die "cannot read the C library version (getconf GNU_LIBC_VERSION)"
  if dpkg --compare-versions "${found}" lt "${MIN_GLIBC}"; then
    if [[ "${OS_OVERRIDE}" == debian-12-lab ]]; then
      ik_warn "glibc ${found} < ${MIN_GLIBC}: Aztec's prover binary (bb) cannot run here (lab override)"
    else
      ik_die "glibc ${found} is older than ${MIN_GLIBC}, which Aztec's prover binary (bb, in @aztec/bb.js) needs: \
use Ubuntu 24.04 or newer. Nothing was changed."
    fi
  fi
  printf 'infrakit: aztec_glibc=%s\n' "${found}"
}

ensure_system_user() {
  local user="$1"
  if ! id -u "${user}" >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      --comment "InfraKit Aztec toolchain and node" -- "${user}"
    ik_log "created system user ${user}"
    ik_changed
  fi
}

ensure_dev_user() {
  local user="$1" group="$2"
  if ! id -u "${user}" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/bash --comment "Aztec developer (InfraKit)" -- "${user}"
    ik_log "created developer account ${user} (no password: reach it with sudo -iu ${user})"
    ik_changed
  fi
  if ! id -nG -- "${user}" | tr ' ' '\n' | grep -qx -- "${group}"; then
    usermod -a -G "${group}" -- "${user}"
    ik_log "added ${user} to group ${group} (runs the pinned toolchain)"
    ik_changed
  fi
}

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  : "${DEV_USER:=}" "${OS_OVERRIDE:=none}"
  ik_require_env INSTALL_USER
  ik_require_match INSTALL_USER '^[a-z_][a-z0-9_-]{0,31}$' "a system user name"
  ik_require_match DEV_USER '^([a-z_][a-z0-9_-]{0,31})?$' "a user name or empty"
  ik_require_match OS_OVERRIDE '^(none|debian-12-lab)$' "none or debian-12-lab"
  [[ "${DEV_USER}" != root && "${DEV_USER}" != "${INSTALL_USER}" ]] || ik_die "DEV_USER must be a person's own account"
  check_glibc
  ensure_system_user "${INSTALL_USER}"
  if [[ -n "${DEV_USER}" ]]; then
    ensure_dev_user "${DEV_USER}" "$(id -gn -- "${INSTALL_USER}")"
  fi
  ik_done
}

main "$@"
