#!/usr/bin/env bash
#
# apt_package.sh: one package at an exact version from a signed third-party apt repository, held.
#
# Inputs (environment):
#   APT_REPO             short name of the repository (required; [a-z][a-z0-9-]*): the
#                        rendered files are infrakit-APT_REPO.{asc,sources,pref}
#   APT_PACKAGE          Debian package name (required)
#   APT_VERSION          exact Debian version to run, e.g. 1.2.3-1 (required)
#   APT_ALLOW_DOWNGRADE  1 = installing an older version than the installed one is
#                        allowed; default 0 = refused before anything changes
#   APT_LOCK_TIMEOUT     seconds to wait for the dpkg lock (default 600)
# Rendered files (steps/<step>/files, destinations in files.tsv):
#   the repository's public key (/etc/apt/keyrings/infrakit-APT_REPO.asc), the deb822
#   source (/etc/apt/sources.list.d/infrakit-APT_REPO.sources) whose Signed-By names
#   that keyring AND the key's fingerprint (apt then accepts signatures by that key
#   only), and the pin (/etc/apt/preferences.d/infrakit-APT_REPO.pref): the package at
#   exactly APT_VERSION, everything else from the repository below Debian's own.
#
# Order: refuse a downgrade (installed > APT_VERSION) unless APT_ALLOW_DOWNGRADE=1;
# install the files; refresh only this repository's index with --error-on=any (a
# missing, bad or foreign signature fails here: apt refuses the repository); check
# the repository offers APT_VERSION; unhold, install PKG=APT_VERSION, hold again.
# Fail closed: any failure restores the previous key/source/pin files and re-holds
# the package, so the installed version and what apt would do next stay as before.
# A converged host (version installed, held, files unchanged) runs no apt at all.
# Stdout: infrakit: apt_package=PKG version=VERSION previous=PREVIOUS|-, then the step line.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/files.sh
source "${IK_LIB}/files.sh"

installed_version() {
  local status version
  status="$(dpkg-query -W -f='${db:Status-Abbrev}|${Version}' -- "${APT_PACKAGE}" 2>/dev/null)" || return 0
  version="${status#*|}"
  [[ "${status}" == ?i* ]] && printf '%s\n' "${version}"
  return 0
}

is_held() {
  [[ "$(apt-mark showhold -- "${APT_PACKAGE}" 2>/dev/null)" == "${APT_PACKAGE}" ]]
}

# Undo this run: the previous files, and the hold the package had.
fail() {
  local msg="$1" was_held="$2"
  ik_rollback_files
  if ((was_held)) && ! is_held; then
    apt-mark hold -- "${APT_PACKAGE}" >&2 || ik_warn "could not hold ${APT_PACKAGE} again"
  fi
  ik_die "${msg}; the previous repository files are restored and ${APT_PACKAGE} stays at ${PREVIOUS:-not installed}"
}

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  : "${APT_ALLOW_DOWNGRADE:=0}" "${APT_LOCK_TIMEOUT:=600}"
  ik_require_env APT_REPO APT_PACKAGE APT_VERSION
  ik_require_match APT_REPO '^[a-z][a-z0-9-]{0,30}$' "a repository name like monad"
  ik_require_match APT_PACKAGE '^[a-z0-9][a-z0-9+.-]+$' "a Debian package name"
  ik_require_match APT_VERSION '^([0-9]+:)?[0-9][A-Za-z0-9.+~-]{0,80}$' "a Debian version like 1.2.3-1"
  ik_require_match APT_ALLOW_DOWNGRADE '^[01]$' "0 or 1"
  ik_require_match APT_LOCK_TIMEOUT '^[0-9]+$' "a number of seconds"

  local sources="/etc/apt/sources.list.d/infrakit-${APT_REPO}.sources" was_held=0 files_changed=0 offered
  PREVIOUS="$(installed_version)"
  if [[ -n "${PREVIOUS}" && "${PREVIOUS}" != "${APT_VERSION}" ]] \
    && dpkg --compare-versions "${PREVIOUS}" gt "${APT_VERSION}" && [[ "${APT_ALLOW_DOWNGRADE}" != 1 ]]; then
    ik_die "downgrade refused: ${APT_PACKAGE} ${PREVIOUS} is installed and the stack asks for ${APT_VERSION}; \
allow it explicitly (allowDowngrade) if that is really meant. Nothing was changed."
  fi
  if is_held; then
    was_held=1
  fi
  if ik_install_all_files; then
    files_changed=1
  fi
  ik_file_entry "infrakit-${APT_REPO}.sources"
  [[ "${IK_FILE_DEST}" == "${sources}" ]] || ik_die "the rendered source must be installed as ${sources}"

  if [[ "${PREVIOUS}" != "${APT_VERSION}" ]] || ((files_changed)); then
    # Only this repository: another source's trouble must not decide, nor hide, this one's.
    if ! apt-get -q --error-on=any -o "DPkg::Lock::Timeout=${APT_LOCK_TIMEOUT}" \
      -o "Dir::Etc::SourceList=${sources}" -o Dir::Etc::SourceParts=/nonexistent \
      -o APT::Get::List-Cleanup=0 update >&2; then
      fail "apt refused repository ${APT_REPO} (missing or bad signature, a key other than the pinned \
fingerprint, or unreachable)" "${was_held}"
    fi
    offered="$(apt-cache madison -- "${APT_PACKAGE}" 2>/dev/null | awk -F'|' '{gsub(/ /, "", $2); print $2}')"
    if ! grep -qxF -- "${APT_VERSION}" <<<"${offered}"; then
      fail "repository ${APT_REPO} does not offer ${APT_PACKAGE} ${APT_VERSION} (offered: ${offered//$'\n'/ })" \
        "${was_held}"
    fi
  fi

  if [[ "${PREVIOUS}" != "${APT_VERSION}" ]]; then
    local -a downgrade=()
    if [[ "${APT_ALLOW_DOWNGRADE}" == 1 ]]; then
      downgrade=(--allow-downgrades)
    fi
    if ((was_held)); then
      apt-mark unhold -- "${APT_PACKAGE}" >&2
    fi
    if ! apt-get -y -q --no-install-recommends "${downgrade[@]}" \
      -o "DPkg::Lock::Timeout=${APT_LOCK_TIMEOUT}" -o Dpkg::Use-Pty=0 \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
      install -- "${APT_PACKAGE}=${APT_VERSION}" >&2; then
      fail "apt-get install ${APT_PACKAGE}=${APT_VERSION} failed" "${was_held}"
    fi
    [[ "$(installed_version)" == "${APT_VERSION}" ]] \
      || fail "${APT_PACKAGE} is not at ${APT_VERSION} after apt-get install" "${was_held}"
    ik_log "installed ${APT_PACKAGE} ${APT_VERSION} (was ${PREVIOUS:-not installed})"
    ik_changed
  fi
  if ! is_held; then
    apt-mark hold -- "${APT_PACKAGE}" >&2
    ik_log "held ${APT_PACKAGE} at ${APT_VERSION}"
    ik_changed
  fi
  printf 'infrakit: apt_package=%s version=%s previous=%s\n' "${APT_PACKAGE}" "${APT_VERSION}" "${PREVIOUS:--}"
  ik_done
}

PREVIOUS=""
main "$@"
