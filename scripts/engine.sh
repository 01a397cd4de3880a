#!/usr/bin/env bash
# Install the Pulumi engine InfraKit runs: the CLI, a Python language host and the dynamic
# provider launcher, in one bin directory, cached by version; link it as .infrakit/engine.
#
# The CLI is built from Go modules (scripts/engine/go.mod pins github.com/pulumi/pulumi/pkg/v3
# and its go.sum pins every dependency's hash), stamped with its version. The Go module proxy
# this project's machines reach refuses the untagged sub-modules (pulumi-language-python,
# pulumi-resource-command), so:
#   pulumi-language-python        runs `python -m infrakit.engine.language_host` (ours, on the
#                                 Python SDK's own gRPC stubs)
#   pulumi-language-python-exec   the program launcher from the sdk/v3 module of the same version
#   pulumi-resource-pulumi-python the dynamic-provider launcher from the same module
# InfraKit's remote steps are a dynamic provider (components/remote/), so no other plugin is needed.
#
# If `pulumi` is already on PATH at version >= MIN_PULUMI with its own language host beside it,
# that installation is linked instead and nothing is built.
#
# Environment:
#   INFRAKIT_ENGINE_CACHE  cache root (default /var/cache/infrakit/engine as root,
#                          else ~/.cache/infrakit/engine)
#   INFRAKIT_ENGINE_BUILD=1  build even if a suitable `pulumi` is on PATH
# Output: the last line is `infrakit: step=engine changed=0|1`.
set -Eeuo pipefail

readonly ENGINE_VERSION=3.274.1
readonly MIN_PULUMI=3.200.0
readonly CLI_PKG=github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
readonly SDK_MOD=github.com/pulumi/pulumi/sdk/v3
# How the CLI is built; part of the cache key (editing the rest of this script does not rebuild).
readonly LDFLAGS="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${ENGINE_VERSION}"

