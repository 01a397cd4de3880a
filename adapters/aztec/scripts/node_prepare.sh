#!/usr/bin/env bash
#
# node_prepare.sh: the Aztec node's data directory and its admin API key.
#
# Inputs (environment):
#   INSTALL_USER  the node's system account (required, e.g. aztec; created by accounts.sh)
#   DATA_DIR      the node's data directory (required, e.g. /var/lib/aztec): 0700, owned by it
#   CONFIG_DIR    where the key and its hash live (required, e.g. /etc/aztec): 0750 root:INSTALL_USER
#
# The admin API key is 32 random bytes (hex), generated on the host the first time and never
# replaced: CONFIG_DIR/admin-api-key, 0600 root (operators read it with sudo). Its sha256 goes
# to CONFIG_DIR/admin-api.env as AZTEC_ADMIN_API_KEY_HASH (0600 root, read by systemd), so the
# node never generates and prints a key of its own. The key is never printed.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../../../shared/lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/files.sh
source "${IK_LIB}/files.sh"

ensure_key() {
  local key_file="$1" tmp
  if [[ ! -s "${key_file}" ]]; then
    tmp="$(mktemp "${CONFIG_DIR}/.admin-api-key.XXXXXXXX")"
    chmod 0600 "${tmp}"
    od -An -v -tx1 -N32 /dev/urandom | tr -d ' \n' >"${tmp}"
    [[ "$(wc -c <"${tmp}")" == 64 ]] || {
      rm -f -- "${tmp}"
      ik_die "could not generate the admin API key"
    }
    mv -fT -- "${tmp}" "${key_file}"
    ik_log "generated the admin API key ${key_file} (0600 root; value not shown)"
    ik_changed
  fi
  grep -qE '^[0-9a-f]{64}$' "${key_file}" || ik_die "${key_file} is not a 64-hex-digit key; remove it to regenerate"
  [[ "$(stat -c '%a %U' -- "${key_file}")" == "600 root" ]] || {
    chmod 0600 "${key_file}"
    chown root: "${key_file}"
    ik_changed
  }
}

main() {
  ik_args "$@"
  ik_require_root
  ik_require_env INSTALL_USER DATA_DIR CONFIG_DIR
  ik_require_match INSTALL_USER '^[a-z_][a-z0-9_-]{0,31}$' "a system user name"
  ik_require_match DATA_DIR '^/var/lib/[A-Za-z0-9._-]+$' "a directory under /var/lib"
  ik_require_match CONFIG_DIR '^/etc/[A-Za-z0-9._-]+$' "a directory under /etc"
  id -u "${INSTALL_USER}" >/dev/null 2>&1 || ik_die "user ${INSTALL_USER} does not exist (accounts.sh runs first)"
  local group hash tmp
  group="$(id -gn -- "${INSTALL_USER}")"
  ik_ensure_dir "${DATA_DIR}" 0700 "${INSTALL_USER}:${group}"
  ik_ensure_dir "${CONFIG_DIR}" 0750 "root:${group}"
  ensure_key "${CONFIG_DIR}/admin-api-key"
  hash="$(tr -d '\n' <"${CONFIG_DIR}/admin-api-key" | sha256sum)"
  ik_tmpfile tmp
  printf '# Managed by InfraKit (aztec_node_prepare): sha256 of %s\nAZTEC_ADMIN_API_KEY_HASH=%s\n' \
    "${CONFIG_DIR}/admin-api-key" "${hash%% *}" >"${tmp}"
  ik_write_file "${tmp}" "${CONFIG_DIR}/admin-api.env" 0600 root:root || true
  ik_done
}

main "$@"
