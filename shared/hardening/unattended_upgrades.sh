#!/usr/bin/env bash
#
# unattended_upgrades.sh: unattended security upgrades, as the stack says.
#
# Inputs (environment):
#   APT_LOCK_TIMEOUT  seconds to wait for the dpkg lock (default 600)
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
# First converge (no ${IK_STATE_DIR}/security-updates.first yet) with upgrades
# enabled: applies the pending security updates now (unattended-upgrade, with
# Automatic-Reboot forced off for this run: never a surprise reboot; a needed
# reboot is reported), then the daily timer keeps doing it. An interrupted dpkg is
# repaired first.
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
readonly FIRST_MARK="${IK_STATE_DIR}/security-updates.first"

# first_security_updates: run unattended-upgrade once, now, with reboots off.
first_security_updates() {
  local timeout="${APT_LOCK_TIMEOUT:-600}" conf deadline
  [[ "${timeout}" =~ ^[0-9]+$ ]] || ik_die "APT_LOCK_TIMEOUT='${timeout}' is not a number of seconds"
  if ik__dpkg_interrupted; then
    ik__dpkg_repair "${timeout}"
    ik_changed
  fi
  ik__apt_lists_fresh || ik__apt_update "${timeout}"
  ik_tmpfile conf
  # APT reads $APT_CONFIG after apt.conf.d: this run never reboots, whatever the stack says.
  printf 'Unattended-Upgrade::Automatic-Reboot "false";\n' >"${conf}"
  ik_log "first converge: applying pending security updates now (unattended-upgrade)"
  deadline=$((SECONDS + timeout))
  until APT_CONFIG="${conf}" unattended-upgrade >&2; do
    ((SECONDS < deadline)) || ik_die "unattended-upgrade failed (see /var/log/unattended-upgrades/)"
    ik_warn "unattended-upgrade failed (the dpkg lock may be held); retrying in 10 s"
    sleep 10
  done
  install -d -m 0755 -- "${IK_STATE_DIR}"
  date -u +%Y-%m-%dT%H:%M:%SZ >"${FIRST_MARK}"
  ik_changed
  if [[ -e /run/reboot-required ]]; then
    ik_warn "security updates need a reboot to take full effect ($(tr '\n' ' ' </run/reboot-required.pkgs 2>/dev/null || true)); InfraKit never reboots: reboot on your schedule"
  fi
}

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
  if [[ "${want}" != 0 && ! -e "${FIRST_MARK}" ]]; then
    first_security_updates
  fi
  ik_done
}

main "$@"
