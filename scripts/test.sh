#!/usr/bin/env bash
# Run every check InfraKit has: the hygiene checks of .pre-commit-config.yaml (ruff lint and
# format, mypy, shellcheck, shfmt, yamllint, actionlint) on every tracked file, unit tests,
# Pulumi mocks tests, and the end-to-end tests on real lab hosts (need root).
#
# Arguments are passed to pytest (e.g. `scripts/test.sh -m "not lab"` for a quick run).
# Exits non-zero if anything fails or if no test ran.
set -Eeuo pipefail

main() {
  cd "$(dirname "${BASH_SOURCE[0]}")/.."
  bash scripts/setup.sh
  .venv/bin/pre-commit run --all-files --show-diff-on-failure
  .venv/bin/python -m pytest "$@"
}

main "$@"
