#!/usr/bin/env bash
#
# apt.sh: install Debian packages that are missing (lock wait, bounded retries;
# an interrupted dpkg is repaired first, with dpkg --configure -a, and said so).
# Part of the InfraKit shell library (shared/lib/, never run directly). It sources
# core.sh itself; a script sources only the modules whose functions it calls, so
# a step's hash covers exactly those (infrakit/plan/sources.py). API: shared/README.md.

# shellcheck source-path=SCRIPTDIR source=core.sh
source "${BASH_SOURCE[0]%/*}/core.sh"

[[ -n "${IK__APT_LOADED:-}" ]] && return 0
IK__APT_LOADED=1

readonly IK__PKG_RE='^[a-z0-9][a-z0-9+.-]+$'
# Result of ik__missing_pkgs (no subshell).
IK__NAMES=()

ik_pkg_installed() {
  local status
  status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" || return 1
  [[ "${status}" == ?i* ]]
}

# ik__missing_pkgs PKG...: set the array IK__NAMES to the PKGs that dpkg does not list as
# installed, with one dpkg-query for all of them.
ik__missing_pkgs() {
  local name status
  local -A installed=()
  IK__NAMES=()
  (($#)) || return 0
  while IFS=' ' read -r name status; do
    [[ "${status}" == ?i* ]] && installed[${name}]=1
  done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "$@" 2>/dev/null || true)
  for name in "$@"; do
    [[ -n "${installed[${name}]:-}" ]] || IK__NAMES+=("${name}")
  done
  return 0
}

ik__apt_lists_fresh() {
  local stamp
  compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null || return 1
  for stamp in "${IK_STATE_DIR}/apt-update.stamp" /var/lib/apt/periodic/update-success-stamp; do
    [[ -f "${stamp}" && -n "$(find "${stamp}" -mmin -60 2>/dev/null)" ]] && return 0
  done
  return 1
}

ik__apt_update() {
  local timeout="$1" deadline
  deadline=$((SECONDS + timeout))
  until apt-get -q -o "DPkg::Lock::Timeout=${timeout}" -o Acquire::Retries=3 update >&2; do
    ((SECONDS < deadline)) || ik_die "apt-get update failed"
    ik_warn "apt-get update failed; retrying in 10 s"
    sleep 10
  done
  install -d -m 0755 -- "${IK_STATE_DIR}"
  touch -- "${IK_STATE_DIR}/apt-update.stamp"
}

# ik__dpkg_configure_all TIMEOUT: dpkg --configure -a, waiting up to TIMEOUT s for a dpkg
# lock held by someone else (unattended-upgrades); its output goes to stderr.
ik__dpkg_configure_all() {
  local deadline out
  deadline=$((SECONDS + $1))
  until out="$(DEBIAN_FRONTEND=noninteractive dpkg --force-confdef --force-confold --configure -a 2>&1)"; do
    if [[ "${out}" != *lock* ]] || ((SECONDS >= deadline)); then
      printf '%s\n' "${out}" >&2
      return 1
    fi
    sleep 2
  done
  [[ -z "${out}" ]] || printf '%s\n' "${out}" >&2
}

# ik__dpkg_repair TIMEOUT: finish what an interrupted dpkg left behind (an apply killed
# mid-install, a power cut): without this every later apt-get refuses with "dpkg was
# interrupted, you must manually run 'dpkg --configure -a'". Says so on stderr.
ik__dpkg_repair() {
  local timeout="$1" status name
  local -a half=()
  ik_warn "dpkg was interrupted by an earlier run: repairing with dpkg --configure -a"
  ik__dpkg_configure_all "${timeout}" || ik_warn "dpkg --configure -a left packages unfinished; continuing"
  # A package killed while unpacking is left half-installed, which dpkg --configure -a
  # cannot finish (perl-base, measured), and its dependents stay unconfigured: apt
  # unpacks it again, then dpkg and apt complete the rest.
  while read -r status name; do
    if [[ "${status}" == ?[HUF]* ]]; then
      half+=("${name%%:*}")
    fi
  done < <(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 2>/dev/null || true)
  if ((${#half[@]})); then
    ik_warn "reinstalling packages the interrupted run left half done: ${half[*]}"
    apt-get -y -q --no-install-recommends -o "DPkg::Lock::Timeout=${timeout}" -o Dpkg::Use-Pty=0 \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
      install --reinstall -- "${half[@]}" >&2 \
      || ik_die "apt-get install --reinstall ${half[*]} failed after dpkg --configure -a"
  fi
  ik__dpkg_configure_all "${timeout}" || ik_die "dpkg --configure -a failed"
  apt-get -y -q -o "DPkg::Lock::Timeout=${timeout}" -o Dpkg::Use-Pty=0 \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -f install >&2 \
    || ik_die "apt-get -f install failed after dpkg --configure -a"
  ik_log "dpkg repaired: dpkg --configure -a and apt completed the interrupted run"
}

# ik__dpkg_interrupted: dpkg's journal has entries (/var/lib/dpkg/updates) or a package
# is half installed, unpacked or half configured (what dpkg --audit reports; one grep).
ik__dpkg_interrupted() {
  compgen -G '/var/lib/dpkg/updates/[0-9]*' >/dev/null && return 0
  grep -qE '^Status: [a-z]+ [a-z-]+ (half-installed|unpacked|half-configured)$' /var/lib/dpkg/status
}

ik__apt_get_install() {
  local timeout="$1"
  shift
  apt-get -y -q --no-install-recommends \
    -o "DPkg::Lock::Timeout=${timeout}" -o Dpkg::Use-Pty=0 \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    install -- "$@" >&2
}

# ik_apt_install PKG...: install the packages that are not installed yet.
ik_apt_install() {
  local timeout="${APT_LOCK_TIMEOUT:-600}" pkg updated=0
  local -a missing=()
  [[ "${timeout}" =~ ^[0-9]+$ ]] || ik_die "APT_LOCK_TIMEOUT='${timeout}' is not a number of seconds"
  for pkg in "$@"; do
    [[ "${pkg}" =~ ${IK__PKG_RE} ]] || ik_die "bad package name '${pkg}'"
  done
  # Checked on every call, even when this step's packages are all installed: a killed
  # run can leave a dependency half done, and every later apt-get would then fail.
  if ik__dpkg_interrupted; then
    ik__dpkg_repair "${timeout}"
    ik_changed
  fi
  ik__missing_pkgs "$@"
  missing=("${IK__NAMES[@]}")
  ((${#missing[@]})) || return 0
  ik_log "installing: ${missing[*]}"
  if ! ik__apt_lists_fresh; then
    ik__apt_update "${timeout}"
    updated=1
  fi
  if ! ik__apt_get_install "${timeout}" "${missing[@]}"; then
    ((updated)) && ik_die "apt-get install failed: ${missing[*]}"
    ik_warn "apt-get install failed with package lists less than 1 h old; updating and retrying once"
    ik__apt_update "${timeout}"
    ik__apt_get_install "${timeout}" "${missing[@]}" || ik_die "apt-get install failed: ${missing[*]}"
  fi
  ik__missing_pkgs "${missing[@]}"
  ((${#IK__NAMES[@]} == 0)) \
    || ik_die "package(s) ${IK__NAMES[*]} still not installed after apt-get install"
  ik_changed
}
