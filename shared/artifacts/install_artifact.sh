#!/usr/bin/env bash
#
# install_artifact.sh: install one pinned release artifact, verified, side by side, switched atomically.
#
# Inputs (environment):
#   ARTIFACT_NAME      artifact name, e.g. geth (required; [a-z][a-z0-9-]*)
#   ARTIFACT_VERSION   version to run, e.g. 1.16.7 (required)
#   ARTIFACT_URL       where to download it: the lock file's URL, or the same file
#                      under the stack's artifact mirror (required, http/https)
#   ARTIFACT_SHA256    sha256 from the lock file (required; empty = not locked =
#                      refused, nothing is downloaded)
#   ARTIFACT_KIND      tar.gz | zip | binary (default tar.gz)
#   ARTIFACT_STRIP     leading path components to drop when unpacking a tar.gz
#                      (default 0)
#   ARTIFACT_BINARIES  space-separated paths inside the unpacked tree that must
#                      be executable files; for kind=binary, the one file name
#                      the download is installed as (required)
#   INSTALL_ROOT       where artifacts live (default /opt/infrakit)
#   KEEP_VERSIONS      unpacked versions kept per artifact, current and previous
#                      always among them (default 3, minimum 2)
#
# Layout: INSTALL_ROOT/NAME/VERSION/ (root-owned, not writable by others) with a
# .infrakit-artifact marker holding the verified sha256; INSTALL_ROOT/NAME/current
# and previous are symlinks, each replaced with one rename (`mv -T`).
# Order: download to a staging dir on the same filesystem, verify the sha256
# before unpacking (ik_download_verify), unpack, check the binaries, then move the
# version into place and only then swap `current`. Any failure leaves the
# running version and `current` untouched (fail closed). A version that is
# already unpacked and verified is not downloaded again, so rolling back to the
# previous version needs no network.
# Stdout: infrakit: artifact=NAME version=VERSION previous=PREVIOUS|-, then the step line.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/files.sh
source "${IK_LIB}/files.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/versions.sh
source "${IK_LIB}/versions.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/apt.sh
source "${IK_LIB}/apt.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/download.sh
source "${IK_LIB}/download.sh"

readonly MARKER=.infrakit-artifact

