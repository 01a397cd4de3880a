#!/usr/bin/env bash
#
# versions.sh: versioned install directories: the `current` and `previous` symlinks that name
# the version in use and the one to roll back to, and the order of two versions.
# Part of the InfraKit shell library (shared/lib/, never run directly). It sources
# core.sh itself; a script sources only the modules whose functions it calls, so
# a step's hash covers exactly those (infrakit/plan/sources.py). API: shared/README.md.

# shellcheck source-path=SCRIPTDIR source=core.sh
source "${BASH_SOURCE[0]%/*}/core.sh"

[[ -n "${IK__VERSIONS_LOADED:-}" ]] && return 0
IK__VERSIONS_LOADED=1

# ik_link_target LINK: what the symlink LINK points to (a version directory's name), or ""
# when LINK is not a symlink (nothing installed yet).
ik_link_target() {
  local link="$1"
  if [[ -L "${link}" ]]; then
    readlink -- "${link}"
  fi
}

# ik_swap_link LINK TARGET: point LINK at TARGET with one rename, so LINK never is missing
# or half-written (a service started meanwhile sees the old or the new version).
ik_swap_link() {
  local link="$1" target="$2" tmp
  tmp="$(dirname -- "${link}")/.$(basename -- "${link}").$$"
  ln -sfn -- "${target}" "${tmp}"
  mv -fT -- "${tmp}" "${link}"
}

# ik_version_gt A B: true when version A sorts after B, compared the Debian way
# (dpkg --compare-versions); a semver pre-release (1.0.0-rc.1) sorts before its release.
ik_version_gt() {
  dpkg --compare-versions "${1/-/\~}" gt "${2/-/\~}"
}
