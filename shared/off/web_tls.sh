#!/usr/bin/env bash
#
# web_tls.sh (off): turn certificate renewal off with the web tier: certbot.timer stopped and disabled.
#
# Inputs (environment): none. Run by shared/lib/run_off.sh when the stack sets
# web.enabled: false (the web_tls step left the plan).
#
# Stops and disables certbot.timer if it exists (with nginx off, renewals would
# only fail). Caddy renews its own certificates and stops with caddy.service
# (shared/off/web_proxy.sh). Certificates in /etc/letsencrypt stay.
# Idempotent: a second run changes nothing.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/off.sh
source "${IK_LIB}/off.sh"

main() {
  ik_args "$@"
  ik_require_root
  ik_off_units certbot.timer
  ik_done
}

main "$@"
