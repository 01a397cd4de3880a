#!/usr/bin/env bash
#
# prepare.sh: service accounts, data directories, the engine-API JWT secret and the operator tools.
#
# Inputs (environment):
#   SERVICE_USERS  space-separated system users to create, one per service, e.g.
#                  "eth-execution eth-beacon eth-validator eth-mevboost" (required)
#   JWT_READERS    space-separated users that may read the JWT secret (EL and CL
#                  only) (required)
#   JWT_GROUP      group owning the JWT secret (default eth-jwt)
#   JWT_FILE       path of the secret (default /etc/ethereum/jwt.hex)
#   DATA_ROOT      parent of the data directories (default /var/lib/ethereum)
#   DATA_DIRS      space-separated user:dir pairs, each dir under DATA_ROOT,
#                  created 0700 and owned by that user, e.g.
#                  "eth-execution:execution eth-beacon:beacon" (required)
# Rendered files (files.tsv): the operator tools and their settings, e.g.
#   ik-eth-validator -> /usr/local/sbin/ik-eth-validator (0755)
#   ethereum.env     -> /etc/infrakit/ethereum.env (0644, no secrets)
#   lighthouse-builder-definitions.yml | prysm-proposer-settings.json
#                    -> /etc/infrakit/eth-builders/ (0644: ePBS builder URLs and the fee
#                       recipient, public; the validator client reads it, see builders.py)
#
# The JWT secret is 32 random bytes, hex, generated on the host the first time
# and never replaced afterwards (so EL and CL keep agreeing); it never leaves
# the host and no InfraKit output prints it. Mode 0640 root:JWT_GROUP, the
# directory 0750 root:JWT_GROUP; only JWT_READERS are in JWT_GROUP. Users are
# system accounts without a login shell or home; other users are never touched.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../../../shared/lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/files.sh
source "${IK_LIB}/files.sh"

readonly USER_RE='^eth-[a-z]{2,20}$'

ensure_user() {
  local user="$1"
  if ! id -u "${user}" >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      --comment "InfraKit Ethereum service ${user}" -- "${user}"
    ik_log "created system user ${user}"
    ik_changed
  fi
}

ensure_group_members() {
  local group="$1" user member
  shift
  local -A want=()
  for user in "$@"; do
    want[${user}]=1
    if ! id -nG "${user}" | tr ' ' '\n' | grep -qx -- "${group}"; then
      usermod -a -G "${group}" -- "${user}"
      ik_log "added ${user} to ${group}"
      ik_changed
    fi
  done
  for member in $(getent group "${group}" | cut -d: -f4 | tr ',' ' '); do
    if [[ -z "${want[${member}]:-}" ]]; then
      gpasswd -d "${member}" "${group}" >/dev/null
      ik_log "removed ${member} from ${group} (not an EL/CL service user)"
      ik_changed
    fi
  done
}

ensure_jwt() {
  local dir tmp
  dir="$(dirname -- "${JWT_FILE}")"
  ik_ensure_dir "${dir}" 0750 "root:${JWT_GROUP}"
  if [[ ! -s "${JWT_FILE}" ]]; then
    umask 077
    tmp="$(mktemp "${dir}/.jwt.XXXXXXXX")"
    od -An -v -tx1 -N32 /dev/urandom | tr -d ' \n' > "${tmp}"
    [[ "$(wc -c < "${tmp}")" == 64 ]] || { rm -f -- "${tmp}"; ik_die "could not generate the JWT secret"; }
    chown "root:${JWT_GROUP}" "${tmp}"
    chmod 0640 "${tmp}"
    mv -fT -- "${tmp}" "${JWT_FILE}"
    ik_log "generated the engine API JWT secret ${JWT_FILE} (value not shown)"
    ik_changed
  fi
  grep -qE '^(0x)?[0-9a-f]{64}$' "${JWT_FILE}" || ik_die "${JWT_FILE} is not a 32-byte hex secret; remove it to regenerate"
  if [[ "$(stat -c '%a %U:%G' -- "${JWT_FILE}")" != "640 root:${JWT_GROUP}" ]]; then
    chown "root:${JWT_GROUP}" "${JWT_FILE}"
    chmod 0640 "${JWT_FILE}"
    ik_log "set ${JWT_FILE} to 0640 root:${JWT_GROUP}"
    ik_changed
  fi
}

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  : "${JWT_GROUP:=eth-jwt}" "${JWT_FILE:=/etc/ethereum/jwt.hex}" "${DATA_ROOT:=/var/lib/ethereum}"
  ik_require_env SERVICE_USERS JWT_READERS DATA_DIRS
  ik_require_match JWT_GROUP '^eth-[a-z]{2,20}$' "a group name like eth-jwt"
  ik_require_match JWT_FILE '^/[A-Za-z0-9/_.-]+$' "an absolute path"
  ik_require_match DATA_ROOT '^/[A-Za-z0-9/_.-]+$' "an absolute path"
  local user pair dir
  local -a users readers pairs
  read -r -a users <<< "${SERVICE_USERS}"
  read -r -a readers <<< "${JWT_READERS}"
  read -r -a pairs <<< "${DATA_DIRS}"
  for user in "${users[@]}" "${readers[@]}"; do
    [[ "${user}" =~ ${USER_RE} ]] || ik_die "bad service user name '${user}' (expected eth-<name>)"
  done

  for user in "${users[@]}"; do
    ensure_user "${user}"
  done
  if ! getent group "${JWT_GROUP}" >/dev/null; then
    groupadd --system -- "${JWT_GROUP}"
    ik_log "created group ${JWT_GROUP}"
    ik_changed
  fi
  ensure_group_members "${JWT_GROUP}" "${readers[@]}"
  ensure_jwt

  ik_ensure_dir "${DATA_ROOT}" 0755 root:root
  for pair in "${pairs[@]}"; do
    [[ "${pair}" =~ ^(eth-[a-z]{2,20}):([a-z]{2,20})$ ]] || ik_die "DATA_DIRS: bad entry '${pair}' (user:dir)"
    user="${BASH_REMATCH[1]}"
    dir="${DATA_ROOT}/${BASH_REMATCH[2]}"
    ik_ensure_dir "${dir}" 0700 "${user}:${user}"
  done

  if ik_install_all_files; then
    ik_log "operator tools and settings updated"
  fi
  ik_done
}

main "$@"
