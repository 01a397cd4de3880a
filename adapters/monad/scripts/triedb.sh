#!/usr/bin/env bash
#
# triedb.sh: prepare Monad's dedicated TrieDB drive, the way Monad's docs do it by hand:
# check 512-byte logical blocks (LBA), a GPT with one partition over the whole drive, and a
# udev rule giving that partition the stable name /dev/triedb. Never guesses a disk.
#
# Inputs (environment):
#   TRIEDB_DEVICE   the drive's stable path under /dev/disk/by-id/ (required; a whole
#                   disk, never a partition)
#   TRIEDB_FORCE    0 (default): prepare only a blank device (no partition table, no
#                   filesystem or other signature); anything else stops with a clear
#                   message and the device untouched. 1: wipe and repartition it anyway
#   UDEV_RULE       rule file (default /etc/udev/rules.d/99-triedb.rules)
#   TRIEDB_GROUP    group that may read/write /dev/triedb (default monad; mode 0660)
#   MPT_FLAG        written when a partition was (re)created, so that the services step
#                   runs monad-mpt once to initialise it (default
#                   /var/lib/infrakit/monad/triedb-needs-init)
# Test hook: IK_TRIEDB_NO_UDEV=1 skips udevadm and the /dev/triedb check (a test machine
# without udevd); everything else runs as on a server.
# Refuses a device (or one of its partitions) that is mounted or in use as swap, force or not.
# A prepared device (GPT, one partition named triedb whose PARTUUID is in the rule) is
# left alone: changed=0.
# Stdout: infrakit: triedb device=<dev> partition=<part> partuuid=<uuid> state=<prepared|kept>
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../../../shared/lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/files.sh
source "${IK_LIB}/files.sh"

partition_of() {
  local dev="$1"
  if [[ "${dev}" =~ [0-9]$ ]]; then
    printf '%sp1\n' "${dev}"
  else
    printf '%s1\n' "${dev}"
  fi
}

# The rule as Monad's docs write it, with a group instead of world-writable (0666).
rule_for() {
  printf '# Managed by InfraKit (monad_triedb): the TrieDB partition, by PARTUUID.\n'
  printf 'ENV{ID_PART_ENTRY_UUID}=="%s", OWNER="root", GROUP="%s", MODE="0660", SYMLINK+="triedb"\n' \
    "$1" "${TRIEDB_GROUP}"
}

check_lba() {
  local dev="$1" size line
  if [[ "${dev##*/}" == nvme* ]]; then
    command -v nvme >/dev/null || ik_die "nvme-cli is missing (the base packages install it)"
    line="$(nvme id-ns -H -- "${dev}" | grep 'LBA Format' | grep 'in use' || true)"
    printf 'infrakit: triedb lba="%s"\n' "${line//  / }"
    [[ "${line}" == *"Data Size: 512 bytes"* ]] || ik_die "${dev} is not formatted with 512-byte LBAs (${line:-no LBA format in use}); Monad's docs: nvme format --lbaf=<the 512-byte format> ${dev} (destroys its data). Nothing was changed."
  else
    size="$(blockdev --getss "${dev}")"
    printf 'infrakit: triedb logical_block_size=%s\n' "${size}"
    [[ "${size}" == 512 ]] || ik_die "${dev} has ${size}-byte logical blocks; TrieDB needs 512. Nothing was changed."
  fi
}

in_use() {
  local dev="$1" mounts swaps
  mounts="$(lsblk -nro MOUNTPOINT -- "${dev}" | grep -v '^$' || true)"
  swaps="$(awk 'NR > 1 { print $1 }' /proc/swaps)"
  if [[ -n "${mounts}" ]]; then
    printf 'mounted at %s' "${mounts//$'\n'/, }"
    return 0
  fi
  local name
  for name in $(lsblk -nrpo NAME -- "${dev}"); do
    if grep -qxF -- "${name}" <<<"${swaps}"; then
      printf 'used as swap (%s)' "${name}"
      return 0
    fi
  done
  return 1
}

# 0 if the device already is a prepared TrieDB drive whose PARTUUID the rule names.
prepared() {
  local dev="$1" part="$2" label parts uuid
  [[ -b "${part}" ]] || return 1
  label="$(blkid -p -s PTTYPE -o value -- "${dev}" 2>/dev/null || true)"
  parts="$(lsblk -nro TYPE -- "${dev}" | grep -c '^part$' || true)"
  [[ "${label}" == gpt && "${parts}" == 1 ]] || return 1
  [[ "$(blkid -p -s PART_ENTRY_NAME -o value -- "${part}" 2>/dev/null)" == triedb ]] || return 1
  uuid="$(blkid -p -s PART_ENTRY_UUID -o value -- "${part}" 2>/dev/null)"
  [[ -n "${uuid}" && -f "${UDEV_RULE}" ]] && grep -qF -- "\"${uuid}\"" "${UDEV_RULE}"
}

