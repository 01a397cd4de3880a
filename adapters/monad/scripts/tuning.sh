#!/usr/bin/env bash
#
# tuning.sh: the kernel tuning Monad's package ships, applied now and at every boot, and
# checked: its sysctl file (network buffers) and its hugepages service; plus the network
# buffers Monad documents (category-labs/monad-bft README, "Getting Started": UDP and TCP
# buffer sizes, vm.nr_hugepages=2048) that the package's file does not set at all, written to
# DOCS_FILE. The package's file stays the authority for every key it sets (DOCS_FILE sorts
# before it, so the package wins at boot); such a key below the documented value is reported
# (docs_below=...), not overridden. Hugepages are the package's service's; fewer than the
# documented 2048 pages is reported the same way.
#
# Inputs (environment):
#   SYSCTL_FILE      the package's sysctl file (default /etc/sysctl.d/90-monad-network-buffer.conf)
#   DOCS_FILE        InfraKit's file of documented values the package does not set
#                    (default /etc/sysctl.d/89-infrakit-monad.conf)
#   HUGEPAGES_UNIT   the package's hugepages unit (default set-hugepages.service)
# Inside a container (the lab), keys the kernel does not namespace are read-only and the
# hugepages pool cannot be set: that is reported (refused=...), not fatal; on a real host
# any refused or not retained key, or a failed hugepages unit, fails the step.
# Stdout: infrakit: monad_tuning sysctl=<applied|refused=keys|missing> docs=<applied|refused=keys>
#         docs_below=<none|keys> hugepages_total=<n> hugepagesize_kb=<n> hugepages_unit=<state>,
#         then the step line.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../../../shared/lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/files.sh
source "${IK_LIB}/files.sh"
# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/systemd.sh
source "${IK_LIB}/systemd.sh"

# Monad's documented values (monad-bft README, "Getting Started"); vm.nr_hugepages is the
# hugepages service's (checked, not set here).
readonly DOCUMENTED=(
  "net.core.rmem_max=62500000"
  "net.core.rmem_default=62500000"
  "net.core.wmem_max=62500000"
  "net.core.wmem_default=62500000"
  "net.ipv4.tcp_rmem=4096 12582912 12582912"
  "net.ipv4.tcp_wmem=4096 12582912 12582912"
)
readonly DOCUMENTED_HUGEPAGES=2048

# The keys a sysctl file sets, one per line.
file_keys() {
  [[ -f "$1" ]] || return 0
  sed -nE 's/^[[:space:]]*([a-z0-9_.]+)[[:space:]]*=.*/\1/p' -- "$1"
}

