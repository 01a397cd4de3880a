#!/usr/bin/env bash
#
# monitoring_units.sh (off): turn the monitoring tier off: status server and probe stopped, disabled, removed.
#
# Inputs (environment): none. Run by shared/lib/run_off.sh when the stack sets
# monitoring.enabled: false (the monitoring_units step left the plan).
#
# Stops and disables infrakit-status.service, infrakit-probe.timer and
# infrakit-probe.service, removes their unit files from /etc/systemd/system
# and reloads systemd. The tools and settings the `monitoring` step installed
# (/opt/infrakit-monitoring, /etc/infrakit/monitoring*.json, the unprivileged
# user) stay: nothing runs them any more. Idempotent.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/off.sh
source "${IK_LIB}/off.sh"

readonly UNITS=(infrakit-probe.timer infrakit-probe.service infrakit-status.service)

main() {
  ik_args "$@"
  ik_require_root
  ik_off_units "${UNITS[@]}"
  local before="${IK_CHANGED}" unit
  IK_CHANGED=0
  for unit in "${UNITS[@]}"; do
    ik_off_remove "/etc/systemd/system/${unit}"
  done
  if ((IK_CHANGED)); then
    systemctl daemon-reload
  fi
  ((before)) && ik_changed
  ik_done
}

main "$@"
