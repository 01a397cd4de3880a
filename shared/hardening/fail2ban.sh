#!/usr/bin/env bash
#
# fail2ban.sh: the sshd jail (systemd backend, nftables bans), tested before it is loaded.
#
# Inputs (environment):
#   F2B_WAIT      seconds to wait for the sshd jail to come up (default: 30)
# Rendered files (files.tsv):
#   jail.local -> /etc/fail2ban/jail.d/infrakit.local
#
# Installs the jail file, tests the whole configuration with
# `fail2ban-client -t` (rolls back and dies if it fails; only when the file
# changed, the package was installed or fail2ban is not running), enables and
# starts fail2ban, reloads it only when the file changed, then checks that the
# sshd jail is active. Installs fail2ban and python3-systemd itself, after the jail
# file is in place (the package starts the daemon at once).
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/files.sh
source "${IK_LIB}/files.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/apt.sh
source "${IK_LIB}/apt.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/systemd.sh
source "${IK_LIB}/systemd.sh"

readonly UNIT=fail2ban.service

sshd_jail_up() {
  fail2ban-client status sshd >/dev/null 2>&1
}

wait_for_jail() {
  local wait="$1" deadline
  deadline=$((SECONDS + wait))
  until sshd_jail_up; do
    (( SECONDS < deadline )) || return 1
    sleep 0.25
  done
}

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  : "${F2B_WAIT:=30}"
  ik_require_match F2B_WAIT '^[0-9]{1,4}$' "a number of seconds"
  local changed_file=0 was_active=0
  if ik_unit_active "${UNIT}"; then
    was_active=1
  fi
  # Our jail goes in place BEFORE the package: the package starts fail2ban at once, and
  # Debian's default sshd jail would otherwise judge the journal (e.g. a fresh server's
  # early login attempts) by its own rules and could ban the admin mid-apply.
  if ik_install_file jail.local; then
    changed_file=1
  fi
  ik_apt_install fail2ban python3-systemd || true
  # Test the configuration before the daemon loads it: when the jail file changed, the
  # package was installed or the daemon is not running. A run with nothing to do skips
  # the test (fail2ban-client is python: ~0.1 s); the jail check below still runs.
  if (( IK_CHANGED || ! was_active )) && ! fail2ban-client -t >&2; then
    ik_rollback_files
    ik_die "fail2ban-client -t rejects the configuration; rolled back"
  fi
  ik_ensure_unit "${UNIT}" enable now
  if (( changed_file && was_active )); then
    fail2ban-client reload >&2
    ik_log "fail2ban reloaded"
  fi

  if ! wait_for_jail "${F2B_WAIT}"; then
    ik_warn "the sshd jail is not active; restarting fail2ban once"
    systemctl restart "${UNIT}"
    ik_changed
    wait_for_jail "${F2B_WAIT}" || {
      journalctl --no-pager -n 20 -u "${UNIT}" >&2 || true
      ik_die "the fail2ban sshd jail is not active (fail2ban-client status sshd)"
    }
  fi
  ik_done
}

main "$@"
