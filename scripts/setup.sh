#!/usr/bin/env bash
# Prepare a fresh machine of this project's kind to run InfraKit and its tests.
#
# Creates .venv (Python 3.11+) with the pinned dependencies (requirements-dev.txt),
# installs the `infrakit` command into it, builds actionlint (scripts/install-actionlint.sh),
# and the Debian packages the lab needs
# (scripts/lab-host-packages.sh; needs root). Idempotent and quick when nothing changed.
#
# Environment:
#   PYTHON            interpreter to build the venv with (default: python3)
#   INFRAKIT_NO_LAB=1 skip the lab's Debian packages (e.g. on a laptop without root)
set -Eeuo pipefail

main() {
  local root py stamp want
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  cd "${root}"
  py="${PYTHON:-python3}"
  if [[ ! -x .venv/bin/python ]]; then
    "${py}" -m venv .venv
  fi
  stamp=.venv/.infrakit-requirements
  want="$(cat requirements.txt requirements-dev.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
  if [[ ! -f "${stamp}" || "$(cat "${stamp}")" != "${want}" ]]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
    printf '%s\n' "${want}" > "${stamp}"
  fi
  bash scripts/install-actionlint.sh
  # The Pulumi engine (CLI + Python language host), built once per version and cached.
  bash scripts/engine.sh
  if [[ "${INFRAKIT_NO_LAB:-0}" != 1 ]]; then
    bash scripts/lab-host-packages.sh
  fi
}

main "$@"
