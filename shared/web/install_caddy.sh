#!/usr/bin/env bash
#
# install_caddy.sh: caddy as the node's TLS reverse proxy; caddy's own ACME gets and renews the certificate.
#
# Inputs (environment):
#   DOMAIN         the DNS name served (required)
#   AUTH_USER      basic-auth user for RPC and status (default: none)
#   AUTH_FILE      Caddyfile snippet holding the basicauth block (required with AUTH_USER)
#   RPC_AUTH_HASH  secret, on stdin via run_step.sh: the user's bcrypt hash
#                  (only with AUTH_USER; never printed)
#   CADDY_WAIT     seconds to wait for caddy to start (default: 30)
#   CONNLIMIT_UNIT the unit loading the connection limit (default:
#                  infrakit-web-connlimit.service)
# Rendered files (files.tsv):
#   Caddyfile                  -> /etc/caddy/Caddyfile
#   50-infrakit-hardening.conf -> /etc/systemd/system/caddy.service.d/
#   web-connlimit.nft          -> /etc/infrakit/web-connlimit.nft (per-client new
#                                 connections/s to 80/443: Debian's caddy has no
#                                 request rate-limit module)
#   CONNLIMIT_UNIT             -> /etc/systemd/system/ (loads that table at boot)
#   acme-ca.pem                -> /etc/infrakit/tls/acme-ca.pem (only for a private ACME CA)
#
# Stops and disables nginx if it is installed (one proxy owns 80/443), installs
# caddy, writes the files and the basicauth snippet (0640 root:caddy, no backup
# copy kept), validates the Caddyfile as user caddy (`caddy validate`) and the
# table with `nft -c` (on failure every file is rolled back), then reloads caddy
# when the Caddyfile changed or restarts it when its sandbox changed, and loads
# the connection limit.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/files.sh
source "${IK_LIB}/files.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/apt.sh
source "${IK_LIB}/apt.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/systemd.sh
source "${IK_LIB}/systemd.sh"

readonly UNIT=caddy.service
readonly CADDY_HOME=/var/lib/caddy

install_auth_snippet() {
  local tmp
  [[ "${RPC_AUTH_HASH}" =~ ^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$ ]] \
    || ik_die "RPC_AUTH_HASH is not a bcrypt hash (\$2y\$..., from htpasswd -nBC 12 USER); value not shown"
  umask 077
  ik_tmpfile tmp "$(dirname -- "${AUTH_FILE}")"
  printf '# Managed by InfraKit (web_proxy): basic auth for RPC and status.\nbasicauth {\n\t%s %s\n}\n' \
    "${AUTH_USER}" "${RPC_AUTH_HASH}" > "${tmp}"
  IK_ROLLBACK=0 ik_write_file "${tmp}" "${AUTH_FILE}" 0640 root:caddy || return 1
}

validate() {
  runuser -u caddy -- env HOME="${CADDY_HOME}" XDG_DATA_HOME="${CADDY_HOME}/.local/share" \
    XDG_CONFIG_HOME="${CADDY_HOME}/.config" caddy validate --config /etc/caddy/Caddyfile --adapter caddyfile
}

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  ik_require_env DOMAIN
  : "${AUTH_USER:=}" "${AUTH_FILE:=}" "${CADDY_WAIT:=30}" "${CONNLIMIT_UNIT:=infrakit-web-connlimit.service}"
  ik_require_match DOMAIN '^[a-z0-9.-]{4,253}$' "a DNS name"
  ik_require_match CADDY_WAIT '^[0-9]{1,3}$' "a number of seconds"
  ik_require_match CONNLIMIT_UNIT '^[a-z0-9-]+\.service$' "a unit name"
  if [[ -n "${AUTH_USER}" ]]; then
    ik_require_match AUTH_USER '^[A-Za-z0-9._-]{1,32}$' "a user name"
    ik_require_match AUTH_FILE '^/etc/caddy/[A-Za-z0-9._-]+$' "a file under /etc/caddy"
    ik_require_env RPC_AUTH_HASH
  fi

  if ik_pkg_installed nginx; then
    ik_ensure_unit nginx.service disable now
  fi
  ik_apt_install caddy
  local caddyfile_changed=0 dropin_changed=0 limit_changed=0 limit_unit_changed=0 name nft_file=""
  if [[ -n "${AUTH_USER}" ]] && install_auth_snippet; then
    caddyfile_changed=1
  fi
  while IFS= read -r name; do
    if [[ "${name}" == web-connlimit.nft ]]; then
      nft_file="$(ik_file_dest "${name}")"
    fi
    ik_install_file "${name}" || continue
    case "${IK_FILE_DEST}" in
      */caddy.service.d/*) dropin_changed=1 ;;
      "/etc/systemd/system/${CONNLIMIT_UNIT}") limit_unit_changed=1 ;;
      "${nft_file:-/nonexistent}") limit_changed=1 ;;
      *) caddyfile_changed=1 ;;
    esac
  done < <(ik_file_names)
  [[ -n "${nft_file}" ]] || ik_die "rendered file web-connlimit.nft is missing"
  if (( dropin_changed || limit_unit_changed )); then
    systemctl daemon-reload
  fi
  local out
  if ! out="$(validate 2>&1)" || ! out+="$(nft -c -f "${nft_file}" 2>&1)"; then
    printf 'caddy validate / nft -c: %s\n' "${out}" >&2
    ik_rollback_files
    systemctl daemon-reload
    ik_die "caddy validate or nft -c rejects the configuration; rolled back"
  fi

  ik_refresh_unit "${UNIT}" "${dropin_changed}" "${caddyfile_changed}"
  ik_wait_active "${UNIT}" "${CADDY_WAIT}" || ik_die "caddy is not active"

  ik_refresh_unit "${CONNLIMIT_UNIT}" 0 "$(( limit_changed || limit_unit_changed ))"
  nft list table inet infrakit_web >/dev/null || ik_die "the connection limit table is not loaded"
  ik_done
}

main "$@"
