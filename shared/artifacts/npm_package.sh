#!/usr/bin/env bash
#
# npm_package.sh: one npm package at a pinned version, installed from its lockfile with every
# package's sha512 integrity checked (`npm ci`), side by side, switched atomically.
#
# Inputs (environment):
#   NPM_NAME             install name (required; [a-z][a-z0-9-]*): INSTALL_ROOT/NPM_NAME/
#   NPM_PACKAGE          the npm package, e.g. @aztec/aztec (required): the lockfile's one
#                        direct dependency
#   NPM_VERSION          its exact version, e.g. 4.1.2 (required)
#   NPM_USER             the existing system user the install is for (required): npm runs
#                        as this user (never as root) and only root and this user's group
#                        can read the installed tree
#   NPM_REGISTRY         the registry (or mirror) to fetch tarballs from (required, http/https);
#                        the lockfile's registry.npmjs.org URLs are fetched from here
#   NODE_BIN             absolute path of the node binary (required), e.g. from a pinned
#                        tarball: /opt/infrakit/node/current/bin/node
#   NPM_CLI              absolute path of npm's bin/npm-cli.js (required), e.g. from a pinned
#                        tarball: /opt/infrakit/npm/current/bin/npm-cli.js
#   NPM_BINARIES         space-separated names under node_modules/.bin to expose as
#                        /usr/local/bin/NAME wrappers (default: none)
#   NPM_IGNORE_SCRIPTS   1 = no install scripts run (default 1)
#   NPM_ALLOW_DOWNGRADE  1 = a lower version than the current one is allowed; default 0 =
#                        refused before anything changes
#   NPM_CAFILE           absolute path of a PEM bundle npm trusts for the registry instead of
#                        Node's built-in CA list (default: none), e.g. the system store
#                        /etc/ssl/certs/ca-certificates.crt behind a TLS-inspecting proxy
#   INSTALL_ROOT         default /opt/infrakit/npm-packages
#   KEEP_VERSIONS        versions kept, current and previous always among them (default 3)
# Rendered files: package.json and package-lock.json (lockfileVersion >= 2, every package
# with a sha512 `integrity`), checked at plan time; they are copied into the new version.
#
# Order: refuse a downgrade; in a staging dir owned by NPM_USER run `npm ci` with a
# fresh cache (npm verifies each tarball against the lockfile's integrity and refuses
# a mismatch: EINTEGRITY); check NPM_PACKAGE is at NPM_VERSION; make the tree
# root-owned and read-only; move it to INSTALL_ROOT/NPM_NAME/NPM_VERSION; switch
# `current` with one rename; write the wrappers. Any failure leaves `current` and
# the wrappers as they were (fail closed).
# Stdout: infrakit: npm_package=PACKAGE version=VERSION previous=PREVIOUS|-, then the step line.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/files.sh
source "${IK_LIB}/files.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/versions.sh
source "${IK_LIB}/versions.sh"

readonly MARKER=.infrakit-npm

lock_digest() {
  local lock
  lock="$(sha256sum -- "$(ik_file package-lock.json)")"
  printf '%s\n' "${lock%% *}"
}

verified() {
  local vdir="$1" bin
  [[ -f "${vdir}/${MARKER}" ]] || return 1
  [[ "$(cat -- "${vdir}/${MARKER}")" == "${NPM_PACKAGE} ${NPM_VERSION} lock-sha256:${LOCK_SHA256}" ]] || return 1
  for bin in "${BINARIES[@]}"; do
    [[ -e "${vdir}/node_modules/.bin/${bin}" ]] || return 1
  done
}

# npm ci as NPM_USER in STAGING (its own HOME and cache: nothing shared, nothing reused).
npm_ci() {
  local staging="$1" node_dir
  node_dir="$(dirname -- "${NODE_BIN}")"
  local -a flags=(ci --no-audit --no-fund --no-update-notifier --registry "${NPM_REGISTRY}"
    --cache "${staging}/cache" --userconfig "${staging}/npmrc" --replace-registry-host always
    # A few retries for a flaky mirror, with bounded back-off (npm's default waits up to 60 s).
    --fetch-retries 2 --fetch-retry-mintimeout 2000 --fetch-retry-maxtimeout 10000)
  if [[ "${NPM_IGNORE_SCRIPTS}" == 1 ]]; then
    flags+=(--ignore-scripts)
  fi
  if [[ -n "${NPM_CAFILE}" ]]; then
    flags+=(--cafile "${NPM_CAFILE}")
  fi
  : >"${staging}/npmrc"
  chown -R "${NPM_USER}:" -- "${staging}"
  (cd "${staging}/tree" && runuser -u "${NPM_USER}" -- env -i HOME="${staging}/home" \
    PATH="${node_dir}:/usr/bin:/bin" LC_ALL=C NODE_OPTIONS= \
    "${NODE_BIN}" "${NPM_CLI}" "${flags[@]}") >&2
}

