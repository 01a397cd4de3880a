#!/usr/bin/env bash
#
# base_packages.sh: wait for cloud-init, check the OS, install base packages.
#
# Inputs (environment):
#   PACKAGES            space-separated Debian package names (required)
#   APT_LOCK_TIMEOUT    seconds to wait for the dpkg/apt locks (default: 600)
#   CLOUD_INIT_TIMEOUT  seconds to wait for cloud-init to finish (default: 900)
# Rendered files: none.
#
# Installs only the packages that are missing (apt-get update only when
# something must be installed and the lists are older than 1 h). Supported:
# Debian 12, Ubuntu 22.04/24.04.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/apt.sh
source "${IK_LIB}/apt.sh"

wait_for_cloud_init() {
  local timeout="$1" rc=0
  command -v cloud-init >/dev/null 2>&1 || return 0
  ik_log "waiting for cloud-init to finish (up to ${timeout} s)"
  timeout "${timeout}" cloud-init status --wait >/dev/null 2>&1 || rc=$?
  case "${rc}" in
    0) ;;
    2) ik_warn "cloud-init finished with recoverable errors (see cloud-init status --long)" ;;
    124) ik_die "cloud-init did not finish within ${timeout} s (see cloud-init status --long)" ;;
    *) ik_warn "cloud-init reported an error (exit ${rc}); continuing (see cloud-init status --long)" ;;
  esac
}

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  ik_require_env PACKAGES
  : "${APT_LOCK_TIMEOUT:=600}" "${CLOUD_INIT_TIMEOUT:=900}"
  ik_require_match APT_LOCK_TIMEOUT '^[0-9]{1,5}$' "a number of seconds"
  ik_require_match CLOUD_INIT_TIMEOUT '^[0-9]{1,5}$' "a number of seconds"
  local -a pkgs
  read -r -a pkgs <<< "${PACKAGES}"
  (( ${#pkgs[@]} > 0 )) || ik_die "PACKAGES lists no package"

  wait_for_cloud_init "${CLOUD_INIT_TIMEOUT}"
  ik_apt_install "${pkgs[@]}"
  ik_done
}

main "$@"
