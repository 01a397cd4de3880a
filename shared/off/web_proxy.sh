#!/usr/bin/env bash
#
# web_proxy.sh (off): turn the web tier's server off: nginx/caddy stopped and disabled.
#
# Inputs (environment): none. Run by shared/lib/run_off.sh when the stack sets
# web.enabled: false (the web_proxy step left the plan).
#
# Stops and disables nginx.service, caddy.service (whichever exist) and
# InfraKit's connection-limit unit (infrakit-web-connlimit.service). Ports
# 80/443 are closed by the firewall_ufw step, which re-runs in the same apply
# because its rules no longer list them (and so does the hcloud firewall).
# Packages, site configuration and certificates stay, inert.
# Idempotent: a second run changes nothing.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/off.sh
source "${IK_LIB}/off.sh"

main() {
  ik_args "$@"
  ik_require_root
  ik_off_units nginx.service caddy.service infrakit-web-connlimit.service
  ik_done
}

main "$@"
