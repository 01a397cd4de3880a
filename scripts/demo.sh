#!/usr/bin/env bash
# The main job on an embedded default: boot a local lab host (Debian 12, systemd-nspawn)
# and converge it with the `lab` stack (chain: none, a hardened host). No cloud account,
# no Pulumi CLI. Needs root (the lab uses debootstrap, overlayfs, veth, nftables).
#
# Usage: scripts/demo.sh         boot (or reuse) the lab host, apply twice, print how to log in
#        scripts/demo.sh down    remove the lab host and everything it made
#
# Environment: INFRAKIT_LAB_HOST (the lab host's name, default lab; the `lab` stack is pointed
# at it with --host/--admin-cidr, the stack file is not edited), INFRAKIT_LAB_STATE (default
# /var/lib/infrakit/lab), INFRAKIT_LAB_CACHE.
set -Eeuo pipefail

readonly HOST="${INFRAKIT_LAB_HOST:-lab}"
readonly STACK=lab

main() {
  cd "$(dirname "${BASH_SOURCE[0]}")/.."
  local ik=.venv/bin/infrakit lab=.venv/bin/infrakit-lab state admin_key root_key known address host_side
  if [[ "${1:-}" == down ]]; then
    exec "${lab}" down --name "${HOST}"
  fi
  bash scripts/setup.sh
  state="$(.venv/bin/python -c 'from infrakit_lab.config import state_dir; print(state_dir())')"
  root_key="$(.venv/bin/python -c 'from infrakit_lab.host import lab_key; print(lab_key())')"
  admin_key="${state}/lab_admin_ed25519"
  known="${state}/known_hosts"
  install -m 0600 infrakit_lab/insecure_key/lab_admin_ed25519 "${admin_key}"

  if ! .venv/bin/python -c "import sys; from infrakit_lab.host import LabHost; h = LabHost.get('${HOST}'); \
sys.exit(0 if h and h.is_running else 1)"; then
    # (its root login is only for the bootstrap: not printed, it is refused once hardened)
    "${lab}" up --name "${HOST}" >/dev/null
    # a new lab host has new host keys: forget the old ones (lab known_hosts only)
    rm -f "${known}"
  fi
  read -r address host_side < <(.venv/bin/python -c "from infrakit_lab.host import LabHost; \
h = LabHost.get('${HOST}'); print(h.address, h.host_side_address)")
  local -a target=(--host "${address}" --admin-cidr "${host_side}/32" -i "${admin_key}" --known-hosts "${known}")
  echo
  echo "== first apply (bootstraps the admin user as root, then converges as the admin user)"
  "${ik}" apply "${STACK}" "${target[@]}" --bootstrap-user root --bootstrap-identity "${root_key}"
  echo
  echo "== second apply (must change nothing)"
  "${ik}" apply "${STACK}" "${target[@]}"
  echo
  echo "Remove:   scripts/demo.sh down"
}

main "$@"
