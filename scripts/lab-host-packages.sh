#!/usr/bin/env bash
# Install the Debian packages the InfraKit lab host manager needs on the machine
# that runs the lab (not inside a lab host).
#
# Idempotent: a quick no-op (no apt-get at all) when everything is installed.
# Ends with one machine-readable line: `infrakit: step=lab_host_packages changed=0|1`.
#
# Environment:
#   INFRAKIT_LAB_VM=1   also install the VM lane's packages (qemu, e2fsprogs).
#   APT_LOCK_TIMEOUT    seconds to wait for the dpkg lock (default 120).
#
# Exit codes: 0 ok, 1 apt failed, 2 usage, 3 not root.
set -Eeuo pipefail

readonly BASE_PACKAGES=(debootstrap systemd-container nftables zstd iproute2 openssh-client)
readonly VM_PACKAGES=(qemu-system-x86 qemu-utils e2fsprogs)

log() { printf 'lab-host-packages: %s\n' "$*" >&2; }
die() { log "error: $*"; exit "${2:-1}"; }

usage() {
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
}

# Print the packages from "$@" that are not installed.
missing_packages() {
  local pkg status
  for pkg in "$@"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "${pkg}" 2>/dev/null || true)
    if [[ "${status}" != ii* ]]; then
      printf '%s\n' "${pkg}"
    fi
  done
}

main() {
  if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    usage
    return 0
  fi
  [[ $# -eq 0 ]] || die "unexpected argument: $1 (see --help)" 2
  [[ "$(id -u)" -eq 0 ]] || die "must run as root" 3

  local wanted=("${BASE_PACKAGES[@]}")
  if [[ "${INFRAKIT_LAB_VM:-0}" == "1" ]]; then
    wanted+=("${VM_PACKAGES[@]}")
  fi

  local missing
  mapfile -t missing < <(missing_packages "${wanted[@]}")
  if [[ ${#missing[@]} -eq 0 ]]; then
    echo "infrakit: step=lab_host_packages changed=0"
    return 0
  fi

  log "installing: ${missing[*]}"
  local lock_timeout="${APT_LOCK_TIMEOUT:-120}"
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get -q -o DPkg::Lock::Timeout="${lock_timeout}" update >&2 \
    || die "apt-get update failed"
  timeout 900 apt-get -q -y -o DPkg::Lock::Timeout="${lock_timeout}" \
    install --no-install-recommends "${missing[@]}" >&2 \
    || die "apt-get install failed: ${missing[*]}"

  mapfile -t missing < <(missing_packages "${wanted[@]}")
  [[ ${#missing[@]} -eq 0 ]] || die "still missing after install: ${missing[*]}"
  echo "infrakit: step=lab_host_packages changed=1"
}

main "$@"
