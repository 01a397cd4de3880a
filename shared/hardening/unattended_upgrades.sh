#!/usr/bin/env bash
#
# unattended_upgrades.sh: unattended security upgrades, as the stack says.
#
# Inputs (environment): none.
# Rendered files (files.tsv):
#   20auto-upgrades                -> /etc/apt/apt.conf.d/20auto-upgrades
#   52infrakit-unattended-upgrades -> /etc/apt/apt.conf.d/52infrakit-unattended-upgrades
#
# Installs both files, then checks with `apt-config dump` that APT parses them
# and that APT::Periodic::Unattended-Upgrade has the value in 20auto-upgrades
# (no later file overrides it); rolls back and dies otherwise. Makes sure the
# apt-daily and apt-daily-upgrade timers are enabled and running (a masked
# timer is unmasked, with a warning, when upgrades are enabled: otherwise no
# update would ever run; with upgrades disabled a masked timer is left alone).
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/files.sh
source "${IK_LIB}/files.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/apt.sh
source "${IK_LIB}/apt.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/systemd.sh
source "${IK_LIB}/systemd.sh"

readonly KEY='APT::Periodic::Unattended-Upgrade'

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  ik_pkg_installed unattended-upgrades || ik_die "unattended-upgrades is not installed (the base_packages step installs it)"
  local want have dump
  want="$(sed -nE "s/^[[:space:]]*${KEY}[[:space:]]+\"([0-9]+)\";.*/\1/p" "$(ik_file 20auto-upgrades)" | tail -n 1)"
  [[ -n "${want}" ]] || ik_die "the rendered 20auto-upgrades does not set ${KEY}"

  ik_install_all_files || true
  if ! dump="$(apt-config dump 2>&1)"; then
    printf '%s\n' "${dump}" | tail -n 5 >&2
    ik_rollback_files
    ik_die "apt-config cannot parse the APT configuration; rolled back"
  fi
  have="$(sed -nE "s/^${KEY} \"(.*)\";$/\1/p" <<< "${dump}" | tail -n 1)"
  if [[ "${have}" != "${want}" ]]; then
    ik_rollback_files
    ik_die "${KEY} is '${have}' after installing, not '${want}': another file in /etc/apt/apt.conf.d overrides it; rolled back"
  fi
  local timer
  for timer in apt-daily.timer apt-daily-upgrade.timer; do
    if [[ "$(systemctl is-enabled "${timer}" 2>/dev/null || true)" == masked ]]; then
      if [[ "${want}" == 0 ]]; then
        ik_log "${timer} is masked; left alone because unattended upgrades are disabled"
        continue
      fi
      systemctl unmask --quiet "${timer}"
      ik_warn "${timer} was masked, so no security update would ever run; unmasked it"
      ik_changed
    fi
    ik_ensure_unit "${timer}" enable now
  done
  ik_done
}

main "$@"
