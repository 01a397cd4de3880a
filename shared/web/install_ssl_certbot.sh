#!/usr/bin/env bash
#
# install_ssl_certbot.sh: an ACME certificate for nginx from certbot (webroot), with renewal.
#
# Inputs (environment):
#   DOMAIN          the certificate's DNS name (required)
#   ACME_EMAIL      ACME account e-mail (required)
#   ACME_DIRECTORY  ACME directory URL (required; e.g. Let's Encrypt production,
#                   its staging, or a private CA such as pebble or step-ca)
#   ACME_CA_BUNDLE  PEM file trusted for the ACME directory's own HTTPS (default:
#                   none = the system trust store); certbot gets it as
#                   REQUESTS_CA_BUNDLE, now and in certbot.service for renewals
#   WEBROOT         directory nginx serves /.well-known/acme-challenge/ from (required)
#   TLS_DIR         where nginx reads fullchain.pem and privkey.pem (required);
#                   they become links into /etc/letsencrypt/live/DOMAIN/
#   RENEW_DAYS      renew now if the certificate expires within this many days
#                   (default: 30, as certbot's own renewal)
#   SERVE_WAIT      seconds to wait for nginx to serve the new certificate (default: 30)
# Rendered files (files.tsv):
#   50-infrakit-nginx -> /etc/letsencrypt/renewal-hooks/deploy/ (nginx -t, reload)
#   acme-ca.pem, 50-infrakit-acme-ca.conf (certbot.service drop-in): only with
#   a private ACME CA
#
# Runs certbot only when there is no certificate for DOMAIN yet, when it comes
# from another ACME directory than ACME_DIRECTORY (then it is replaced), or when
# it is due for renewal; otherwise nothing changes. certbot.timer (Debian's)
# renews twice a day and the deploy hook reloads nginx. Finally checks that
# nginx serves exactly the certificate in /etc/letsencrypt/live/DOMAIN/.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/files.sh
source "${IK_LIB}/files.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/apt.sh
source "${IK_LIB}/apt.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/systemd.sh
source "${IK_LIB}/systemd.sh"

readonly LE=/etc/letsencrypt

# The SHA-256 fingerprint of the certificate nginx serves for SNI $1.
served_fingerprint() {
  openssl s_client -connect 127.0.0.1:443 -servername "$1" </dev/null 2>/dev/null \
    | openssl x509 -noout -fingerprint -sha256 2>/dev/null
}

# ensure_link TARGET LINK: LINK is a symlink to TARGET (predicate: 0 = changed).
ensure_link() {
  local target="$1" link="$2"
  [[ -L "${link}" && "$(readlink -- "${link}")" == "${target}" ]] && return 1
  ln -sfn -- "${target}" "${link}.infrakit-new"
  mv -fT -- "${link}.infrakit-new" "${link}"
  ik_log "${link} -> ${target}"
  ik_changed
  return 0
}

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  ik_require_env DOMAIN ACME_EMAIL ACME_DIRECTORY WEBROOT TLS_DIR
  : "${ACME_CA_BUNDLE:=}" "${RENEW_DAYS:=30}" "${SERVE_WAIT:=30}"
  ik_require_match DOMAIN '^[a-z0-9.-]{4,253}$' "a DNS name"
  ik_require_match ACME_EMAIL '^[^[:space:]@]+@[^[:space:]@]+$' "an e-mail address"
  ik_require_match ACME_DIRECTORY '^https://[^[:space:]]+$' "an https:// URL"
  ik_require_match WEBROOT '^/[A-Za-z0-9._/-]+$' "an absolute path"
  ik_require_match TLS_DIR '^/[A-Za-z0-9._/-]+$' "an absolute path"
  ik_require_match RENEW_DAYS '^[0-9]{1,3}$' "a number of days"
  ik_require_match SERVE_WAIT '^[0-9]{1,3}$' "a number of seconds"
  [[ -z "${ACME_CA_BUNDLE}" ]] || ik_require_match ACME_CA_BUNDLE '^/[A-Za-z0-9._/-]+$' "an absolute path"
  command -v nginx >/dev/null || ik_die "nginx is not installed (the web_proxy step installs it)"
  [[ -d "${WEBROOT}" && -d "${TLS_DIR}" ]] || ik_die "${WEBROOT} or ${TLS_DIR} is missing (the web_proxy step creates them)"

  ik_apt_install certbot openssl
  local name
  while IFS= read -r name; do
    if ik_install_file "${name}" && [[ "${IK_FILE_DEST}" == /etc/systemd/* ]]; then
      systemctl daemon-reload
    fi
  done < <(ik_file_names)
  if [[ -n "${ACME_CA_BUNDLE}" ]]; then
    [[ -s "${ACME_CA_BUNDLE}" ]] || ik_die "ACME_CA_BUNDLE ${ACME_CA_BUNDLE} is missing or empty"
    export REQUESTS_CA_BUNDLE="${ACME_CA_BUNDLE}"
  fi

  local live="${LE}/live/${DOMAIN}" conf="${LE}/renewal/${DOMAIN}.conf" server="" why=""
  local -a extra=()
  if [[ -f "${conf}" ]]; then
    server="$(sed -n 's/^server = //p' "${conf}" | head -n 1)"
  fi
  if [[ ! -f "${live}/fullchain.pem" ]]; then
    why="no certificate yet"
  elif [[ "${server}" != "${ACME_DIRECTORY}" ]]; then
    why="certificate is from ${server:-an unknown directory}, the stack wants ${ACME_DIRECTORY}"
    extra+=(--force-renewal)
  elif ! openssl x509 -noout -checkend $((RENEW_DAYS * 86400)) -in "${live}/fullchain.pem" >/dev/null; then
    why="certificate expires within ${RENEW_DAYS} days"
  fi
  if [[ -n "${why}" ]]; then
    ik_log "requesting a certificate for ${DOMAIN} from ${ACME_DIRECTORY}: ${why}"
    if ! certbot certonly --non-interactive --agree-tos --email "${ACME_EMAIL}" --server "${ACME_DIRECTORY}" \
      --webroot --webroot-path "${WEBROOT}" --cert-name "${DOMAIN}" --domains "${DOMAIN}" \
      --key-type ecdsa --keep-until-expiring "${extra[@]}" >&2; then
      ik_die "certbot could not get a certificate for ${DOMAIN} (see above and /var/log/letsencrypt/letsencrypt.log)"
    fi
    ik_changed
  fi

  local linked=1
  if ensure_link "${live}/fullchain.pem" "${TLS_DIR}/fullchain.pem"; then linked=0; fi
  if ensure_link "${live}/privkey.pem" "${TLS_DIR}/privkey.pem"; then linked=0; fi
  if [[ -n "${why}" ]] || (( linked == 0 )); then
    nginx -t -q || ik_die "nginx -t fails with the new certificate"
    systemctl reload nginx.service
    ik_log "reloaded nginx with the certificate for ${DOMAIN}"
  fi
  ik_ensure_unit certbot.timer enable now

  local want deadline=$((SECONDS + SERVE_WAIT))
  want="$(openssl x509 -noout -fingerprint -sha256 -in "${live}/fullchain.pem")"
  until [[ "$(served_fingerprint "${DOMAIN}")" == "${want}" ]]; do
    (( SECONDS < deadline )) || ik_die "nginx does not serve the certificate in ${live} for ${DOMAIN}"
    sleep 1
  done
  ik_done
}

main "$@"
