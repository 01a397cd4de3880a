#!/usr/bin/env bash
#
# install_acme_ssl.sh: wait until the web server serves a real ACME certificate for DOMAIN.
#
# Inputs (environment):
#   DOMAIN       the DNS name (required)
#   ISSUE_WAIT   seconds to wait for the ACME issuance (default: 180)
#   MIN_DAYS     the served certificate must be valid this many more days (default: 7)
#
# For a server with its own ACME client (caddy): nothing to install, the gate
# is that 127.0.0.1:443 with SNI DOMAIN serves a certificate whose names
# include DOMAIN, that is not self-signed and not from caddy's internal CA, and
# that stays valid MIN_DAYS more days. Until then the step waits (bounded);
# after ISSUE_WAIT it fails with the server's recent log. Changes nothing.
# Last stdout line: infrakit: step=<step> changed=0

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"

# The served certificate's text form for SNI $1 (empty if none).
served() {
  openssl s_client -connect 127.0.0.1:443 -servername "$1" </dev/null 2>/dev/null \
    | openssl x509 -noout -subject -issuer -ext subjectAltName 2>/dev/null || true
}

acceptable() {
  local text="$1" issuer subject
  [[ -n "${text}" ]] || return 1
  subject="$(grep -m1 '^subject=' <<< "${text}" || true)"
  issuer="$(grep -m1 '^issuer=' <<< "${text}" || true)"
  [[ "${text}" == *"DNS:${DOMAIN}"* ]] || return 1
  [[ "${issuer}" != *"Caddy Local Authority"* && "${issuer#issuer=}" != "${subject#subject=}" ]] || return 1
  openssl s_client -connect 127.0.0.1:443 -servername "${DOMAIN}" </dev/null 2>/dev/null \
    | openssl x509 -noout -checkend $((MIN_DAYS * 86400)) >/dev/null 2>&1
}

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  ik_require_env DOMAIN
  : "${ISSUE_WAIT:=180}" "${MIN_DAYS:=7}"
  ik_require_match DOMAIN '^[a-z0-9.-]{4,253}$' "a DNS name"
  ik_require_match ISSUE_WAIT '^[0-9]{1,4}$' "a number of seconds"
  ik_require_match MIN_DAYS '^[0-9]{1,3}$' "a number of days"
  command -v openssl >/dev/null || ik_die "openssl is not installed"
  local deadline=$((SECONDS + ISSUE_WAIT)) text
  while true; do
    text="$(served "${DOMAIN}")"
    if acceptable "${text}"; then
      break
    fi
    if (( SECONDS >= deadline )); then
      journalctl --no-pager -n 30 -u caddy.service >&2 || true
      ik_die "no ACME certificate for ${DOMAIN} is served on 127.0.0.1:443 after ${ISSUE_WAIT} s (got: ${text:-nothing})"
    fi
    sleep 2
  done
  ik_log "serving an ACME certificate for ${DOMAIN}: $(grep -m1 '^issuer=' <<< "${text}")"
  ik_done
}

main "$@"
