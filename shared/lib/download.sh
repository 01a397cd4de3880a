#!/usr/bin/env bash
#
# download.sh: download a file and verify its sha256 before it lands.
# Part of the InfraKit shell library (shared/lib/, never run directly). It sources
# core.sh itself; a script sources only the modules whose functions it calls, so
# a step's hash covers exactly those (infrakit/plan/sources.py). API: shared/README.md.

# shellcheck source-path=SCRIPTDIR source=core.sh
source "${BASH_SOURCE[0]%/*}/core.sh"

[[ -n "${IK__DOWNLOAD_LOADED:-}" ]] && return 0
IK__DOWNLOAD_LOADED=1

# ik_download_verify URL SHA256 DEST [MODE]: DEST has exactly that sha256.
# Downloads to a temp file next to DEST, verifies, then renames; a mismatch
# dies and leaves nothing behind. Predicate: 0 downloaded, 1 already there.
ik_download_verify() {
  local url="$1" want="${2,,}" dest="$3" mode="${4:-0644}" dir tmp got
  [[ "${url}" =~ ^https?://[^[:space:]]+$ ]] || ik_die "ik_download_verify: bad URL '${url}'"
  [[ "${want}" =~ ^[0-9a-f]{64}$ ]] || ik_die "ik_download_verify: '${2}' is not a sha256 hex digest"
  [[ "${dest}" == /* && "${dest}" != */ ]] || ik_die "ik_download_verify: bad destination '${dest}'"
  [[ "${mode}" =~ ${IK__MODE_RE} ]] || ik_die "ik_download_verify: bad mode '${mode}'"
  if [[ -f "${dest}" ]]; then
    got="$(sha256sum -- "${dest}")" || ik_die "cannot hash ${dest}"
    if [[ "${got%% *}" == "${want}" ]]; then
      return 1
    fi
  fi
  dir="$(dirname -- "${dest}")"
  [[ -d "${dir}" ]] || install -d -m 0755 -o root -g root -- "${dir}" || ik_die "cannot create ${dir}"
  ik_tmpfile tmp "${dir}"
  ik_log "downloading ${url}"
  if ! curl --fail --silent --show-error --location --proto '=https,http' \
    --retry 5 --retry-delay 3 --retry-connrefused --connect-timeout 20 \
    --max-time "${IK_DOWNLOAD_TIMEOUT:-1800}" --output "${tmp}" -- "${url}"; then
    rm -f -- "${tmp}"
    ik_die "download failed: ${url}"
  fi
  got="$(sha256sum -- "${tmp}")" || {
    rm -f -- "${tmp}"
    ik_die "cannot hash the download"
  }
  if [[ "${got%% *}" != "${want}" ]]; then
    rm -f -- "${tmp}"
    ik_die "sha256 mismatch for ${url}: expected ${want}, got ${got%% *}; nothing installed"
  fi
  if ! { chmod -- "${mode}" "${tmp}" && mv -fT -- "${tmp}" "${dest}"; }; then
    rm -f -- "${tmp}"
    ik_die "cannot install ${dest}"
  fi
  ik_log "installed ${dest} (sha256 ${want:0:12}...)"
  ik_changed
  return 0
}
