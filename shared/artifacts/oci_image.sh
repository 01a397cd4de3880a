#!/usr/bin/env bash
#
# oci_image.sh: run one OCI image, addressed by its manifest digest, as a systemd unit.
#
# Inputs (environment):
#   OCI_NAME             image name (required; [a-z][a-z0-9-]*): INSTALL_ROOT/OCI_NAME/
#   OCI_VERSION          the image's version label, e.g. 1.2.3 (required): what a
#                        downgrade is judged by
#   OCI_DIGEST           sha256:<64 hex> of the image manifest (required): the identity
#   OCI_ARCHIVE_URL      http(s) URL of an OCI image layout as a tar (an "oci-archive",
#                        e.g. `skopeo copy ... oci-archive:x.tar`) that holds that
#                        manifest (required)
#   OCI_UNIT             the unit that runs it (required; its file is this step's
#                        rendered file, RootDirectory=INSTALL_ROOT/OCI_NAME/<digest>/rootfs:
#                        systemd refuses a RootDirectory through the `current` symlink)
#   OCI_ALLOW_DOWNGRADE  1 = a lower OCI_VERSION than the running one is allowed;
#                        default 0 = refused before anything changes
#   INSTALL_ROOT         default /opt/infrakit/oci
#   KEEP_VERSIONS        unpacked images kept, current and previous always (default 3)
#
# The runtime is systemd itself (no container engine, no daemon, no bridge): umoci
# (Debian's) unpacks the image into INSTALL_ROOT/NAME/<digest>/rootfs and the unit
# runs it with RootDirectory= and systemd's sandboxing in the host's own network
# namespace, so the host firewall filters it like any other service.
# Verification: the manifest blob must exist in the layout and hash to OCI_DIGEST
# (this script), and every blob it names (config, layers) must match its digest
# (umoci checks while unpacking). Any mismatch: nothing is installed, `current`
# and the running unit stay as they were. The new image is started by installing
# its unit, switching `current` and restarting; if it does not stay up, the
# previous unit file and `current` come back and the previous image is restarted.
# Stdout: infrakit: oci_image=NAME version=VERSION digest=DIGEST previous=VERSION|-,
# then the step line.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/files.sh
source "${IK_LIB}/files.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/versions.sh
source "${IK_LIB}/versions.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/apt.sh
source "${IK_LIB}/apt.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/systemd.sh
source "${IK_LIB}/systemd.sh"

readonly MARKER=.infrakit-oci
readonly REF=infrakit-pinned
readonly OCI_MANIFEST_TYPE=application/vnd.oci.image.manifest.v1+json

marker_version() {
  local file="$1/${MARKER}" name version digest
  [[ -f "${file}" ]] || return 0
  read -r name version digest <"${file}" || true
  [[ "${name}" == "${OCI_NAME}" && -n "${digest}" ]] && printf '%s\n' "${version}"
  return 0
}

verified() {
  [[ -f "$1/${MARKER}" && -d "$1/rootfs" ]] \
    && [[ "$(cat -- "$1/${MARKER}")" == "${OCI_NAME} ${OCI_VERSION} ${OCI_DIGEST}" ]]
}

