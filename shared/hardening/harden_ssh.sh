#!/usr/bin/env bash
#
# harden_ssh.sh: sshd hardening drop-in, validated before sshd is reloaded.
#
# Inputs (environment):
#   ADMIN_USER         the admin login that must keep access (required)
#   SSH_PORT           the port sshd must listen on (default: 22)
#   SSH_EXTRA_PORTS    space-separated ports sshd must also listen on: the old
#                      port during a port migration (default: none; see
#                      runbooks/hardened-host.md)
#   PERMIT_ROOT_LOGIN  yes|no; yes = key-only root login (default: no)
#   SSH_MODULI_MIN     drop DH group-exchange moduli below this size from
#                      /etc/ssh/moduli, in ssh-keygen's bits-1 notation
#                      (default: 3071; 0 leaves the file alone)
#   IK_SSH_CLIENT      the admin's address, used for the effective-config check
#                      (set by run_step.sh; optional)
# Rendered files (files.tsv):
#   sshd_hardening.conf -> /etc/ssh/sshd_config.d/00-infrakit-hardening.conf
#
# Lock-out safety: with PERMIT_ROOT_LOGIN=no it first checks that ADMIN_USER
# exists, has a usable authorized_keys and password-less sudo, and is in the
# drop-in's AllowUsers. Installs the drop-in, runs `sshd -t` (rolls back and
# dies on failure), checks with `sshd -T` that passwordauthentication is no and
# permitrootlogin is as asked, and reloads ssh only if something changed.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/files.sh
source "${IK_LIB}/files.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/systemd.sh
source "${IK_LIB}/systemd.sh"

readonly SSHD_CONFIG=/etc/ssh/sshd_config
readonly MODULI=/etc/ssh/moduli
readonly INCLUDE_LINE='Include /etc/ssh/sshd_config.d/*.conf'

check_admin_access() {
  local user="$1" dropin="$2" home keys sudo_out
  id -u "${user}" >/dev/null 2>&1 \
    || ik_die "lock-out guard: admin user ${user} does not exist (run create_user first)"
  home="$(getent passwd "${user}" | cut -d: -f6)"
  keys="${home}/.ssh/authorized_keys"
  if [[ ! -f "${keys}" ]] || ! grep -Eq '^(ssh-|ecdsa-|sk-)' "${keys}"; then
    ik_die "lock-out guard: ${keys} holds no key; refusing to disable root login"
  fi
  if [[ -n "$(find "${home}" "${home}/.ssh" "${keys}" -maxdepth 0 -perm /022 2>/dev/null)" ]] \
    || [[ "$(stat -c '%U' -- "${home}/.ssh")" != "${user}" ]]; then
    ik_die "lock-out guard: ${home}, ${home}/.ssh or ${keys} is group/world-writable or not owned by ${user}; sshd StrictModes would refuse the key"
  fi
  sudo_out="$(sudo -n -l -U "${user}" 2>/dev/null || true)"
  [[ "${sudo_out}" == *NOPASSWD* ]] \
    || ik_die "lock-out guard: ${user} has no password-less sudo entry; refusing to disable root login"
  grep -Eiq "^[[:space:]]*AllowUsers[[:space:]]+(.*[[:space:]])?${user}([[:space:]]|$)" "${dropin}" \
    || ik_die "lock-out guard: the drop-in's AllowUsers does not list ${user}"
}

ensure_include() {
  local tmp
  if grep -Eiq '^[[:space:]]*Include[[:space:]]+/etc/ssh/sshd_config\.d/\*\.conf([[:space:]]|$)' "${SSHD_CONFIG}"; then
    return 0
  fi
  ik_tmpfile tmp
  { printf '%s\n' "${INCLUDE_LINE}"; cat -- "${SSHD_CONFIG}"; } > "${tmp}"
  ik_write_file "${tmp}" "${SSHD_CONFIG}" 0644 root:root || true
  ik_log "added '${INCLUDE_LINE}' at the top of ${SSHD_CONFIG}"
}

ensure_host_keys() {
  local dropin="$1" key type
  while read -r key; do
    [[ -f "${key}" ]] && continue
    case "${key}" in
      *ed25519*) type=ed25519 ;;
      *ecdsa*) type=ecdsa ;;
      *rsa*) type=rsa ;;
      *) ik_die "host key ${key} is missing and its type is unknown" ;;
    esac
    if [[ "${type}" == rsa ]]; then
      ssh-keygen -q -t rsa -b 4096 -N '' -f "${key}" >&2
    else
      ssh-keygen -q -t "${type}" -N '' -f "${key}" >&2
    fi
    ik_log "generated host key ${key}"
    ik_changed
  done < <(awk 'tolower($1) == "hostkey" {print $2}' "${dropin}")
}

prune_moduli() {
  local min="$1" tmp
  (( min > 0 )) && [[ -f "${MODULI}" ]] || return 0
  ik_tmpfile tmp
  awk -v min="${min}" '/^[[:space:]]*(#|$)/ || $5 + 0 >= min' "${MODULI}" > "${tmp}"
  if ! grep -Eq '^[[:space:]]*[0-9]' "${tmp}"; then
    ik_warn "no moduli of at least ${min} bits in ${MODULI}; leaving it alone"
    return 0
  fi
  if ik_write_file "${tmp}" "${MODULI}" 0644 root:root; then
    ik_log "removed DH moduli smaller than ${min} bits from ${MODULI}"
  fi
}

