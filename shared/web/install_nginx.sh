#!/usr/bin/env bash
#
# install_nginx.sh: nginx as the node's TLS reverse proxy (config checked before reload).
#
# Inputs (environment):
#   DOMAIN         the DNS name served (required)
#   WEBROOT        directory for ACME HTTP-01 challenges (required; created 0755)
#   TLS_DIR        where nginx reads fullchain.pem and privkey.pem (required);
#                  until the certificate step links the real certificate there, a
#                  self-signed placeholder (2 days) lets nginx start
#   AUTH_USER      basic-auth user for RPC and status (default: none)
#   AUTH_FILE      htpasswd file for AUTH_USER (required with AUTH_USER)
#   RPC_AUTH_HASH  secret, on stdin via run_step.sh: the user's bcrypt hash
#                  (only with AUTH_USER; never printed)
#   NGINX_WAIT     seconds to wait for nginx to start (default: 30)
#   CONNLIMIT_UNIT caddy's connection-limit unit, stopped and disabled if present
#                  (default: infrakit-web-connlimit.service; nginx limits requests itself)
# Rendered files (files.tsv):
#   infrakit-web.conf          -> /etc/nginx/conf.d/infrakit-web.conf
#   50-infrakit-hardening.conf -> /etc/systemd/system/nginx.service.d/
#
# Installs nginx, stops and disables caddy if it is installed (one proxy owns
# 80/443), removes Debian's default site, writes the config and the htpasswd
# file (0640 root:www-data, no backup copy kept), then `nginx -t`: on failure
# every file is rolled back. Reloads nginx only when something changed.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/files.sh
source "${IK_LIB}/files.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/apt.sh
source "${IK_LIB}/apt.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/systemd.sh
source "${IK_LIB}/systemd.sh"

readonly UNIT=nginx.service
readonly DEFAULT_SITE=/etc/nginx/sites-enabled/default

# A self-signed placeholder so nginx can start before the first ACME issuance.
placeholder_cert() {
  local dir="$1" cn="$2" tmp
  [[ -e "${dir}/fullchain.pem" && -e "${dir}/privkey.pem" ]] && return 0
  ik_ensure_dir "${dir}" 0755 root:root
  ik_tmpdir tmp
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=${cn}" -addext "subjectAltName=DNS:${cn}" \
    -keyout "${tmp}/privkey.pem" -out "${tmp}/fullchain.pem" 2>/dev/null \
    || ik_die "cannot create the placeholder certificate"
  install -m 0600 -o root -g root -- "${tmp}/privkey.pem" "${dir}/privkey.pem"
  install -m 0644 -o root -g root -- "${tmp}/fullchain.pem" "${dir}/fullchain.pem"
  ik_log "placeholder self-signed certificate in ${dir} until ACME issues the real one"
  ik_changed
}

# The htpasswd file: "user:hash", written without a backup of the previous one.
install_htpasswd() {
  local tmp
  [[ "${RPC_AUTH_HASH}" =~ ^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$ ]] \
    || ik_die "RPC_AUTH_HASH is not a bcrypt hash (\$2y\$..., from htpasswd -nBC 12 USER); value not shown"
  umask 077
  ik_tmpfile tmp "$(dirname -- "${AUTH_FILE}")"
  printf '%s:%s\n' "${AUTH_USER}" "${RPC_AUTH_HASH}" > "${tmp}"
  IK_ROLLBACK=0 ik_write_file "${tmp}" "${AUTH_FILE}" 0640 root:www-data || return 1
}

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  ik_require_env DOMAIN WEBROOT TLS_DIR
  : "${AUTH_USER:=}" "${AUTH_FILE:=}" "${NGINX_WAIT:=30}" "${CONNLIMIT_UNIT:=infrakit-web-connlimit.service}"
  ik_require_match DOMAIN '^[a-z0-9.-]{4,253}$' "a DNS name"
  ik_require_match WEBROOT '^/[A-Za-z0-9._/-]+$' "an absolute path"
  ik_require_match TLS_DIR '^/[A-Za-z0-9._/-]+$' "an absolute path"
  ik_require_match NGINX_WAIT '^[0-9]{1,3}$' "a number of seconds"
  ik_require_match CONNLIMIT_UNIT '^[a-z0-9-]+\.service$' "a unit name"
  if [[ -n "${AUTH_USER}" ]]; then
    ik_require_match AUTH_USER '^[A-Za-z0-9._-]{1,32}$' "a user name"
    ik_require_match AUTH_FILE '^/etc/nginx/[A-Za-z0-9._-]+$' "a file under /etc/nginx"
    ik_require_env RPC_AUTH_HASH
  fi

  if ik_pkg_installed caddy; then
    ik_ensure_unit caddy.service disable now
  fi
  ik_ensure_unit "${CONNLIMIT_UNIT}" disable now
  ik_apt_install nginx openssl
  local changed=0
  ik_ensure_dir "${WEBROOT}" 0755 root:root
  placeholder_cert "${TLS_DIR}" "${DOMAIN}"
  if [[ -L "${DEFAULT_SITE}" || -e "${DEFAULT_SITE}" ]]; then
    rm -f -- "${DEFAULT_SITE}"
    ik_log "removed Debian's default site"
    ik_changed
    changed=1
  fi
  if [[ -n "${AUTH_USER}" ]] && install_htpasswd; then
    changed=1
  fi
  local dropin_changed=0
  if ik_install_file infrakit-web.conf; then
    changed=1
  fi
  if ik_install_file 50-infrakit-hardening.conf; then
    dropin_changed=1
    systemctl daemon-reload
  fi
  local out
  if ! out="$(nginx -t 2>&1)"; then
    printf 'nginx -t: %s\n' "${out}" >&2
    ik_rollback_files
    if (( dropin_changed )); then
      systemctl daemon-reload
    fi
    ik_die "nginx -t rejects the configuration; rolled back"
  fi

  ik_refresh_unit "${UNIT}" "${dropin_changed}" "${changed}"
  ik_wait_active "${UNIT}" "${NGINX_WAIT}" || ik_die "nginx is not active"
  ik_done
}

main "$@"
