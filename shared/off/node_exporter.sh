#!/usr/bin/env bash
#
# node_exporter.sh (off): turn the node exporter off: stopped and disabled, sandbox drop-in removed.
#
# Inputs (environment): none. Run by shared/lib/run_off.sh when the stack sets
# monitoring.nodeExporter off (the node_exporter step left the plan).
#
# Stops and disables prometheus-node-exporter.service and the package's
# textfile-collector timers (prometheus-node-exporter-*.timer), removes
# InfraKit's systemd drop-in and reloads systemd. The package and its
# /etc/default file (a conffile) stay, disabled and inert.
# Idempotent: a second run changes nothing.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/off.sh
source "${IK_LIB}/off.sh"

readonly UNIT=prometheus-node-exporter.service
readonly DROPIN="/etc/systemd/system/${UNIT}.d/50-infrakit-hardening.conf"

main() {
  ik_args "$@"
  ik_require_root
  local -a timers=()
  local unit _rest
  while read -r unit _rest; do
    [[ "${unit}" == prometheus-node-exporter-*.timer ]] && timers+=("${unit}")
  done < <(systemctl list-unit-files --no-legend 'prometheus-node-exporter-*.timer' 2>/dev/null || true)
  ik_off_units "${UNIT}" "${timers[@]}"
  local before="${IK_CHANGED}"
  IK_CHANGED=0
  ik_off_remove "${DROPIN}"
  if ((IK_CHANGED)); then
    rmdir --ignore-fail-on-non-empty -- "${DROPIN%/*}"
    systemctl daemon-reload
  fi
  ((before)) && ik_changed
  ik_done
}

main "$@"