# Refuse archive members that are absolute or climb out of the tree.
check_members() {
  local list="$1" member
  while IFS= read -r member; do
    [[ -z "${member}" ]] && continue
    if [[ "${member}" == /* || "/${member}/" == */../* ]]; then
      ik_die "artifact ${ARTIFACT_NAME} ${ARTIFACT_VERSION}: archive member '${member}' escapes the install dir; refused"
    fi
  done < "${list}"
}

unpack() {
  local download="$1" tree="$2" list
  install -d -m 0755 -- "${tree}"
  list="${tree}.members"
  case "${ARTIFACT_KIND}" in
    tar.gz)
      tar -tzf "${download}" > "${list}" || ik_die "artifact ${ARTIFACT_NAME}: not a readable tar.gz"
      check_members "${list}"
      tar -xzf "${download}" -C "${tree}" --no-same-owner --strip-components="${ARTIFACT_STRIP}" \
        || ik_die "artifact ${ARTIFACT_NAME}: unpacking failed"
      ;;
    zip)
      unzip -Z1 "${download}" > "${list}" || ik_die "artifact ${ARTIFACT_NAME}: not a readable zip"
      check_members "${list}"
      unzip -q "${download}" -d "${tree}" || ik_die "artifact ${ARTIFACT_NAME}: unpacking failed"
      ;;
    binary)
      install -m 0755 -- "${download}" "${tree}/${BINARIES[0]}"
      ;;
  esac
  rm -f -- "${list}"
}

verified() {
  local vdir="$1" bin
  [[ -f "${vdir}/${MARKER}" ]] || return 1
  [[ "$(cat -- "${vdir}/${MARKER}")" == "${ARTIFACT_NAME} ${ARTIFACT_VERSION} sha256:${ARTIFACT_SHA256}" ]] || return 1
  for bin in "${BINARIES[@]}"; do
    [[ -f "${vdir}/${bin}" && -x "${vdir}/${bin}" ]] || return 1
  done
}

prune() {
  local root="$1" keep="$2" current previous dir
  local -a versions=()
  current="$(ik_link_target "${root}/current")"
  previous="$(ik_link_target "${root}/previous")"
  mapfile -t versions < <(find "${root}" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%T@ %f\n' \
    | sort -n | cut -d' ' -f2-)
  local count=${#versions[@]}
  for dir in "${versions[@]}"; do
    (( count > keep )) || break
    [[ "${dir}" == "${current}" || "${dir}" == "${previous}" ]] && continue
    rm -rf --one-file-system -- "${root:?}/${dir}"
    ik_log "removed old version ${ARTIFACT_NAME} ${dir}"
    count=$((count - 1))
    ik_changed
  done
}

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  : "${ARTIFACT_KIND:=tar.gz}" "${ARTIFACT_STRIP:=0}" "${INSTALL_ROOT:=/opt/infrakit}" "${KEEP_VERSIONS:=3}"
  ik_require_env ARTIFACT_NAME ARTIFACT_VERSION ARTIFACT_URL ARTIFACT_BINARIES
  ik_require_match ARTIFACT_NAME '^[a-z][a-z0-9-]{0,30}$' "an artifact name like geth"
  ik_require_match ARTIFACT_VERSION '^[0-9A-Za-z][0-9A-Za-z.+_-]{0,40}$' "a version like 1.2.3"
  ik_require_match ARTIFACT_KIND '^(tar\.gz|zip|binary)$' "tar.gz, zip or binary"
  ik_require_match ARTIFACT_STRIP '^[0-9]$' "a number 0-9"
  ik_require_match KEEP_VERSIONS '^([2-9]|[1-9][0-9])$' "a number >= 2"
  ik_require_match INSTALL_ROOT '^/[A-Za-z0-9/_.-]+$' "an absolute path"
  if [[ -z "${ARTIFACT_SHA256:-}" ]]; then
    ik_die "artifact ${ARTIFACT_NAME} ${ARTIFACT_VERSION} is not locked (no sha256 in the lock file): run \
\`infrakit lock ${ARTIFACT_NAME}@${ARTIFACT_VERSION}\` where the upstream URL is reachable, commit the lock file, \
apply again. Nothing was downloaded or changed."
  fi
  ik_require_match ARTIFACT_SHA256 '^[0-9a-f]{64}$' "a lower-case sha256 hex digest"
  local -a BINARIES=()
  local bin
  read -r -a BINARIES <<< "${ARTIFACT_BINARIES}"
  for bin in "${BINARIES[@]}"; do
    [[ "${bin}" =~ ^[A-Za-z0-9_.][A-Za-z0-9_./-]*$ && "/${bin}/" != */../* ]] \
      || ik_die "ARTIFACT_BINARIES: bad path '${bin}'"
  done
  if [[ "${ARTIFACT_KIND}" == binary ]] && (( ${#BINARIES[@]} != 1 )); then
    ik_die "ARTIFACT_BINARIES: kind=binary installs exactly one file"
  fi
  if [[ "${ARTIFACT_KIND}" == zip ]]; then
    ik_apt_install unzip
  fi

  local root="${INSTALL_ROOT}/${ARTIFACT_NAME}" vdir staging previous
  ik_ensure_dir "${INSTALL_ROOT}" 0755 root:root
  ik_ensure_dir "${root}" 0755 root:root
  vdir="${root}/${ARTIFACT_VERSION}"
  if ! verified "${vdir}"; then
    ik_tmpdir staging "${root}"
    # The sha256 is checked before anything is unpacked; a mismatch dies here.
    ik_download_verify "${ARTIFACT_URL}" "${ARTIFACT_SHA256}" "${staging}/download" 0600 || true
    unpack "${staging}/download" "${staging}/tree"
    for bin in "${BINARIES[@]}"; do
      [[ -f "${staging}/tree/${bin}" && -x "${staging}/tree/${bin}" ]] \
        || ik_die "artifact ${ARTIFACT_NAME} ${ARTIFACT_VERSION} has no executable ${bin}; nothing installed"
    done
    printf '%s %s sha256:%s\n' "${ARTIFACT_NAME}" "${ARTIFACT_VERSION}" "${ARTIFACT_SHA256}" \
      > "${staging}/tree/${MARKER}"
    chown -R root:root -- "${staging}/tree"
    chmod -R go-w -- "${staging}/tree"
    chmod 0755 -- "${staging}/tree"
    if [[ -e "${vdir}" ]]; then
      ik_warn "${vdir} exists but does not match the lock (sha256 ${ARTIFACT_SHA256:0:12}...); replacing it"
      mv -T -- "${vdir}" "${staging}/replaced"
    fi
    mv -T -- "${staging}/tree" "${vdir}"
    ik_log "installed ${ARTIFACT_NAME} ${ARTIFACT_VERSION} in ${vdir} (sha256 verified)"
    ik_changed
  fi

  previous="$(ik_link_target "${root}/current")"
  if [[ "${previous}" != "${ARTIFACT_VERSION}" ]]; then
    if [[ -n "${previous}" ]]; then
      ik_swap_link "${root}/previous" "${previous}"
    fi
    ik_swap_link "${root}/current" "${ARTIFACT_VERSION}"
    ik_log "switched ${root}/current: ${previous:-none} -> ${ARTIFACT_VERSION}"
    ik_changed
  fi
  prune "${root}" "${KEEP_VERSIONS}"
  previous="$(ik_link_target "${root}/previous")"
  printf 'infrakit: artifact=%s version=%s previous=%s\n' "${ARTIFACT_NAME}" "${ARTIFACT_VERSION}" "${previous:--}"
  ik_done
}

main "$@"
