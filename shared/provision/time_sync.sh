#!/usr/bin/env bash
#
# time_sync.sh: chrony enabled and running with the planned sources.
#
# Inputs (environment): none.
# Rendered files (files.tsv):
#   infrakit.sources -> /etc/chrony/sources.d/infrakit.sources
#
# Installs the sources file (`chronyc reload sources` if it changed), makes sure
# chrony.conf reads /etc/chrony/sources.d, disables systemd-timesyncd if it is
# still present, and enables and starts chrony. Inside a container chrony may
# be skipped by systemd (no CAP_SYS_TIME): reported, not fatal; on a real host
# chrony must run.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/files.sh
source "${IK_LIB}/files.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/systemd.sh
source "${IK_LIB}/systemd.sh"

readonly UNIT=chrony.service
readonly CHRONY_CONF=/etc/chrony/chrony.conf

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  command -v chronyc >/dev/null || ik_die "chrony is not installed (the base_packages step installs it)"
  local dest
  dest="$(ik_file_dest infrakit.sources)"
  if grep -Eq '^[[:space:]]*server[[:space:]]' "$(ik_file infrakit.sources)" \
    && ! grep -Eq "^[[:space:]]*sourcedir[[:space:]]+$(dirname -- "${dest}")/?([[:space:]]|$)" "${CHRONY_CONF}"; then
    ik_die "${CHRONY_CONF} has no 'sourcedir $(dirname -- "${dest}")'; the planned servers would be ignored"
  fi

  ik_ensure_unit systemd-timesyncd.service disable now

  if ik_install_file infrakit.sources && ik_unit_active "${UNIT}"; then
    chronyc reload sources >&2
    ik_log "chrony sources reloaded"
  fi
  ik_ensure_unit "${UNIT}" enable now
  if (( IK_UNIT_SKIPPED )); then
    printf 'infrakit: chrony inactive reason=container-condition\n'
  fi
  ik_done
}

main "$@"
