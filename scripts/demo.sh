#!/usr/bin/env bash
# The main job on an embedded default, through the real Pulumi engine: boot a local lab host
# (Debian 12, systemd-nspawn) and converge it with `pulumi up -s lab` (chain: none, a hardened
# host; target `existing`). No cloud account. Needs root (debootstrap, overlayfs, veth, nft).
#
# Usage: scripts/demo.sh         boot (or reuse) the lab host; `pulumi up` twice (the second
#                                changes nothing); `pulumi preview --diff` of a one-line config
#                                change (not applied); print how to log in
#        scripts/demo.sh down    remove the lab host, the lab stack's state and everything made
#
# Environment: INFRAKIT_LAB_HOST (the lab host's name, default lab; for another host the `lab`
# stack's address and admin CIDR are set for the run and the stack file is restored after),
# INFRAKIT_LAB_STATE (default /var/lib/infrakit/lab), INFRAKIT_LAB_CACHE.
# The engine, the state (.infrakit/state) and the passphrase: see scripts/pulumi.
set -Eeuo pipefail

readonly HOST="${INFRAKIT_LAB_HOST:-lab}"
readonly STACK=lab

agent_pid=""
stack_backup=""

cleanup() {
  if [[ -n "${stack_backup}" && -f "${stack_backup}" ]]; then
    cp "${stack_backup}" "stacks/Pulumi.${STACK}.yaml"
    rm -f "${stack_backup}"
  fi
  if [[ -n "${agent_pid}" ]]; then
    kill "${agent_pid}" 2>/dev/null || true
  fi
}

main() {
  cd "$(dirname "${BASH_SOURCE[0]}")/.."
  local lab=.venv/bin/infrakit-lab pulumi=scripts/pulumi state admin_key root_key known address host_key host_side
  if [[ "${1:-}" == down ]]; then
    "${pulumi}" stack rm "${STACK}" --yes --force --preserve-config 2>/dev/null || true
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
    # (its root login is only for the first contact: it is refused once hardened)
    "${lab}" up --name "${HOST}" >/dev/null
  fi
  trap cleanup EXIT
  stack_backup="$(mktemp)"
  cp "stacks/Pulumi.${STACK}.yaml" "${stack_backup}"
  read -r address host_side < <(.venv/bin/python -c "from infrakit_lab.host import LabHost; \
h = LabHost.get('${HOST}'); print(h.address, h.host_side_address)")
  "${pulumi}" stack select --create "${STACK}" >/dev/null
  if [[ "${HOST}" != lab ]]; then
    "${pulumi}" config set --path 'infrakit:host.address' "${address}" -s "${STACK}"
    "${pulumi}" config set --path 'infrakit:access.adminCidrs[0]' "${host_side}/32" -s "${STACK}"
  fi
  # The lab's two keys (root for the first contact, the admin's after) in a private agent.
  eval "$(ssh-agent -s)" >/dev/null
  agent_pid="${SSH_AGENT_PID}"
  ssh-add -q "${root_key}" "${admin_key}"

  echo
  echo "== pulumi up (first contact as root, then the admin user; --refresh notices a re-created lab host)"
  "${pulumi}" up -s "${STACK}" --yes --skip-preview --refresh
  echo
  echo "== pulumi up again (must change nothing, and not even log in to the host)"
  "${pulumi}" up -s "${STACK}" --yes --skip-preview
  echo
  echo "== pulumi preview --diff of a one-line config change (hardening.ssh.maxAuthTries 2 -> 3; not applied)"
  "${pulumi}" config set --path 'infrakit:hardening.ssh.maxAuthTries' 3 -s "${STACK}"
  "${pulumi}" preview -s "${STACK}" --diff
  cleanup
  stack_backup=""
  agent_pid=""

  host_key="$("${pulumi}" stack output hostKey -s "${STACK}")"
  printf '%s %s\n' "${address}" "${host_key}" >"${known}"
  echo
  echo "Log in:   ssh -i ${admin_key} -o UserKnownHostsFile=${known} ops@${address}"
  echo "Remove:   scripts/demo.sh down"
}

main "$@"