write_wrapper() {
  local bin="$1" tmp
  ik_tmpfile tmp
  # shellcheck disable=SC2016  # $PATH is expanded by the wrapper, not here
  printf '#!/bin/sh\n# Managed by InfraKit (%s): %s from %s/current\nPATH=%s:$PATH exec %s "$@"\n' \
    "${IK_STEP}" "${NPM_PACKAGE}" "${INSTALL_ROOT}/${NPM_NAME}" "$(dirname -- "${NODE_BIN}")" \
    "${INSTALL_ROOT}/${NPM_NAME}/current/node_modules/.bin/${bin}" >"${tmp}"
  ik_write_file "${tmp}" "/usr/local/bin/${bin}" 0755 root:root || true
}

prune() {
  local root="$1" keep="$2" current previous dir count
  local -a dirs=()
  current="$(ik_link_target "${root}/current")"
  previous="$(ik_link_target "${root}/previous")"
  mapfile -t dirs < <(find "${root}" -mindepth 1 -maxdepth 1 -type d ! -name '.*' ! -name 'infrakit.*' \
    -printf '%T@ %f\n' | sort -n | cut -d' ' -f2-)
  count=${#dirs[@]}
  for dir in "${dirs[@]}"; do
    ((count > keep)) || break
    [[ "${dir}" == "${current}" || "${dir}" == "${previous}" ]] && continue
    rm -rf --one-file-system -- "${root:?}/${dir}"
    ik_log "removed old version ${NPM_PACKAGE} ${dir}"
    count=$((count - 1))
    ik_changed
  done
}

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  : "${NPM_BINARIES:=}" "${NPM_IGNORE_SCRIPTS:=1}" "${NPM_ALLOW_DOWNGRADE:=0}" "${NPM_CAFILE:=}"
  : "${INSTALL_ROOT:=/opt/infrakit/npm-packages}" "${KEEP_VERSIONS:=3}"
  ik_require_env NPM_NAME NPM_PACKAGE NPM_VERSION NPM_USER NPM_REGISTRY NODE_BIN NPM_CLI
  ik_require_match NPM_NAME '^[a-z][a-z0-9-]{0,30}$' "an install name like aztec"
  ik_require_match NPM_PACKAGE '^(@[a-z0-9][a-z0-9._-]*/)?[a-z0-9][a-z0-9._-]{0,213}$' "an npm package name"
  ik_require_match NPM_VERSION '^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$' "an exact version like 1.2.3"
  ik_require_match NPM_USER '^[a-z_][a-z0-9_-]{0,31}$' "a user name"
  ik_require_match NPM_REGISTRY '^https?://[^[:space:]]+$' "an http(s) URL"
  ik_require_match NODE_BIN '^/[A-Za-z0-9/_.-]+$' "an absolute path"
  ik_require_match NPM_CLI '^/[A-Za-z0-9/_.-]+\.js$' "an absolute path to npm-cli.js"
  ik_require_match NPM_BINARIES '^([a-z0-9][a-z0-9._-]*( [a-z0-9][a-z0-9._-]*)*)?$' "space-separated names"
  ik_require_match NPM_IGNORE_SCRIPTS '^[01]$' "0 or 1"
  ik_require_match NPM_ALLOW_DOWNGRADE '^[01]$' "0 or 1"
  ik_require_match KEEP_VERSIONS '^([2-9]|[1-9][0-9])$' "a number >= 2"
  ik_require_match INSTALL_ROOT '^/[A-Za-z0-9/_.-]+$' "an absolute path"
  ik_require_match NPM_CAFILE '^(/[A-Za-z0-9/_.-]+)?$' "an absolute path or empty"
  [[ -z "${NPM_CAFILE}" || -r "${NPM_CAFILE}" ]] || ik_die "NPM_CAFILE ${NPM_CAFILE} is not a readable file"
  [[ -x "${NODE_BIN}" && -f "${NPM_CLI}" ]] || ik_die "node (${NODE_BIN}) or npm (${NPM_CLI}) is not installed"
  id -u "${NPM_USER}" >/dev/null 2>&1 || ik_die "user ${NPM_USER} does not exist"
  local -a BINARIES=()
  read -r -a BINARIES <<<"${NPM_BINARIES}"
  LOCK_SHA256="$(lock_digest)"

  local root="${INSTALL_ROOT}/${NPM_NAME}" vdir current staging found bin group
  group="$(id -gn -- "${NPM_USER}")"
  vdir="${root}/${NPM_VERSION}"
  current="$(ik_link_target "${root}/current")"
  if [[ -n "${current}" && "${current}" != "${NPM_VERSION}" ]] && ik_version_gt "${current}" "${NPM_VERSION}" \
    && [[ "${NPM_ALLOW_DOWNGRADE}" != 1 ]]; then
    ik_die "downgrade refused: ${NPM_PACKAGE} ${current} is current and the stack asks for ${NPM_VERSION}; \
allow it explicitly (allowDowngrade) if that is really meant. Nothing was changed."
  fi

  ik_ensure_dir "${INSTALL_ROOT}" 0755 root:root
  ik_ensure_dir "${root}" 0750 "root:${group}"
  if ! verified "${vdir}"; then
    ik_tmpdir staging "${root}"
    install -d -m 0700 -- "${staging}/tree" "${staging}/home" "${staging}/cache"
    install -m 0644 -- "$(ik_file package.json)" "${staging}/tree/package.json"
    install -m 0644 -- "$(ik_file package-lock.json)" "${staging}/tree/package-lock.json"
    if ! npm_ci "${staging}"; then
      ik_die "npm ci of ${NPM_PACKAGE} ${NPM_VERSION} failed (an integrity mismatch is EINTEGRITY above); \
nothing installed, ${current:-nothing} stays current"
    fi
    found="$(runuser -u "${NPM_USER}" -- "${NODE_BIN}" -p \
      "require(process.argv[1]).version" "${staging}/tree/node_modules/${NPM_PACKAGE}/package.json")" \
      || ik_die "${NPM_PACKAGE} is missing from the installed tree"
    [[ "${found}" == "${NPM_VERSION}" ]] \
      || ik_die "the lockfile installs ${NPM_PACKAGE} ${found}, not ${NPM_VERSION}; nothing installed"
    for bin in "${BINARIES[@]}"; do
      [[ -e "${staging}/tree/node_modules/.bin/${bin}" ]] \
        || ik_die "${NPM_PACKAGE} ${NPM_VERSION} has no node_modules/.bin/${bin}; nothing installed"
    done
    printf '%s %s lock-sha256:%s\n' "${NPM_PACKAGE}" "${NPM_VERSION}" "${LOCK_SHA256}" >"${staging}/tree/${MARKER}"
    chown -R "root:${group}" -- "${staging}/tree"
    chmod -R u+rwX,g+rX,g-w,o-rwx -- "${staging}/tree"
    if [[ -e "${vdir}" ]]; then
      ik_warn "${vdir} exists but does not match this lockfile; replacing it"
      mv -T -- "${vdir}" "${staging}/replaced"
    fi
    mv -T -- "${staging}/tree" "${vdir}"
    ik_log "installed ${NPM_PACKAGE} ${NPM_VERSION} in ${vdir} (lockfile integrity verified by npm ci)"
    ik_changed
  fi
  if [[ "${current}" != "${NPM_VERSION}" ]]; then
    [[ -n "${current}" ]] && ik_swap_link "${root}/previous" "${current}"
    ik_swap_link "${root}/current" "${NPM_VERSION}"
    ik_log "switched ${root}/current: ${current:-none} -> ${NPM_VERSION}"
    ik_changed
  fi
  for bin in "${BINARIES[@]}"; do
    write_wrapper "${bin}"
  done
  prune "${root}" "${KEEP_VERSIONS}"
  printf 'infrakit: npm_package=%s version=%s previous=%s\n' "${NPM_PACKAGE}" "${NPM_VERSION}" "${current:--}"
  ik_done
}

LOCK_SHA256=""
main "$@"
