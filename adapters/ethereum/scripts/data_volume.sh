#!/usr/bin/env bash
#
# data_volume.sh: mount the stack's data volume at the chain's data root, by UUID, before any
# data directory is created, so the execution and consensus data live on the volume.
#
# Inputs (environment):
#   VOLUME_DEVICE  the volume's block device, or a glob that must match exactly one
#                  (default /dev/disk/by-id/scsi-0HC_Volume_*: a Hetzner Cloud volume)
#   MOUNT_POINT    where it is mounted: the chain's data root (default /var/lib/ethereum)
#   FSTYPE         the filesystem the volume was created with: ext4 | xfs (required)
#
# Never formats anything: a volume without a filesystem of FSTYPE is refused (Hetzner formats
# it when the stack declares `volume.format`). Refused as well: a mount point that already holds
# data but is not this volume (it would be hidden), and a mount point where another device is
# mounted. The mount is recorded in /etc/fstab by UUID with nofail (a missing volume does not
# stop the boot; the clients then fail on their empty data dirs rather than filling the root disk
# - see runbooks/ethereum.md). Idempotent: a second run changes nothing.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../../../shared/lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/files.sh
source "${IK_LIB}/files.sh"

readonly FSTAB=/etc/fstab
readonly TAG="# infrakit: chain data volume"

find_device() {
  local -a matches=()
  local path
  # shellcheck disable=SC2206  # the glob is the point
  for path in ${VOLUME_DEVICE}; do
    [[ -b "${path}" ]] && matches+=("${path}")
  done
  ((${#matches[@]} == 1)) || ik_die "VOLUME_DEVICE ${VOLUME_DEVICE} matches ${#matches[@]} block devices \
(expected exactly one): is the volume attached? (lsblk; ls -l /dev/disk/by-id)"
  readlink -f -- "${matches[0]}"
}

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  : "${VOLUME_DEVICE:=/dev/disk/by-id/scsi-0HC_Volume_*}" "${MOUNT_POINT:=/var/lib/ethereum}"
  ik_require_env FSTYPE
  ik_require_match FSTYPE '^(ext4|xfs)$' "ext4 or xfs"
  ik_require_match VOLUME_DEVICE '^/dev/[A-Za-z0-9/_.:*-]+$' "a /dev path or glob"
  ik_require_match MOUNT_POINT '^/[A-Za-z0-9/_.-]+$' "an absolute path"
  local device uuid found_type mounted line tmp
  device="$(find_device)"
  found_type="$(blkid -o value -s TYPE -- "${device}" || true)"
  [[ "${found_type}" == "${FSTYPE}" ]] || ik_die "${device} holds '${found_type:-no filesystem}', not ${FSTYPE}: \
refusing to mount (and never formatting) it"
  uuid="$(blkid -o value -s UUID -- "${device}")"
  [[ "${uuid}" =~ ^[0-9A-Fa-f-]+$ ]] || ik_die "${device}: no filesystem UUID"

  if mountpoint -q -- "${MOUNT_POINT}"; then
    mounted="$(findmnt -n -o UUID --mountpoint "${MOUNT_POINT}" || true)"
    [[ "${mounted}" == "${uuid}" ]] || ik_die "${MOUNT_POINT} already has another filesystem mounted \
(UUID ${mounted:-unknown}), not the volume ${device} (UUID ${uuid})"
  elif [[ -d "${MOUNT_POINT}" ]] && [[ -n "$(ls -A -- "${MOUNT_POINT}")" ]]; then
    ik_die "${MOUNT_POINT} already holds data on the root disk: mounting the volume would hide it. \
Stop the eth-* units, move the data onto the volume (runbooks/ethereum.md), then apply again"
  fi

  line="UUID=${uuid} ${MOUNT_POINT} ${FSTYPE} defaults,nofail,noatime 0 2 ${TAG}"
  ik_tmpfile tmp
  if [[ -f "${FSTAB}" ]]; then
    grep -v -F -- "${TAG}" "${FSTAB}" >"${tmp}" || true
  fi
  printf '%s\n' "${line}" >>"${tmp}"
  if ik_write_file "${tmp}" "${FSTAB}" 0644 root:root; then
    ik_log "recorded the data volume in ${FSTAB} (UUID ${uuid})"
  fi

  if ! mountpoint -q -- "${MOUNT_POINT}"; then
    install -d -m 0755 -o root -g root -- "${MOUNT_POINT}"
    mount -- "${MOUNT_POINT}"
    ik_log "mounted ${device} (UUID ${uuid}) at ${MOUNT_POINT}"
    ik_changed
  fi
  ik_done
}

main "$@"