# Print the effective sshd settings for a connection of USER from ADDR.
effective() {
  local user="$1" addr="$2"
  sshd -T -C "user=${user},host=infrakit-check,addr=${addr}" 2>/dev/null
}

check_effective() {
  local user="$1" want_root="$2" ports="$3" addr="$4" conf root_conf port
  conf="$(effective "${user}" "${addr}")" || return 1
  root_conf="$(effective root "${addr}")" || return 1
  grep -qx 'passwordauthentication no' <<< "${conf}" || { ik_warn "sshd -T: passwordauthentication is not 'no'"; return 1; }
  grep -qx 'kbdinteractiveauthentication no' <<< "${conf}" || { ik_warn "sshd -T: kbdinteractiveauthentication is not 'no'"; return 1; }
  grep -qx 'pubkeyauthentication yes' <<< "${conf}" || { ik_warn "sshd -T: pubkeyauthentication is not 'yes'"; return 1; }
  for port in ${ports}; do
    grep -qx "port ${port}" <<< "${conf}" || { ik_warn "sshd -T: not listening on port ${port}"; return 1; }
  done
  if [[ "${want_root}" == "no" ]]; then
    grep -qx 'permitrootlogin no' <<< "${root_conf}" || { ik_warn "sshd -T: permitrootlogin is not 'no'"; return 1; }
  else
    grep -Eqx 'permitrootlogin (prohibit-password|without-password)' <<< "${root_conf}" \
      || { ik_warn "sshd -T: permitrootlogin is not prohibit-password"; return 1; }
  fi
}

listen_ports() {
  sshd -T 2>/dev/null | awk '$1 == "port" {print $2}' | sort -u | tr '\n' ' '
}

# Apply the new config: reload ssh (or, with Ubuntu's socket activation and a
# changed port, regenerate and restart ssh.socket).
apply_config() {
  local ports_before="$1"
  if systemctl is-enabled --quiet ssh.socket 2>/dev/null; then
    if [[ "$(listen_ports)" != "${ports_before}" ]]; then
      systemctl daemon-reload
      systemctl restart ssh.socket
      ik_log "ssh.socket restarted on the new port"
    fi
  else
    ik_ensure_unit ssh.service enable now
  fi
  if ik_unit_active ssh.service; then
    systemctl reload ssh.service
    ik_log "reloaded ssh"
  fi
}

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  : "${SSH_PORT:=22}" "${PERMIT_ROOT_LOGIN:=no}" "${SSH_MODULI_MIN:=3071}" "${SSH_EXTRA_PORTS:=}"
  ik_require_env ADMIN_USER
  ik_require_match ADMIN_USER '^[a-z_][a-z0-9_-]{0,30}$' "a lower-case Unix user name"
  ik_require_match SSH_PORT '^[1-9][0-9]{0,4}$' "a port number"
  (( SSH_PORT <= 65535 )) || ik_die "SSH_PORT=${SSH_PORT} is not a port number"
  ik_require_match SSH_EXTRA_PORTS '^([1-9][0-9]{0,4}( [1-9][0-9]{0,4})*)?$' "space-separated port numbers"
  local -a extra_ports=()
  local extra
  read -r -a extra_ports <<< "${SSH_EXTRA_PORTS}" || true
  for extra in "${extra_ports[@]}"; do
    (( extra <= 65535 )) || ik_die "SSH_EXTRA_PORTS: ${extra} is not a port number"
  done
  ik_require_match PERMIT_ROOT_LOGIN '^(yes|no)$' "yes or no"
  ik_require_match SSH_MODULI_MIN '^[0-9]{1,5}$' "a number of bits"
  command -v sshd >/dev/null || ik_die "openssh-server is not installed"

  local dropin addr ports_before
  dropin="$(ik_file sshd_hardening.conf)"
  addr="${IK_SSH_CLIENT:-127.0.0.1}"
  if [[ "${PERMIT_ROOT_LOGIN}" == "no" ]]; then
    check_admin_access "${ADMIN_USER}" "${dropin}"
  fi
  for extra in "${SSH_PORT}" "${extra_ports[@]}"; do
    grep -Eqx "Port ${extra}" "${dropin}" || ik_die "the drop-in does not set Port ${extra}"
  done
  install -d -m 0755 /run/sshd  # sshd -t needs its privilege separation dir
  ports_before="$(listen_ports)"

  ensure_include
  ensure_host_keys "${dropin}"
  prune_moduli "${SSH_MODULI_MIN}"
  ik_install_file sshd_hardening.conf || true
  if ! sshd -t >&2; then
    ik_rollback_files
    ik_die "sshd -t rejects the new configuration; rolled back, ssh not reloaded"
  fi
  if ! check_effective "${ADMIN_USER}" "${PERMIT_ROOT_LOGIN}" "${SSH_PORT} ${SSH_EXTRA_PORTS}" "${addr}"; then
    ik_rollback_files
    ik_die "the effective sshd configuration (sshd -T) is not the planned one (an earlier drop-in or Match block wins?); rolled back"
  fi
  if (( IK_CHANGED )); then
    apply_config "${ports_before}"
  elif ! systemctl is-enabled --quiet ssh.socket 2>/dev/null; then
    ik_ensure_unit ssh.service enable now
  fi
  ik_done
}

main "$@"