wait_for() {
  local path="$1" tries=50
  until [[ -b "${path}" ]]; do
    ((tries-- > 0)) || return 1
    sleep 0.1
  done
}

main() {
  ik_args "$@"
  ik_require_root
  : "${TRIEDB_FORCE:=0}" "${UDEV_RULE:=/etc/udev/rules.d/99-triedb.rules}" "${TRIEDB_GROUP:=monad}"
  : "${MPT_FLAG:=/var/lib/infrakit/monad/triedb-needs-init}" "${IK_TRIEDB_NO_UDEV:=0}"
  ik_require_env TRIEDB_DEVICE
  ik_require_match TRIEDB_DEVICE '^/dev/disk/by-id/[A-Za-z0-9][A-Za-z0-9._:+-]{0,200}$' "a /dev/disk/by-id/ path"
  ik_require_match TRIEDB_FORCE '^[01]$' "0 or 1"
  ik_require_match TRIEDB_GROUP '^[a-z_][a-z0-9_-]{0,31}$' "a group name"
  ik_require_match UDEV_RULE '^/[A-Za-z0-9._/-]+\.rules$' "an absolute .rules path"

  [[ -e "${TRIEDB_DEVICE}" ]] || ik_die "${TRIEDB_DEVICE} does not exist (ls -l /dev/disk/by-id/); nothing was changed"
  local dev part uuid what
  dev="$(readlink -f -- "${TRIEDB_DEVICE}")"
  [[ -b "${dev}" ]] || ik_die "${TRIEDB_DEVICE} -> ${dev} is not a block device"
  [[ ! -e "/sys/class/block/${dev##*/}/partition" ]] \
    || ik_die "${TRIEDB_DEVICE} -> ${dev} is a partition; name the whole drive (TrieDB takes all of it)"
  part="$(partition_of "${dev}")"
  if what="$(in_use "${dev}")"; then
    ik_die "${TRIEDB_DEVICE} -> ${dev} is ${what}: refusing to touch a disk in use (is it the OS disk?)"
  fi

  if prepared "${dev}" "${part}"; then
    uuid="$(blkid -p -s PART_ENTRY_UUID -o value -- "${part}")"
    check_lba "${dev}"
    state=kept
  else
    local signatures
    signatures="$(wipefs -n -- "${dev}" 2>/dev/null | awk 'NR > 1 { print $3 }' | sort -u | tr '\n' ' ')"
    if [[ -n "$(lsblk -nro TYPE -- "${dev}" | grep '^part$' || true)" ]]; then
      signatures+="partitions "
    fi
    if [[ -n "${signatures// /}" && "${TRIEDB_FORCE}" != 1 ]]; then
      ik_die "${TRIEDB_DEVICE} -> ${dev} is not blank (found: ${signatures% }): left untouched. If this really \
is the TrieDB drive and its data may go, set chainSettings.triedb.force: true for one apply."
    fi
    check_lba "${dev}"
    if [[ -n "${signatures// /}" ]]; then
      ik_warn "force: wiping ${dev} (found: ${signatures% })"
      wipefs -a -q -- "${dev}"
    fi
    parted -s "${dev}" mklabel gpt mkpart triedb 0% 100% >&2
    partprobe "${dev}" 2>/dev/null || blockdev --rereadpt "${dev}" 2>/dev/null || true
    wait_for "${part}" || ik_die "partition ${part} did not appear after partitioning ${dev}"
    uuid="$(blkid -p -s PART_ENTRY_UUID -o value -- "${part}")"
    [[ "${uuid}" =~ ^[0-9a-f-]{36}$ ]] || ik_die "cannot read the PARTUUID of ${part}"
    ik_ensure_dir "${MPT_FLAG%/*}" 0755 root:root
    printf '%s\n' "${uuid}" >"${MPT_FLAG}"
    state=prepared
    ik_changed
  fi

  local rule
  ik_tmpfile rule
  rule_for "${uuid}" >"${rule}"
  if ik_write_file "${rule}" "${UDEV_RULE}" 0644 root:root; then
    ik_changed
  fi
  if [[ "${IK_TRIEDB_NO_UDEV}" != 1 ]]; then
    udevadm control --reload >&2
    udevadm trigger --subsystem-match=block >&2
    udevadm settle --timeout=30 >&2 || true
    wait_for /dev/triedb || ik_die "udev did not create /dev/triedb for PARTUUID ${uuid}"
    [[ "$(readlink -f /dev/triedb)" == "${part}" ]] \
      || ik_die "/dev/triedb points to $(readlink -f /dev/triedb), not ${part}"
  fi
  printf 'infrakit: triedb device=%s partition=%s partuuid=%s state=%s\n' "${dev}" "${part}" "${uuid}" "${state}"
  ik_done
}

state=""
main "$@"
