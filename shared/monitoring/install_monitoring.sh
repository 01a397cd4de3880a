#!/usr/bin/env bash
#
# install_monitoring.sh: the monitoring user, tools and config (status server, checks, probe).
#
# Inputs (environment):
#   MON_USER   the unprivileged system user the status server and probe run as
#              (default: infrakit-mon; created without home or login shell)
#   PACKAGES   packages the tools need (default: "curl dbus jq openssl python3")
# Rendered files (files.tsv):
#   status_server.py, check_rpc.sh, uptime_probe.sh and the library modules
#   the two scripts source (core.sh)
#              -> /usr/local/lib/infrakit/{lib,monitoring}/ (root-owned)
#   monitoring.json -> /etc/infrakit/monitoring.json (status server + probe settings)
#   checks.json     -> /etc/infrakit/checks.json (the plan's health checks)
#
# Installs the packages, creates the user, installs the files, then has the
# status server parse its config as MON_USER (`status_server.py validate`);
# if that fails every file is rolled back. The systemd units come in the next
# step (install_systemd.sh), which restarts the server when this step's files
# change.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/files.sh
source "${IK_LIB}/files.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/apt.sh
source "${IK_LIB}/apt.sh"

ensure_user() {
  local user="$1"
  if ! getent group "${user}" >/dev/null; then
    groupadd --system "${user}"
    ik_log "created group ${user}"
    ik_changed
  fi
  if ! id -u "${user}" >/dev/null 2>&1; then
    useradd --system --gid "${user}" --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin --comment "InfraKit monitoring" "${user}"
    ik_log "created system user ${user}"
    ik_changed
  fi
}

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  : "${MON_USER:=infrakit-mon}" "${PACKAGES:=curl dbus jq openssl python3}"
  ik_require_match MON_USER '^[a-z_][a-z0-9_-]{0,30}$' "a system user name"
  local -a packages
  read -r -a packages <<< "${PACKAGES}"
  ik_apt_install "${packages[@]}"
  ensure_user "${MON_USER}"

  local config
  if ik_install_all_files; then
    config="$(ik_file_dest monitoring.json)"
    if ! runuser -u "${MON_USER}" -- python3 -I "$(ik_file_dest status_server.py)" validate \
      --config "${config}" >&2; then
      ik_rollback_files
      ik_die "the status server rejects ${config}; rolled back"
    fi
  fi
  ik_done
}

main "$@"