log() { printf 'infrakit engine: %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

version_ge() { # version_ge A B: A >= B (dotted numbers)
  [[ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" == "$2" ]]
}

cache_root() {
  if [[ -n "${INFRAKIT_ENGINE_CACHE:-}" ]]; then
    printf '%s\n' "${INFRAKIT_ENGINE_CACHE}"
  elif [[ "$(id -u)" == 0 ]]; then
    printf '%s\n' /var/cache/infrakit/engine
  else
    printf '%s\n' "${HOME}/.cache/infrakit/engine"
  fi
}

# An existing, suitable Pulumi installation: its bin dir, or nothing.
ambient_engine() {
  local bin version dir
  [[ "${INFRAKIT_ENGINE_BUILD:-0}" == 1 ]] && return 0
  bin="$(command -v pulumi 2>/dev/null)" || return 0
  dir="$(dirname "$(readlink -f "${bin}")")"
  # ours (a previous link) is handled by the cache path, not here
  [[ -f "${dir}/.infrakit-engine" ]] && return 0
  version="$("${bin}" version 2>/dev/null | sed 's/^v//')" || return 0
  [[ -x "${dir}/pulumi-language-python" ]] || return 0
  version_ge "${version}" "${MIN_PULUMI}" && printf '%s\n' "${dir}"
  return 0
}

build_engine() { # build_engine ROOT DEST
  local root="$1" dest="$2" tmp sdk_dir start
  command -v go >/dev/null || die "Go is needed to build the Pulumi CLI (go1.26+); none on PATH"
  tmp="$(mktemp -d "${dest}.tmp.XXXXXX")"
  trap 'rm -rf "${tmp}"' RETURN
  start=$SECONDS
  log "building the Pulumi CLI v${ENGINE_VERSION} from Go modules (once per version; ~5 min cold on 2 cores)"
  (
    cd "${root}/scripts/engine"
    GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath \
      -ldflags "${LDFLAGS}" \
      -o "${tmp}/bin/pulumi" "${CLI_PKG}"
    go mod download "${SDK_MOD}@v${ENGINE_VERSION}"
  )
  sdk_dir="$(cd "${root}/scripts/engine" && go list -m -f '{{.Dir}}' "${SDK_MOD}")"
  [[ -d "${sdk_dir}/python" ]] || die "sdk module has no python/ directory at ${sdk_dir}"
  install -m 0755 "${sdk_dir}/python/cmd/pulumi-language-python-exec" "${tmp}/bin/pulumi-language-python-exec"
  install -m 0755 "${sdk_dir}/python/dist/pulumi-resource-pulumi-python" "${tmp}/bin/pulumi-resource-pulumi-python"
  install -m 0755 "${root}/scripts/engine/pulumi-language-python" "${tmp}/bin/pulumi-language-python"
  printf 'version=%s\nbuilt_seconds=%s\n' "${ENGINE_VERSION}" "$((SECONDS - start))" >"${tmp}/bin/.infrakit-engine"
  chmod 0755 "${tmp}"
  rm -rf "${dest}"
  mv "${tmp}" "${dest}"
  trap - RETURN
  log "built in $((SECONDS - start)) s: $(du -sh "${dest}/bin/pulumi" | cut -f1) pulumi"
}

verify_engine() { # verify_engine BIN PYTHON
  local bin="$1" python="$2" got plugin
  got="$("${bin}/pulumi" version)" || die "${bin}/pulumi does not run"
  [[ "${got}" == "v${ENGINE_VERSION}" ]] || die "${bin}/pulumi reports ${got}, expected v${ENGINE_VERSION}"
  for plugin in pulumi-language-python pulumi-language-python-exec pulumi-resource-pulumi-python; do
    [[ -x "${bin}/${plugin}" ]] || die "${bin}/${plugin} is missing"
  done
  if [[ -x "${python}" ]]; then
    got="$(PULUMI_PYTHON_CMD="${python}" "${bin}/pulumi-language-python" --version)" \
      || die "the language host does not start with ${python}"
    [[ "${got}" == "${ENGINE_VERSION}" ]] || die "the language host reports ${got}, expected ${ENGINE_VERSION}"
  fi
}

prune_cache() { # prune_cache ROOT: keep the 3 engines used last (other checkouts may link older ones)
  local root="$1" old
  while IFS= read -r old; do
    rm -rf -- "${old}"
  done < <(find "${root}" -mindepth 1 -maxdepth 1 -type d -name 'v*-*' -printf '%T@ %p\n' \
    | sort -rn | tail -n +4 | cut -d' ' -f2-)
}

main() {
  local root link ambient key dest changed=0 current
  # Go is on this machine kind at /usr/local/go; a non-login shell may not have it on PATH.
  if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then
    PATH="/usr/local/go/bin:${PATH}"
  fi
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  link="${root}/.infrakit/engine"
  mkdir -p "${root}/.infrakit"
  ambient="$(ambient_engine)"
  if [[ -n "${ambient}" ]]; then
    current="$(readlink "${link}" 2>/dev/null || true)"
    if [[ "${current}" != "${ambient}" ]]; then
      ln -sfn "${ambient}" "${link}"
      changed=1
    fi
    log "using the Pulumi CLI already installed in ${ambient}"
    printf 'infrakit: step=engine changed=%s\n' "${changed}"
    return 0
  fi
  # The cache key covers what decides the binaries: the pins, the build flags, the launcher, Go.
  key="$(cat "${root}/scripts/engine/go.mod" "${root}/scripts/engine/go.sum" \
    "${root}/scripts/engine/pulumi-language-python" <(echo "CGO_ENABLED=0 -trimpath ${LDFLAGS}") \
    <(go version 2>/dev/null || echo no-go) | sha256sum | cut -c1-16)"
  dest="$(cache_root)/v${ENGINE_VERSION}-${key}"
  if [[ ! -x "${dest}/bin/pulumi" ]]; then
    mkdir -p "$(dirname "${dest}")"
    build_engine "${root}" "${dest}"
    changed=1
  fi
  verify_engine "${dest}/bin" "${root}/.venv/bin/python"
  touch "${dest}"
  prune_cache "$(dirname "${dest}")"
  if [[ "$(readlink "${link}" 2>/dev/null || true)" != "${dest}/bin" ]]; then
    ln -sfn "${dest}/bin" "${link}"
    changed=1
  fi
  printf 'infrakit: step=engine changed=%s\n' "${changed}"
}

main "$@"
