#!/usr/bin/env bash
#
# services.sh: Monad's services enabled and running in order, with a fresh TrieDB
# initialised once first (monad-mpt), and restarted when their config changed.
#
# Inputs (environment):
#   SERVICES   units to enable and start, in this order (required), e.g.
#              "otelcol.service monad-execution.service monad-bft.service monad-rpc.service"
#   TIMERS     timers to enable and start (default "monad-cruft.timer")
#   MPT_UNIT   the one-time TrieDB initialisation (default monad-mpt.service)
#   MPT_FLAG   set by the TrieDB step when it created a partition (default
#              /var/lib/infrakit/monad/triedb-needs-init): only then MPT_UNIT runs
#   STAMP      where the fingerprint of what the services run is kept (default
#              /var/lib/infrakit/monad/services.fingerprint)
# Running units are restarted only when what they run changed since they were last
# (re)started here: the installed monad version, the env file, node.toml, the keystores or
# the units. A re-run with nothing changed (`infrakit apply`, drift checks) restarts nothing.
# Stdout: infrakit: monad_services started=<units> restarted=<units> mpt=<ran|skipped>
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../../../shared/lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/systemd.sh
source "${IK_LIB}/systemd.sh"

# The installed version and the bytes of everything the services read, in either layout.
fingerprint() {
  local path
  dpkg-query -W -f='${Version}\n' monad 2>/dev/null || printf 'not-installed\n'
  for path in /etc/monad/env /etc/monad/node.toml /var/lib/monad/private/id-secp /var/lib/monad/private/id-bls \
    /home/monad/.env /home/monad/monad-bft/config/node.toml /home/monad/monad-bft/config/id-secp \
    /home/monad/monad-bft/config/id-bls; do
    if [[ -f "${path}" ]]; then
      sha256sum -- "${path}"
    fi
  done
  local -a units
  read -r -a units <<<"${SERVICES}"
  systemctl cat -- "${units[@]}" 2>/dev/null | sha256sum
}

main() {
  ik_args "$@"
  ik_require_root
  : "${TIMERS:=monad-cruft.timer}" "${MPT_UNIT:=monad-mpt.service}"
  : "${MPT_FLAG:=/var/lib/infrakit/monad/triedb-needs-init}" "${STAMP:=/var/lib/infrakit/monad/services.fingerprint}"
  ik_require_env SERVICES
  ik_require_match SERVICES '^([A-Za-z0-9_.@-]+\.service ?)+$' "a list of service units"
  ik_require_match TIMERS '^([A-Za-z0-9_.@-]+\.timer ?)*$' "a list of timer units"
  ik_require_match MPT_UNIT '^[A-Za-z0-9_.@-]+\.service$' "a service unit"

  ik_require_match STAMP '^/[A-Za-z0-9._/-]+$' "an absolute path"
  systemctl daemon-reload
  local unit mpt=skipped started=() restarted=() now_print old_print=""
  now_print="$(fingerprint | sha256sum | cut -d' ' -f1)"
  if [[ -f "${STAMP}" ]]; then
    read -r old_print <"${STAMP}" || true
  fi
  if [[ -f "${MPT_FLAG}" ]]; then
    # a oneshot: `start` returns when it finished, and fails if it failed
    local unit_
    for unit_ in ${SERVICES}; do
      if ik_unit_active "${unit_}" && [[ "${unit_}" == monad-* ]]; then
        ik_die "${MPT_FLAG} asks for a TrieDB initialisation while ${unit_} runs; stop the monad services first"
      fi
    done
    systemctl start -- "${MPT_UNIT}" >&2 || {
      journalctl --no-pager -n 30 -u "${MPT_UNIT}" >&2 || true
      ik_die "${MPT_UNIT} failed to initialise the TrieDB device"
    }
    rm -f -- "${MPT_FLAG}"
    mpt=ran
    ik_changed
  fi
  for unit in ${SERVICES}; do
    if ik_unit_active "${unit}" && [[ "${now_print}" != "${old_print}" ]]; then
      systemctl restart -- "${unit}" >&2
      ik_wait_active "${unit}" 60 || ik_die "${unit} did not come back after a restart"
      restarted+=("${unit}")
      ik_changed
    elif ! ik_unit_active "${unit}"; then
      ik_ensure_unit "${unit}" enable now
      started+=("${unit}")
    fi
    ik_ensure_unit "${unit}" enable
  done
  if [[ "${now_print}" != "${old_print}" ]]; then
    mkdir -p -- "${STAMP%/*}"
    printf '%s\n' "${now_print}" >"${STAMP}"
  fi
  for unit in ${TIMERS}; do
    ik_ensure_unit "${unit}" enable now
  done
  printf 'infrakit: monad_services started=%s restarted=%s mpt=%s\n' \
    "$(
      IFS=,
      printf '%s' "${started[*]:--}"
    )" "$(
      IFS=,
      printf '%s' "${restarted[*]:--}"
    )" "${mpt}"
  ik_done
}

main "$@"