# Download the archive, check the manifest digest, unpack with umoci into BUNDLE.
fetch_and_unpack() {
  local staging="$1" hex="${OCI_DIGEST#sha256:}" layout blob got size member
  layout="${staging}/layout"
  ik_log "downloading ${OCI_ARCHIVE_URL}"
  curl --fail --silent --show-error --location --proto '=https,http' --retry 5 --retry-delay 3 \
    --retry-connrefused --connect-timeout 20 --max-time "${IK_DOWNLOAD_TIMEOUT:-1800}" \
    --output "${staging}/image.tar" -- "${OCI_ARCHIVE_URL}" || ik_die "download failed: ${OCI_ARCHIVE_URL}"
  tar -tf "${staging}/image.tar" >"${staging}/members" || ik_die "image ${OCI_NAME}: not a readable tar"
  while IFS= read -r member; do
    if [[ "${member}" == /* || "/${member}/" == */../* ]]; then
      ik_die "image ${OCI_NAME}: archive member '${member}' escapes the layout; refused"
    fi
  done <"${staging}/members"
  install -d -m 0700 -- "${layout}"
  tar -xf "${staging}/image.tar" -C "${layout}" --no-same-owner --no-same-permissions \
    || ik_die "image ${OCI_NAME}: unpacking the archive failed"
  rm -f -- "${staging}/image.tar"
  [[ -f "${layout}/oci-layout" ]] || ik_die "image ${OCI_NAME}: the archive is not an OCI image layout"
  blob="${layout}/blobs/sha256/${hex}"
  [[ -f "${blob}" && ! -L "${blob}" ]] \
    || ik_die "image ${OCI_NAME}: digest mismatch: the archive has no manifest ${OCI_DIGEST}; nothing installed"
  got="$(sha256sum -- "${blob}")"
  [[ "${got%% *}" == "${hex}" ]] \
    || ik_die "image ${OCI_NAME}: digest mismatch: manifest blob hashes to sha256:${got%% *}, not ${OCI_DIGEST}"
  # An image manifest names layers; an index names manifests; Docker's own types are refused.
  if ! grep -qF '"layers"' "${blob}" || grep -qF -e '"manifests"' -e 'application/vnd.docker.' "${blob}"; then
    ik_die "image ${OCI_NAME}: ${OCI_DIGEST} is not an OCI image manifest (an index or a Docker manifest?)"
  fi
  size="$(stat -c %s -- "${blob}")"
  # The layout's own index is not trusted: it names exactly the pinned manifest, nothing else.
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"%s","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}\n' \
    "${OCI_MANIFEST_TYPE}" "${OCI_DIGEST}" "${size}" "${REF}" >"${layout}/index.json"
  umoci unpack --image "${layout}:${REF}" "${staging}/bundle" >&2 \
    || ik_die "image ${OCI_NAME}: umoci refused the image (a blob does not match its digest?); nothing installed"
  printf '%s %s %s\n' "${OCI_NAME}" "${OCI_VERSION}" "${OCI_DIGEST}" >"${staging}/bundle/${MARKER}"
}

restarts() {
  systemctl show -p NRestarts --value -- "${OCI_UNIT}"
}

# The unit runs, and systemd did not restart it on its own since RESTARTS was read.
stays_up() {
  [[ "$(systemctl show -p ActiveState --value -- "${OCI_UNIT}")" == active && "$(restarts)" == "$1" ]]
}

prune() {
  local root="$1" keep="$2" current previous dir count
  local -a dirs=()
  current="$(ik_link_target "${root}/current")"
  previous="$(ik_link_target "${root}/previous")"
  mapfile -t dirs < <(find "${root}" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%T@ %f\n' \
    | sort -n | cut -d' ' -f2-)
  count=${#dirs[@]}
  for dir in "${dirs[@]}"; do
    ((count > keep)) || break
    [[ "${dir}" == "${current}" || "${dir}" == "${previous}" ]] && continue
    rm -rf --one-file-system -- "${root:?}/${dir}"
    ik_log "removed old image ${OCI_NAME} ${dir:0:12}"
    count=$((count - 1))
    ik_changed
  done
}

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  : "${OCI_ALLOW_DOWNGRADE:=0}" "${INSTALL_ROOT:=/opt/infrakit/oci}" "${KEEP_VERSIONS:=3}"
  ik_require_env OCI_NAME OCI_VERSION OCI_DIGEST OCI_ARCHIVE_URL OCI_UNIT
  ik_require_match OCI_NAME '^[a-z][a-z0-9-]{0,30}$' "an image name like aztec"
  ik_require_match OCI_VERSION '^[0-9A-Za-z][0-9A-Za-z.+_-]{0,40}$' "a version like 1.2.3"
  ik_require_match OCI_DIGEST '^sha256:[0-9a-f]{64}$' "sha256:<64 lower-case hex> (the manifest digest)"
  ik_require_match OCI_ARCHIVE_URL '^https?://[^[:space:]]+$' "an http(s) URL"
  ik_require_match OCI_UNIT '^[a-z][a-z0-9-]{0,60}\.service$' "a unit name like infrakit-oci-x.service"
  ik_require_match OCI_ALLOW_DOWNGRADE '^[01]$' "0 or 1"
  ik_require_match KEEP_VERSIONS '^([2-9]|[1-9][0-9])$' "a number >= 2"
  ik_require_match INSTALL_ROOT '^/[A-Za-z0-9/_.-]+$' "an absolute path"

  local root="${INSTALL_ROOT}/${OCI_NAME}" hex="${OCI_DIGEST#sha256:}" vdir current running staging
  local unit_changed=0 switched=0 acted=0 restarts_before
  vdir="${root}/${hex}"
  current="$(ik_link_target "${root}/current")"
  running=""
  if [[ -n "${current}" ]]; then
    running="$(marker_version "${root}/${current}")"
  fi
  if [[ "${current}" != "${hex}" && -n "${running}" ]] && ik_version_gt "${running}" "${OCI_VERSION}" \
    && [[ "${OCI_ALLOW_DOWNGRADE}" != 1 ]]; then
    ik_die "downgrade refused: ${OCI_NAME} ${running} runs and the stack asks for ${OCI_VERSION}; allow it \
explicitly (allowDowngrade) if that is really meant. Nothing was changed."
  fi

  ik_apt_install umoci
  ik_ensure_dir "${INSTALL_ROOT}" 0755 root:root
  ik_ensure_dir "${root}" 0755 root:root
  if ! verified "${vdir}"; then
    ik_tmpdir staging "${root}"
    fetch_and_unpack "${staging}"
    chmod 0755 -- "${staging}/bundle"
    if [[ -e "${vdir}" ]]; then
      ik_warn "${vdir} exists but is not a verified unpack of ${OCI_DIGEST}; replacing it"
      mv -T -- "${vdir}" "${staging}/replaced"
    fi
    mv -T -- "${staging}/bundle" "${vdir}"
    ik_log "unpacked ${OCI_NAME} ${OCI_VERSION} (${OCI_DIGEST}) in ${vdir}; every blob verified"
    ik_changed
  fi

  if ik_install_all_files; then
    unit_changed=1
    systemctl daemon-reload
  fi
  if [[ "${current}" != "${hex}" ]]; then
    [[ -n "${current}" ]] && ik_swap_link "${root}/previous" "${current}"
    ik_swap_link "${root}/current" "${hex}"
    switched=1
    ik_log "switched ${root}/current: ${running:-none} -> ${OCI_VERSION}"
    ik_changed
  fi
  if ((switched || unit_changed)) && ik_unit_active "${OCI_UNIT}"; then
    systemctl restart -- "${OCI_UNIT}" >&2 || true
    ik_log "restarted ${OCI_UNIT}"
    acted=1
  elif ! ik_unit_active "${OCI_UNIT}"; then
    systemctl start -- "${OCI_UNIT}" >&2 || true
    acted=1
  fi
  restarts_before="$(restarts)"
  if ((acted)); then
    ik_changed
    # Type=simple is "active" as soon as it forks: a process that dies at once (bad rootfs,
    # sandbox refusal) shows only after a moment, as "activating" (auto-restart) or a restart.
    sleep 2
  fi
  if ! stays_up "${restarts_before}"; then
    journalctl --no-pager -n 20 -u "${OCI_UNIT}" >&2 || true
    if [[ -n "${current}" ]] && ((switched || unit_changed)); then
      # The unit names the image's own directory: the previous unit file runs the previous image.
      ik_rollback_files
      systemctl daemon-reload
      ((switched)) && ik_swap_link "${root}/current" "${current}"
      systemctl restart -- "${OCI_UNIT}" >&2 || true
      ik_die "${OCI_UNIT} did not stay up on ${OCI_VERSION}; the previous unit and image (${running}) are back"
    fi
    ik_die "${OCI_UNIT} did not stay up on ${OCI_NAME} ${OCI_VERSION}"
  fi
  if [[ "$(systemctl is-enabled -- "${OCI_UNIT}" 2>/dev/null || true)" != enabled ]]; then
    systemctl enable --quiet -- "${OCI_UNIT}" >&2
    ik_changed
  fi
  prune "${root}" "${KEEP_VERSIONS}"
  printf 'infrakit: oci_image=%s version=%s digest=%s previous=%s\n' "${OCI_NAME}" "${OCI_VERSION}" \
    "${OCI_DIGEST}" "${running:--}"
  ik_done
}

main "$@"
