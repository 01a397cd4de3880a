#!/usr/bin/env bash
#
# install_env.sh: an environment file = the rendered, non-secret part + the step's secrets.
#
# Inputs (environment):
#   the secrets named in $IK_STEP_DIR/secrets (run_step.sh reads them from
#   stdin and exports them; each is required and must be one line)
# Rendered files (files.tsv; exactly one):
#   e.g. node.env -> /etc/infrakit/node.env (mode/owner from files.tsv, 0600 root)
#
# Writes DEST = rendered content + one NAME=value line per secret, atomically,
# with the mode and owner from files.tsv; changed only if the result differs.
# The assembled file is built next to DEST (mode 0600) and no backup copy of
# the previous file is kept: secret values land nowhere else and are never
# printed.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/files.sh
source "${IK_LIB}/files.sh"

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  local name src dir tmp value secrets_file
  local -a names=() secret_names=()
  mapfile -t names < <(ik_file_names)
  (( ${#names[@]} == 1 )) || ik_die "expected exactly one rendered file in files.tsv, found ${#names[@]}"
  src="$(ik_file "${names[0]}")"
  ik_file_entry "${names[0]}"
  secrets_file="${IK_STEP_DIR}/secrets"
  if [[ -f "${secrets_file}" ]]; then
    while IFS= read -r name || [[ -n "${name}" ]]; do
      [[ -z "${name}" ]] && continue
      [[ "${name}" =~ ^[A-Z][A-Z0-9_]*$ ]] || ik_die "bad secret name '${name}' in ${secrets_file}"
      secret_names+=("${name}")
    done < "${secrets_file}"
  fi
  if (( ${#secret_names[@]} )) && [[ "${IK_FILE_MODE}" != "0600" && "${IK_FILE_MODE}" != "0400" ]]; then
    ik_die "${IK_FILE_DEST} would hold secrets but its mode is ${IK_FILE_MODE}; expected 0600 or 0400"
  fi
  for name in "${secret_names[@]}"; do
    ik_require_env "${name}"
    value="${!name}"
    [[ "${value}" != *$'\n'* && "${value}" != *$'\r'* ]] || ik_die "secret ${name} contains a line break"
  done

  dir="$(dirname -- "${IK_FILE_DEST}")"
  [[ -d "${dir}" ]] || install -d -m 0755 -o root -g root -- "${dir}"
  umask 077
  ik_tmpfile tmp "${dir}"
  {
    cat -- "${src}"
    [[ -z "$(tail -c 1 -- "${src}")" ]] || printf '\n'
    for name in "${secret_names[@]}"; do
      printf '%s=%s\n' "${name}" "${!name}"
    done
  } > "${tmp}"
  IK_ROLLBACK=0
  if ik_write_file "${tmp}" "${IK_FILE_DEST}" "${IK_FILE_MODE}" "${IK_FILE_OWNER}"; then
    ik_log "${IK_FILE_DEST} updated (${#secret_names[@]} secret(s), values not shown)"
  fi
  ik_done
}

main "$@"
