#!/usr/bin/env bash
#
# rollback_guard.sh: refuse to install an older client release than the one running when its
# database cannot go back (before any artifact step switches `current`).
#
# Inputs (environment):
#   ARTIFACTS     space-separated NAME=VERSION:POLICY:SCHEMA entries, one per artifact
#                 the plan installs, e.g.
#                 "lighthouse=8.3.2:within-schema:8.3.0 geth=1.17.10:never:-" (required)
#                 POLICY any           every downgrade is fine (no database)
#                        within-schema a downgrade is refused when it crosses a release in
#                                      SCHEMA (comma-separated: database migrations)
#                        never         every downgrade is refused (no schema history known)
#   INSTALL_ROOT  where artifacts live; the running release is INSTALL_ROOT/NAME/current
#                 (default /opt/infrakit)
#
# A first install (no `current`) and an upgrade always pass. Nothing is changed on the host:
# the step only refuses. What to do instead is in runbooks/ethereum.md ("Roll back").
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../../../shared/lib/core.sh"

readonly ENTRY_RE='^([a-z][a-z0-9-]{0,30})=([0-9A-Za-z][0-9A-Za-z.+_-]{0,40}):(any|within-schema|never):([0-9A-Za-z.,+_-]+)$'

# version_lt A B: true when A sorts before B as a version (sort -V).
version_lt() {
  [[ "$1" != "$2" && "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" == "$1" ]]
}

check_one() {
  local name="$1" target="$2" policy="$3" schemas="$4" current floor
  local -a floors
  current="$(readlink -- "${INSTALL_ROOT}/${name}/current" 2>/dev/null || true)"
  if [[ -z "${current}" ]] || ! version_lt "${target}" "${current}"; then
    return 0
  fi
  case "${policy}" in
    any)
      ik_log "${name}: downgrade ${current} -> ${target} is safe (no database)"
      ;;
    never)
      ik_die "refusing to downgrade ${name} ${current} -> ${target}: ${name}'s database cannot be rolled back \
safely (no downgrade path is documented for it). Keep ${current}, or stop the client, remove its data dir and \
let it sync again with ${target} (runbooks/ethereum.md, Roll back)"
      ;;
    within-schema)
      IFS=, read -r -a floors <<<"${schemas}"
      for floor in "${floors[@]}"; do
        [[ "${floor}" == - ]] && continue
        if version_lt "${target}" "${floor}" && ! version_lt "${current}" "${floor}"; then
          ik_die "refusing to downgrade ${name} ${current} -> ${target}: ${floor} migrated the database and \
${target} cannot read it. Roll back only to ${floor} or later, or follow the client's own downgrade procedure \
first (runbooks/ethereum.md, Roll back)"
        fi
      done
      ik_log "${name}: downgrade ${current} -> ${target} stays within one database schema"
      ;;
  esac
}

main() {
  ik_args "$@"
  ik_require_root
  : "${INSTALL_ROOT:=/opt/infrakit}"
  ik_require_env ARTIFACTS
  ik_require_match INSTALL_ROOT '^/[A-Za-z0-9/_.-]+$' "an absolute path"
  local entry
  local -a entries
  read -r -a entries <<<"${ARTIFACTS}"
  for entry in "${entries[@]}"; do
    [[ "${entry}" =~ ${ENTRY_RE} ]] || ik_die "ARTIFACTS: bad entry '${entry}' (NAME=VERSION:POLICY:SCHEMA)"
    check_one "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "${BASH_REMATCH[3]}" "${BASH_REMATCH[4]}"
  done
  ik_done
}

main "$@"
