#!/usr/bin/env bash
#
# validator_state.sh: keep the validator client disabled until the stack enables it, refuse to
# enable it without keys imported into THIS client, and restart it only when its own unit
# (flags or binary) changed.
#
# Inputs (environment):
#   UNIT           the validator client's unit (default eth-validator.service)
#   ENABLED        1 = enable and start it; 0 = make sure it is disabled and
#                  stopped (required)
#   CLIENT         the validator client the unit runs, e.g. lighthouse (required)
#   UNIT_DIGEST    sha256 of the rendered unit (64 hex digits, required): when it
#                  differs from the one the running client was started with, the
#                  client is restarted (its own binary or flags changed), never otherwise
#   KEYS_MARKER    file written by `ik-eth-validator import-keys` (default
#                  /var/lib/ethereum/validator/.infrakit-keys-imported); its line
#                  client=<name> says which client holds the keys and history
#   STAMP          where the digest of the running unit is kept (default
#                  /var/lib/infrakit/state/eth-validator.digest)
#   STOP_STATUSES  the client's doppelganger exit statuses (its RestartPreventExitStatus),
#                  e.g. "129" (required): a validator that failed with one of them is not
#                  started again by an apply either, until an operator clears it
#
# Phase 1 of a validator (ENABLED=0) installs everything but this client. Phase 2
# (ENABLED=1) starts it only if KEYS_MARKER names CLIENT; keys imported into another client
# (the stack's consensus client changed) stop and disable the unit and say how to migrate
# (`ik-eth-validator migrate-from`), so a client never runs without its keys and slashing
# history, and two clients never run. With doppelganger protection on (the default) every
# (re)start costs 2-3 epochs without duties, so a restart happens only when the unit changed.
# Stdout: infrakit: validator=enabled|disabled, then the step line.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../../../shared/lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/systemd.sh
source "${IK_LIB}/systemd.sh"
# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/files.sh
source "${IK_LIB}/files.sh"

marker_client() {
  sed -n 's/^client=\([a-z]*\)$/\1/p' -- "${KEYS_MARKER}" 2>/dev/null | head -n1
}

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  : "${UNIT:=eth-validator.service}" "${KEYS_MARKER:=/var/lib/ethereum/validator/.infrakit-keys-imported}"
  : "${STAMP:=/var/lib/infrakit/state/eth-validator.digest}"
  ik_require_env ENABLED CLIENT UNIT_DIGEST STOP_STATUSES
  ik_require_match STOP_STATUSES '^[0-9]{1,3}( [0-9]{1,3})*$' "exit statuses like '1' or '129'"
  ik_require_match ENABLED '^[01]$' "0 or 1"
  ik_require_match UNIT '^eth-[a-z]+\.service$' "an eth-*.service unit"
  ik_require_match CLIENT '^[a-z]{2,20}$' "a client name"
  ik_require_match UNIT_DIGEST '^[0-9a-f]{64}$' "a sha256"
  ik_require_match STAMP '^/[A-Za-z0-9/_.-]+$' "an absolute path"
  ik_unit_exists "${UNIT}" || ik_die "${UNIT} is not installed"
  if ((! ENABLED)); then
    ik_ensure_unit "${UNIT}" disable now
    printf 'infrakit: validator=disabled\n'
    ik_done
    return 0
  fi
  if [[ ! -f "${KEYS_MARKER}" ]]; then
    ik_die "refusing to enable ${UNIT}: no validator keys were imported (${KEYS_MARKER} is missing). Import them \
with \`sudo ik-eth-validator import-keys --keys-dir DIR --password-file FILE\` (and any slashing-protection \
history with \`sudo ik-eth-validator slashing-import FILE\`), then apply again."
  fi
  local holder
  holder="$(marker_client)"
  if [[ -z "${holder}" ]]; then
    ik_die "refusing to (re)start ${UNIT}: ${KEYS_MARKER} does not say which client holds the keys (written by an \
older InfraKit). Check with \`sudo ik-eth-validator status\`; if the keys are in ${CLIENT}, record it with \
\`sudo ik-eth-validator mark-imported ${CLIENT}\` and apply again."
  fi
  if [[ "${holder}" != "${CLIENT}" ]]; then
    ik_ensure_unit "${UNIT}" disable now
    ik_die "the stack now runs ${CLIENT}, but the keys and slashing history are in ${holder}: ${UNIT} is stopped \
and disabled (a client without its history must never sign). Migrate with \`sudo ik-eth-validator migrate-from \
${holder} --keys-dir DIR --password-file FILE\` (exports ${holder}'s EIP-3076 history, imports keys and history into \
${CLIENT}), then apply again. runbooks/ethereum.md, 'Change the consensus client'."
  fi
  local state status
  state="$(systemctl show -p ActiveState --value -- "${UNIT}" 2>/dev/null || true)"
  status="$(systemctl show -p ExecMainStatus --value -- "${UNIT}" 2>/dev/null || true)"
  if [[ "${state}" == failed && " ${STOP_STATUSES} " == *" ${status} "* ]]; then
    ik_die "refusing to start ${UNIT}: it stopped with exit status ${status}, the status ${CLIENT} uses when \
doppelganger protection finds these keys live elsewhere. Find the other signer (journalctl -u ${UNIT}); only when \
it is certainly gone: \`sudo systemctl reset-failed ${UNIT}\` and apply again."
  fi
  local running=""
  [[ -f "${STAMP}" ]] && running="$(cat -- "${STAMP}")"
  if ik_unit_active "${UNIT}" && [[ -n "${running}" && "${running}" != "${UNIT_DIGEST}" ]]; then
    systemctl restart -- "${UNIT}"
    ik_log "restarted ${UNIT}: its own unit or binary changed (doppelganger protection waits 2-3 epochs again)"
    ik_changed
  fi
  ik_ensure_unit "${UNIT}" enable now
  if [[ "${running}" != "${UNIT_DIGEST}" ]]; then
    local tmp
    ik_tmpfile tmp
    printf '%s\n' "${UNIT_DIGEST}" >"${tmp}"
    ik_write_file "${tmp}" "${STAMP}" 0644 root:root
  fi
  printf 'infrakit: validator=enabled\n'
  ik_done
}

main "$@"
