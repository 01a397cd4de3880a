#!/usr/bin/env bash
#
# create_user.sh: the admin user, key-only, with exactly the planned keys and sudo.
#
# Inputs (environment):
#   ADMIN_USER        login name of the admin user (required; not root)
# Rendered files (files.tsv gives dest, mode, owner):
#   authorized_keys   the exact admin keys -> /home/<user>/.ssh/authorized_keys
#   sudoers           sudo drop-in -> /etc/sudoers.d/90-infrakit-<user>
#
# Creates the user if missing (home, /bin/bash, own group), locks its password
# (no password login), installs authorized_keys exactly (.ssh 0700 owned by the
# user) and the sudoers drop-in, which is checked with `visudo -cf` before it is
# put in place and with `visudo -c` after (rolled back if that fails).
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/files.sh
source "${IK_LIB}/files.sh"

readonly USER_RE='^[a-z_][a-z0-9_-]{0,30}$'

ensure_user() {
  local user="$1" shell
  if ! id -u "${user}" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/bash --user-group -- "${user}"
    ik_log "created user ${user}"
    ik_changed
  fi
  shell="$(getent passwd "${user}" | cut -d: -f7)"
  case "${shell}" in
    "" | */nologin | */false)
      usermod --shell /bin/bash -- "${user}"
      ik_log "set the login shell of ${user} to /bin/bash (was '${shell}')"
      ik_changed
      ;;
  esac
}

lock_password() {
  local user="$1" status
  status="$(passwd -S -- "${user}" | awk '{print $2}')"
  if [[ "${status}" != "L" ]]; then
    usermod --lock -- "${user}" >&2
    ik_log "locked the password of ${user} (key-only login)"
    ik_changed
  fi
}

install_keys() {
  local user="$1" home keys dest
  home="$(getent passwd "${user}" | cut -d: -f6)"
  keys="$(ik_file authorized_keys)"
  dest="$(ik_file_dest authorized_keys)"
  [[ "${dest}" == "${home}/.ssh/authorized_keys" ]] \
    || ik_die "authorized_keys goes to ${dest}, but the home of ${user} is ${home}"
  grep -Eq '^(ssh-|ecdsa-|sk-)' "${keys}" \
    || ik_die "the rendered authorized_keys holds no key; refusing to lock ${user} out"
  [[ -d "${home}" && ! -L "${home}" ]] || ik_die "home directory ${home} of ${user} is missing"
  ik_ensure_dir "${home}/.ssh" 0700 "${user}:$(id -gn "${user}")"
  if ik_install_file authorized_keys; then
    ik_log "authorized_keys of ${user} now holds exactly the planned keys"
  fi
}

install_sudoers() {
  local user="$1" src
  src="$(ik_file sudoers)"
  visudo -cqf "${src}" >&2 || ik_die "the rendered sudoers drop-in does not pass visudo -cf; nothing installed"
  grep -Eq '^[[:space:]]*[@#]includedir[[:space:]]+/etc/sudoers.d' /etc/sudoers \
    || ik_die "/etc/sudoers does not include /etc/sudoers.d; the drop-in would be ignored"
  if ik_install_file sudoers; then
    if ! visudo -cq >&2; then
      ik_rollback_files
      ik_die "sudo configuration invalid after installing the drop-in; rolled back"
    fi
  fi
  sudo -n -l -U "${user}" 2>/dev/null | grep -q 'NOPASSWD' \
    || ik_die "sudo does not grant ${user} password-less commands; check /etc/sudoers.d"
}

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  ik_require_env ADMIN_USER
  ik_require_match ADMIN_USER "${USER_RE}" "a lower-case Unix user name"
  [[ "${ADMIN_USER}" != "root" ]] || ik_die "ADMIN_USER must not be root"
  command -v visudo >/dev/null || ik_die "sudo is not installed (the base_packages step installs it)"

  ensure_user "${ADMIN_USER}"
  lock_password "${ADMIN_USER}"
  install_keys "${ADMIN_USER}"
  install_sudoers "${ADMIN_USER}"
  ik_done
}

main "$@"
