#!/usr/bin/env bash
#
# setup_server_adapter.sh: is this server fit to run a Monad node? Checks the OS and the
# hardware against Monad's documented requirements, reports every finding, and fails on
# what the docs call unsupported (adapters/monad/SOURCES.md says where each was read).
#
# Inputs (environment):
#   OS_OVERRIDE      none (default): Ubuntu 24.04 or newer only. debian-12-lab: also
#                    accept Debian 12, the InfraKit lab host's OS (TEST stand-ins only;
#                    never a real node)
#   HARDWARE_CHECKS  enforce (default): a finding below fails the step. report: print
#                    the findings and carry on (the lab's 2-core hosts)
#   MIN_CORES        physical cores required (default 16)
#   MIN_MEM_GIB      MemTotal required in GiB (default 30: a "32 GB" machine reports
#                    about 31 GiB after the kernel's reservations)
# Checks: OS; physical cores; memory; SMT (hyper-threading) off; kernel not in the range
# 6.8.0-56 .. 6.8.0-59 (Ubuntu's -generic builds that hang Monad's clients).
# Test hooks: IK_OS_RELEASE_FILE, IK_MEMINFO_FILE (/proc/meminfo), IK_SMT_FILE
# (/sys/devices/system/cpu/smt/active), IK_KERNEL_RELEASE (uname -r), IK_CORES.
# Read-only. Stdout: one "infrakit: monad_check <name>=<value> ok|FAIL" line per check,
# then the step line.
# Last stdout line: infrakit: step=<step> changed=0

# shellcheck source-path=SCRIPTDIR source=../../shared/lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../../shared/lib/core.sh"

FAILED=()

finding() {
  local name="$1" value="$2" ok="$3" why="$4"
  if [[ "${ok}" == 1 ]]; then
    printf 'infrakit: monad_check %s=%s ok\n' "${name}" "${value}"
  else
    printf 'infrakit: monad_check %s=%s FAIL\n' "${name}" "${value}"
    ik_warn "${name}: ${why}"
    FAILED+=("${name}")
  fi
}

os_release() {
  local file="${IK_OS_RELEASE_FILE:-/etc/os-release}" line id="" version=""
  [[ -r "${file}" ]] || ik_die "cannot read ${file}"
  while IFS= read -r line || [[ -n "${line}" ]]; do
    [[ "${line}" =~ ^(ID|VERSION_ID)=\"?([A-Za-z0-9._-]*)\"?$ ]] || continue
    if [[ "${BASH_REMATCH[1]}" == ID ]]; then id="${BASH_REMATCH[2]}"; else version="${BASH_REMATCH[2]}"; fi
  done <"${file}"
  printf '%s %s\n' "${id:-unknown}" "${version:-unknown}"
}

check_os() {
  local id version major minor
  read -r id version < <(os_release)
  if [[ "${id}" == ubuntu && "${version}" =~ ^([0-9]+)\.([0-9]+)$ ]]; then
    major="${BASH_REMATCH[1]}" minor="${BASH_REMATCH[2]}"
    if ((10#${major} > 24 || (10#${major} == 24 && 10#${minor} >= 4))); then
      printf 'infrakit: monad_check os=%s-%s ok\n' "${id}" "${version}"
      return 0
    fi
  fi
  if [[ "${OS_OVERRIDE}" == debian-12-lab && "${id} ${version}" == "debian 12" ]]; then
    printf 'infrakit: monad_check os=%s-%s ok override=debian-12-lab\n' "${id}" "${version}"
    ik_warn "OS override debian-12-lab: Debian 12 accepted for the lab; Monad supports Ubuntu 24.04+ only"
    return 0
  fi
  ik_die "unsupported OS ${id} ${version}: Monad needs Ubuntu 24.04 or newer (the lab's Debian 12 only with \
chainSettings.osOverride: debian-12-lab). Nothing was changed."
}

physical_cores() {
  if [[ -n "${IK_CORES:-}" ]]; then
    printf '%s\n' "${IK_CORES}"
    return 0
  fi
  # one line per CPU as "core,socket": distinct pairs are physical cores
  lscpu -p=CORE,SOCKET | grep -v '^#' | sort -u | wc -l
}

mem_gib() {
  local kib
  kib="$(awk '/^MemTotal:/ { print $2 }' "${IK_MEMINFO_FILE:-/proc/meminfo}")"
  [[ "${kib}" =~ ^[0-9]+$ ]] || ik_die "cannot read MemTotal from ${IK_MEMINFO_FILE:-/proc/meminfo}"
  printf '%s\n' "$((kib / 1024 / 1024))"
}

smt_active() {
  local file="${IK_SMT_FILE:-/sys/devices/system/cpu/smt/active}" value
  if [[ -r "${file}" ]]; then
    read -r value <"${file}"
    printf '%s\n' "${value}"
  elif [[ "$(lscpu | awk -F: '/^Thread\(s\) per core/ { gsub(/ /, "", $2); print $2 }')" -gt 1 ]]; then
    printf '1\n'
  else
    printf '0\n'
  fi
}

main() {
  ik_args "$@"
  ik_require_root
  : "${OS_OVERRIDE:=none}" "${HARDWARE_CHECKS:=enforce}" "${MIN_CORES:=16}" "${MIN_MEM_GIB:=30}"
  ik_require_match OS_OVERRIDE '^(none|debian-12-lab)$' "none or debian-12-lab"
  ik_require_match HARDWARE_CHECKS '^(enforce|report)$' "enforce or report"
  ik_require_match MIN_CORES '^[0-9]+$' "a number"
  ik_require_match MIN_MEM_GIB '^[0-9]+$' "a number"

  check_os
  local cores mem smt kernel bad=0
  cores="$(physical_cores)"
  finding cores "${cores}" "$((cores >= MIN_CORES))" "${cores} physical cores; Monad needs ${MIN_CORES} (4.5 GHz+ base clock)"
  mem="$(mem_gib)"
  finding memory_gib "${mem}" "$((mem >= MIN_MEM_GIB))" "${mem} GiB of memory; Monad needs 32 GB or more"
  smt="$(smt_active)"
  finding smt "${smt}" "$((smt == 0))" "SMT/hyper-threading is on; turn it off in the BIOS (it degrades Monad's performance)"
  kernel="${IK_KERNEL_RELEASE:-$(uname -r)}"
  if [[ "${kernel}" =~ ^6\.8\.0-(5[6-9])(-|$) ]]; then
    bad=1
  fi
  finding kernel "${kernel}" "$((bad == 0))" "kernel ${kernel} is in 6.8.0-56..59 (a known bug hangs Monad's clients); upgrade to 6.8.0-60 or newer and reboot"

  if ((${#FAILED[@]})); then
    if [[ "${HARDWARE_CHECKS}" == report ]]; then
      ik_warn "not fit for Monad (${FAILED[*]}); carrying on because hardwareChecks is report (lab only)"
    else
      ik_die "this server does not meet Monad's requirements: ${FAILED[*]} (see above). Nothing was changed."
    fi
  fi
  ik_done
}

main "$@"
