#!/usr/bin/env bash
#
# fail2ban.sh (off): turn the fail2ban step off: daemon stopped and disabled, jail removed.
#
# Inputs (environment): none. Run by shared/lib/run_off.sh when the stack sets
# hardening.fail2ban.enabled: false (the fail2ban step left the plan).
#
# Stops and disables fail2ban.service (stopping it removes its nftables ban
# chains, so current bans are lifted) and removes InfraKit's jail
# /etc/fail2ban/jail.d/infrakit.local. The fail2ban package stays installed
# (disabled, inert): turning the feature on again is one step, no download.
# Idempotent: a second run changes nothing.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/off.sh
source "${IK_LIB}/off.sh"

readonly JAIL=/etc/fail2ban/jail.d/infrakit.local

main() {
  ik_args "$@"
  ik_require_root
  ik_off_units fail2ban.service
  ik_off_remove "${JAIL}"
  ik_done
}

main "$@"
