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
# Rendered files (files.tsv):
#   Caddyfile                  -> /etc/caddy/Caddyfile
#   50-infrakit-hardening.conf -> /etc/systemd/system/caddy.service.d/
#   acme-ca.pem                -> /etc/infrakit/tls/acme-ca.pem (only for a private ACME CA)
#
# Stops and disables nginx if it is installed (one proxy owns 80/443), installs
# caddy, writes the files and the basicauth snippet (0640 root:caddy, no backup
# copy kept), validates the Caddyfile as user caddy (`caddy validate`; on
# failure every file is rolled back), then reloads caddy when the Caddyfile
# changed or restarts it when its sandbox changed.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/common.sh"

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
  : "${AUTH_USER:=}" "${AUTH_FILE:=}" "${CADDY_WAIT:=30}"
  ik_require_match DOMAIN '^[a-z0-9.-]{4,253}$' "a DNS name"
  ik_require_match CADDY_WAIT '^[0-9]{1,3}$' "a number of seconds"
  if [[ -n "${AUTH_USER}" ]]; then
    ik_require_match AUTH_USER '^[A-Za-z0-9._-]{1,32}$' "a user name"
    ik_require_match AUTH_FILE '^/etc/caddy/[A-Za-z0-9._-]+$' "a file under /etc/caddy"
    ik_require_env RPC_AUTH_HASH
  fi

  if ik_pkg_installed nginx; then
    ik_ensure_unit nginx.service disable now
  fi
  ik_apt_install caddy
  local caddyfile_changed=0 dropin_changed=0 name
  if [[ -n "${AUTH_USER}" ]] && install_auth_snippet; then
    caddyfile_changed=1
  fi
  while IFS= read -r name; do
    if ik_install_file "${name}"; then
      if [[ "${IK_FILE_DEST}" == /etc/systemd/* ]]; then
        dropin_changed=1
      else
        caddyfile_changed=1
      fi
    fi
  done < <(ik_file_names)
  (( dropin_changed )) && systemctl daemon-reload
  local out
  if ! out="$(validate 2>&1)"; then
    printf 'caddy validate: %s\n' "${out}" >&2
    ik_rollback_files
    if (( dropin_changed )); then
      systemctl daemon-reload
    fi
    ik_die "caddy validate rejects the Caddyfile; rolled back"
  fi

  local was_active=0
  if ik_unit_active "${UNIT}"; then
    was_active=1
  fi
  ik_ensure_unit "${UNIT}" enable now
  if (( was_active && dropin_changed )); then
    systemctl restart "${UNIT}"
    ik_log "restarted caddy (its sandbox changed)"
  elif (( was_active && caddyfile_changed )); then
    systemctl reload "${UNIT}"
    ik_log "reloaded caddy"
  fi
  ik_wait_active "${UNIT}" "${CADDY_WAIT}" || ik_die "caddy is not active"
  ik_done
}

main "$@"
