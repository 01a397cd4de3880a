#!/usr/bin/env bash
#
# validator_state.sh: keep the validator client disabled until the stack enables it, and
# refuse to enable it without imported keys.
#
# Inputs (environment):
#   UNIT           the validator client's unit (default eth-validator.service)
#   ENABLED        1 = enable and start it; 0 = make sure it is disabled and
#                  stopped (required)
#   KEYS_MARKER    file written by `ik-eth-validator import-keys` when keys were
#                  imported (default /var/lib/ethereum/validator/.infrakit-keys-imported)
#
# Phase 1 of a validator (ENABLED=0) installs everything but this client. Phase 2
# (ENABLED=1) starts it only if KEYS_MARKER exists; otherwise it fails and says
# which command imports the keys. With doppelganger protection on (the default)
# the client then waits 2-3 epochs before signing.
# Stdout: infrakit: validator=enabled|disabled, then the step line.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../../../shared/lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/systemd.sh
source "${IK_LIB}/systemd.sh"

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  : "${UNIT:=eth-validator.service}" "${KEYS_MARKER:=/var/lib/ethereum/validator/.infrakit-keys-imported}"
  ik_require_env ENABLED
  ik_require_match ENABLED '^[01]$' "0 or 1"
  ik_require_match UNIT '^eth-[a-z]+\.service$' "an eth-*.service unit"
  ik_unit_exists "${UNIT}" || ik_die "${UNIT} is not installed"
  if (( ENABLED )); then
    if [[ ! -f "${KEYS_MARKER}" ]]; then
      ik_die "refusing to enable ${UNIT}: no validator keys were imported (${KEYS_MARKER} is missing). Import them \
with \`sudo ik-eth-validator import-keys --keys-dir DIR --password-file FILE\` (and any slashing-protection \
history with \`sudo ik-eth-validator slashing-import FILE\`), then apply again."
    fi
    ik_ensure_unit "${UNIT}" enable now
    printf 'infrakit: validator=enabled\n'
  else
    ik_ensure_unit "${UNIT}" disable now
    printf 'infrakit: validator=disabled\n'
  fi
  ik_done
}

main "$@"
