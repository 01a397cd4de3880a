#!/usr/bin/env bash
#
# install_node_exporter.sh: Prometheus node exporter from the distribution, private only.
#
# Inputs (environment):
#   LISTEN        address:port it must answer on (required; 127.0.0.1 or a private
#                 address, the same as in the rendered defaults file)
#   ANSWER_WAIT   seconds to wait for /metrics after a (re)start (default: 30)
# Rendered files (files.tsv):
#   prometheus-node-exporter   -> /etc/default/prometheus-node-exporter (ARGS)
#   50-infrakit-hardening.conf -> /etc/systemd/system/prometheus-node-exporter.service.d/
#
# The files are installed before the package, so the exporter never starts on
# its default all-interfaces address (dpkg keeps the existing conffile). Then
# the package is installed, the unit enabled and started, restarted when a file
# changed, and /metrics must answer on LISTEN.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/files.sh
source "${IK_LIB}/files.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/apt.sh
source "${IK_LIB}/apt.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/systemd.sh
source "${IK_LIB}/systemd.sh"

readonly UNIT=prometheus-node-exporter.service

answers() {
  curl --silent --fail --max-time 5 --output /dev/null "http://${LISTEN}/metrics"
}

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  ik_require_env LISTEN
  : "${ANSWER_WAIT:=30}"
  ik_require_match LISTEN '^(127\.[0-9.]+|10\.[0-9.]+|172\.[0-9.]+|192\.168\.[0-9.]+|\[[0-9a-fA-F:]+\]):[0-9]{1,5}$' \
    "a loopback or private address:port"
  ik_require_match ANSWER_WAIT '^[0-9]{1,3}$' "a number of seconds"

  local changed_files=0
  if ik_install_all_files; then
    changed_files=1
    systemctl daemon-reload
  fi
  ik_apt_install prometheus-node-exporter curl
  # Lint the unit when it may have changed (a file or the package); warnings only.
  if (( IK_CHANGED )) && ! systemd-analyze verify "${UNIT}" >/dev/null 2>&1; then
    systemd-analyze verify "${UNIT}" >&2 || true
    ik_warn "systemd-analyze verify complains about ${UNIT} (see above)"
  fi
  ik_refresh_unit "${UNIT}" "${changed_files}" 0
  local deadline=$((SECONDS + ANSWER_WAIT))
  until answers; do
    if (( SECONDS >= deadline )); then
      journalctl --no-pager -n 20 -u "${UNIT}" >&2 || true
      ik_die "node exporter does not answer on http://${LISTEN}/metrics"
    fi
    sleep 0.2
  done
  ik_done
}

main "$@"
