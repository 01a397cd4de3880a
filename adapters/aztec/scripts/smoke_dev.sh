#!/usr/bin/env bash
#
# smoke_dev.sh: prove the developer's toolchain works, run as the developer (not root).
#
# Inputs (environment):
#   DEV_USER       the developer's account (required)
#   AZTEC_VERSION  the pinned @aztec/aztec version `aztec --version` must print (required)
#   ANVIL_VERSION  the pinned anvil version `anvil --version` must report (empty = not installed)
#   OS_OVERRIDE    none (default): the prover binary must run too (`aztec compute-selector`
#                  goes through bb); debian-12-lab: report whether it runs, do not fail
# The Noir compiler (nargo, which `aztec compile` calls) is not published on npm, so no sample
# contract is built here: the line below says whether one is on the developer's PATH.
# Read-only: it changes nothing, so it reports changed=0.
# Stdout: infrakit: aztec_dev_smoke aztec=<v> anvil=<v|-> bb=<ok|unavailable> nargo=<path|absent>
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../../../shared/lib/core.sh"

as_dev() {
  local home
  home="$(getent passwd "${DEV_USER}" | cut -d: -f6)"
  (cd / && runuser -u "${DEV_USER}" -- env -i HOME="${home}" LC_ALL=C \
    PATH=/usr/local/bin:/usr/bin:/bin "$@")
}

main() {
  ik_args "$@"
  ik_require_root
  : "${ANVIL_VERSION:=}" "${OS_OVERRIDE:=none}"
  ik_require_env DEV_USER AZTEC_VERSION
  ik_require_match DEV_USER '^[a-z_][a-z0-9_-]{0,31}$' "a user name"
  ik_require_match AZTEC_VERSION '^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$' "an exact version"
  ik_require_match ANVIL_VERSION '^([0-9]+\.[0-9]+\.[0-9]+)?$' "an exact version or empty"
  ik_require_match OS_OVERRIDE '^(none|debian-12-lab)$' "none or debian-12-lab"
  id -u "${DEV_USER}" >/dev/null 2>&1 || ik_die "developer account ${DEV_USER} does not exist"

  local found anvil="-" bb=unavailable nargo=absent selector
  found="$(as_dev aztec --version 2>&1)" || ik_die "aztec --version failed as ${DEV_USER}: ${found}"
  [[ "${found}" == "${AZTEC_VERSION}" ]] || ik_die "aztec --version says '${found}', the stack pins ${AZTEC_VERSION}"
  if [[ -n "${ANVIL_VERSION}" ]]; then
    anvil="$(as_dev anvil --version 2>&1 | head -n 1)" || ik_die "anvil --version failed as ${DEV_USER}: ${anvil}"
    [[ "${anvil}" == "anvil Version: ${ANVIL_VERSION}" ]] \
      || ik_die "anvil --version says '${anvil}', the plan pins ${ANVIL_VERSION}"
    anvil="${ANVIL_VERSION}"
  fi
  # compute-selector hashes with Poseidon2 in bb, the native prover: the binary must load.
  if selector="$(as_dev aztec compute-selector 'transfer(Field)' 2>&1)" && [[ "${selector}" =~ 0x[0-9a-f]{8} ]]; then
    bb=ok
  elif [[ "${OS_OVERRIDE}" == debian-12-lab ]]; then
    ik_warn "bb (the prover) cannot run on this host (lab override): ${selector##*$'\n'}"
  else
    ik_die "aztec compute-selector failed as ${DEV_USER} (the prover binary bb): ${selector##*$'\n'}"
  fi
  nargo="$(as_dev sh -c 'command -v nargo' 2>/dev/null)" || nargo=absent
  printf 'infrakit: aztec_dev_smoke aztec=%s anvil=%s bb=%s nargo=%s\n' "${found}" "${anvil}" "${bb}" "${nargo}"
  ik_done
}

main "$@"
