#!/usr/bin/env bash
# Run every check InfraKit has: lint (ruff, shellcheck via the tests), unit tests, Pulumi
# mocks tests, and the end-to-end tests on real lab hosts (need root).
#
# Arguments are passed to pytest (e.g. `scripts/test.sh -m "not lab"` for a quick run).
# Exits non-zero if anything fails or if no test ran.
set -Eeuo pipefail

main() {
  cd "$(dirname "${BASH_SOURCE[0]}")/.."
  bash scripts/setup.sh
  .venv/bin/ruff check .
  .venv/bin/mypy
  .venv/bin/python -m pytest "$@"
}

main "$@"