# Is every field of value $1 at least the same field of value $2 ("4096 87380 6291456")?
at_least() {
  local -a have want
  local i
  read -r -a have <<<"$1"
  read -r -a want <<<"$2"
  ((${#have[@]} == ${#want[@]})) || return 1
  for i in "${!want[@]}"; do
    [[ "${have[i]}" =~ ^[0-9]+$ ]] && ((have[i] >= want[i])) || return 1
  done
}

# DOCS_FILE: the documented keys the package's file does not set (none: the file is removed).
write_docs_file() {
  local entry tmp package_keys
  package_keys="$(file_keys "${SYSCTL_FILE}")"
  ik_tmpfile tmp
  printf '# InfraKit (adapters/monad/scripts/tuning.sh): Monad'"'"'s documented values that the monad\n' >"${tmp}"
  printf '# package'"'"'s %s does not set. Managed: edits are overwritten.\n' "${SYSCTL_FILE}" >>"${tmp}"
  local count=0
  for entry in "${DOCUMENTED[@]}"; do
    grep -qxF -- "${entry%%=*}" <<<"${package_keys}" && continue
    printf '%s = %s\n' "${entry%%=*}" "${entry#*=}" >>"${tmp}"
    count=$((count + 1))
  done
  if ((count)); then
    local rc=0
    ik_write_file "${tmp}" "${DOCS_FILE}" 0644 root:root || rc=$?
    ((rc <= 1)) || ik_die "cannot write ${DOCS_FILE}" # 0: written, 1: already right
  elif [[ -e "${DOCS_FILE}" ]]; then
    rm -f -- "${DOCS_FILE}"
    ik_log "removed ${DOCS_FILE}: the package sets every documented key"
    ik_changed
  fi
}

# Keys the package's file sets below Monad's documented value (reported, never overridden).
docs_below() {
  local entry key have below=()
  for entry in "${DOCUMENTED[@]}"; do
    key="${entry%%=*}"
    have="$(sysctl -n -- "${key}" 2>/dev/null | tr -s '\t ' ' ' || true)"
    at_least "${have}" "${entry#*=}" || below+=("${key}")
  done
  if ((${#below[@]})); then
    DOCS_BELOW="$(
      IFS=,
      printf '%s' "${below[*]}"
    )"
    ik_warn "below Monad's documented network buffers (monad-bft README): ${below[*]}; the package's \
${SYSCTL_FILE} sets them so (it is the authority for its keys); see runbooks/monad.md, 'Tuning'"
  fi
}

# apply_sysctl FILE STATE_VAR: set every key of FILE the kernel does not have yet.
apply_sysctl() {
  local file="$1" state="$2" key value line current refused=()
  if [[ ! -f "${file}" ]]; then
    if [[ "${file}" == "${SYSCTL_FILE}" ]]; then
      ik_warn "${file} is missing: the installed monad package ships no network-buffer sysctls"
      printf -v "${state}" '%s' missing
    else
      printf -v "${state}" '%s' none
    fi
    return 0
  fi
  while IFS= read -r line || [[ -n "${line}" ]]; do
    [[ "${line}" =~ ^[[:space:]]*([a-z0-9_.]+)[[:space:]]*=[[:space:]]*(.*[^[:space:]])[[:space:]]*$ ]] || continue
    key="${BASH_REMATCH[1]}"
    value="${BASH_REMATCH[2]}"
    current="$(sysctl -n -- "${key}" 2>/dev/null | tr -s '\t ' ' ' || true)"
    [[ "${current}" == "${value}" ]] && continue
    # changed only when the kernel keeps the value (a container may accept a write and ignore it)
    if sysctl -q -w -- "${key}=${value}" >/dev/null 2>&1 \
      && [[ "$(sysctl -n -- "${key}" 2>/dev/null | tr -s '\t ' ' ')" == "${value}" ]]; then
      ik_log "set ${key}=${value} (was ${current:-unset})"
      ik_changed
    else
      refused+=("${key}")
    fi
  done <"${file}"
  if ((${#refused[@]})); then
    printf -v "${state}" 'refused=%s' "$(
      IFS=,
      printf '%s' "${refused[*]}"
    )"
    if ik_in_container; then
      ik_warn "this container may not set ${refused[*]} (not namespaced); a real host applies them"
    else
      ik_die "the kernel refused ${refused[*]} from ${file}"
    fi
  else
    printf -v "${state}" '%s' applied
  fi
}

hugepages() {
  if ! ik_unit_exists "${HUGEPAGES_UNIT}"; then
    ik_warn "${HUGEPAGES_UNIT} is not installed by this monad package; hugepages stay as the kernel has them"
    HUGE_UNIT_STATE=missing
    return 0
  fi
  if ik_in_container; then
    # enable it for boot; starting it needs a kernel this container does not own
    ik_ensure_unit "${HUGEPAGES_UNIT}" enable
    if ik_unit_active "${HUGEPAGES_UNIT}" || systemctl start -- "${HUGEPAGES_UNIT}" >&2 2>/dev/null; then
      HUGE_UNIT_STATE=active
    else
      ik_warn "${HUGEPAGES_UNIT} cannot run in this container (vm.* is read-only here)"
      HUGE_UNIT_STATE=container-refused
    fi
  else
    ik_ensure_unit "${HUGEPAGES_UNIT}" enable now
    HUGE_UNIT_STATE=active
  fi
}

main() {
  ik_args "$@"
  ik_require_root
  : "${SYSCTL_FILE:=/etc/sysctl.d/90-monad-network-buffer.conf}" "${HUGEPAGES_UNIT:=set-hugepages.service}"
  : "${DOCS_FILE:=/etc/sysctl.d/89-infrakit-monad.conf}"
  ik_require_match SYSCTL_FILE '^/etc/sysctl\.d/[A-Za-z0-9._-]+\.conf$' "a file in /etc/sysctl.d"
  ik_require_match DOCS_FILE '^/etc/sysctl\.d/[A-Za-z0-9._-]+\.conf$' "a file in /etc/sysctl.d"
  ik_require_match HUGEPAGES_UNIT '^[A-Za-z0-9_.@-]+\.service$' "a service unit"
  [[ "${DOCS_FILE}" < "${SYSCTL_FILE}" ]] || ik_die "DOCS_FILE must sort before SYSCTL_FILE (the package's values win at boot)"
  write_docs_file
  apply_sysctl "${SYSCTL_FILE}" SYSCTL_STATE
  apply_sysctl "${DOCS_FILE}" DOCS_STATE
  docs_below
  hugepages
  local total size
  total="$(awk '/^HugePages_Total:/ { print $2 }' /proc/meminfo)"
  size="$(awk '/^Hugepagesize:/ { print $2 }' /proc/meminfo)"
  if ((${total:-0} < DOCUMENTED_HUGEPAGES)); then
    ik_warn "HugePages_Total=${total:-0} is below Monad's documented vm.nr_hugepages=${DOCUMENTED_HUGEPAGES} \
(set by ${HUGEPAGES_UNIT}; in a container the pool is the host's)"
  fi
  printf 'infrakit: monad_tuning sysctl=%s docs=%s docs_below=%s hugepages_total=%s hugepagesize_kb=%s hugepages_unit=%s\n' \
    "${SYSCTL_STATE}" "${DOCS_STATE}" "${DOCS_BELOW}" "${total:-0}" "${size:-0}" "${HUGE_UNIT_STATE}"
  ik_done
}

SYSCTL_STATE=""
DOCS_STATE=""
DOCS_BELOW=none
HUGE_UNIT_STATE=""
main "$@"
