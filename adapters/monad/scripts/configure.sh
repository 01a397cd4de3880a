#!/usr/bin/env bash
#
# configure.sh: the node's keys and config in the layout the installed `monad` package uses:
# the secp256k1 and BLS keystores created if absent (never overwritten), node.toml, and the
# env file every monad-* unit reads (with the keystore password).
#
# Inputs (environment):
#   KEYSTORE_PASSWORD  the keystores' password (required; a secret: it arrives on stdin
#                      from the Pulumi secret monadKeystorePassword, never in the plan)
#   BACKUP_DIR         root-only (0700) directory for monad-keystore's creation output,
#                      which holds each key's IKM, the secret to back up (default
#                      /root/monad-key-backup)
# Rendered files: node.toml, monad.env (the env file without the password).
# Layout: the monad-bft unit the package installed says where things go: EnvironmentFile
# /etc/monad/env -> /etc/monad/{env,node.toml}, keys in /var/lib/monad/private (root:monad,
# 0640); /home/monad/.env -> /home/monad/.env, /home/monad/monad-bft/config/ (user monad,
# created as the docs do). Anything else: refused.
# Keys: an existing keystore must open with the password (monad-keystore recover), else
# the step fails (a node whose password does not match its keys would not start).
# Caveat (upstream CLI): monad-keystore takes the password only as --password, so it is on
# that short-lived process's command line; monad-bft's own unit passes it the same way
# (--keystore-password) for the node's lifetime. Mount /proc with hidepid=invisible on a
# shared host. Nothing here prints or logs it.
# Test hook: IK_MONAD_UNIT_FILE (the monad-bft unit to read the layout from).
# Stdout: infrakit: monad_layout=<etc|home>; per key
#   infrakit: monad_key type=<secp|bls> path=<keystore> public_key=<..|-> state=<created|kept>
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../../../shared/lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../../../shared/lib/files.sh
source "${IK_LIB}/files.sh"

MONAD_LAYOUT="" MONAD_ENV_FILE="" MONAD_NODE_TOML="" MONAD_KEY_DIR="" MONAD_OWNER="" MONAD_SECRET_MODE=""

monad_layout() {
  local unit="" candidate
  for candidate in "${IK_MONAD_UNIT_FILE:-}" /etc/systemd/system/monad-bft.service \
    /usr/lib/systemd/system/monad-bft.service /lib/systemd/system/monad-bft.service; do
    if [[ -n "${candidate}" && -f "${candidate}" ]]; then
      unit="${candidate}"
      break
    fi
  done
  [[ -n "${unit}" ]] || ik_die "monad-bft.service is not installed: the monad package must be installed first"
  if grep -qE '^EnvironmentFile=-?/etc/monad/env$' "${unit}"; then
    MONAD_LAYOUT=etc
    MONAD_ENV_FILE=/etc/monad/env
    MONAD_NODE_TOML=/etc/monad/node.toml
    MONAD_KEY_DIR=/var/lib/monad/private
    MONAD_OWNER=root:monad
    MONAD_SECRET_MODE=0640
  elif grep -qE '^EnvironmentFile=-?/home/monad/\.env$' "${unit}"; then
    MONAD_LAYOUT=home
    MONAD_ENV_FILE=/home/monad/.env
    MONAD_NODE_TOML=/home/monad/monad-bft/config/node.toml
    MONAD_KEY_DIR=/home/monad/monad-bft/config
    MONAD_OWNER=monad:monad
    MONAD_SECRET_MODE=0600
  else
    ik_die "${unit} reads neither /etc/monad/env nor /home/monad/.env: a package layout InfraKit does not know; \
nothing was changed (see runbooks/monad.md, 'package layout')"
  fi
  ik_log "package layout: ${MONAD_LAYOUT} (from ${unit})"
}

# The directories the layout needs (the home layout's user and tree, as the docs create them).
monad_layout_dirs() {
  if [[ "${MONAD_LAYOUT}" == home ]]; then
    if ! getent passwd monad >/dev/null; then
      # as the docs create it; into an existing group monad (useradd refuses to make it twice)
      if getent group monad >/dev/null; then
        useradd -m -s /bin/bash -g monad monad
      else
        useradd -m -s /bin/bash monad
      fi
      ik_changed
    fi
    local dir
    for dir in /home/monad/monad-bft /home/monad/monad-bft/config /home/monad/monad-bft/ledger \
      /home/monad/monad-bft/config/forkpoint /home/monad/monad-bft/config/validators; do
      if [[ ! -d "${dir}" ]]; then
        install -d -m 0750 -o monad -g monad -- "${dir}"
        ik_changed
      fi
    done
  else
    getent group monad >/dev/null || ik_die "group monad is missing: the package's sysusers.d did not run"
    if [[ ! -d "${MONAD_KEY_DIR}" ]]; then
      install -d -m 0750 -o root -g monad -- "${MONAD_KEY_DIR}"
      ik_changed
    fi
  fi
}

create_key() {
  local type="$1" path="$2" out tmp public
  out="${BACKUP_DIR}/id-${type}.create-output"
  tmp="${path}.infrakit-new"
  rm -f -- "${tmp}"
  (umask 077 && monad-keystore create --key-type "${type}" --keystore-path "${tmp}" \
    --password "${KEYSTORE_PASSWORD}" >"${out}" 2>&1) || true
  if ! grep -q 'Successfully generated keystore file' "${out}" || [[ ! -s "${tmp}" ]]; then
    rm -f -- "${tmp}"
    ik_die "monad-keystore could not create the ${type} keystore (its output, which may hold key material, is in ${out})"
  fi
  chmod 0600 -- "${out}"
  chown "${MONAD_OWNER}" -- "${tmp}"
  chmod "${MONAD_SECRET_MODE}" -- "${tmp}"
  # never replace a keystore that appeared meanwhile
  if [[ -e "${path}" ]]; then
    rm -f -- "${tmp}"
    ik_die "${path} appeared while creating it; left as it is"
  fi
  mv -T -- "${tmp}" "${path}"
  public="$(sed -n 's/^.*[Pp]ublic key: *//p' "${out}" | head -n 1)"
  printf 'infrakit: monad_key type=%s path=%s public_key=%s state=created\n' "${type}" "${path}" "${public:--}"
  ik_changed
}

check_key() {
  local type="$1" path="$2" out
  out="$(monad-keystore recover --keystore-path "${path}" --password "${KEYSTORE_PASSWORD}" 2>&1 || true)"
  if ! grep -q '^Keystore version' <<<"${out}"; then
    ik_die "the existing ${type} keystore ${path} does not open with monadKeystorePassword; it was left as it is \
(restore the right password in the stack, or the keystore from your backup)"
  fi
  printf 'infrakit: monad_key type=%s path=%s public_key=- state=kept\n' "${type}" "${path}"
}

install_config() {
  local env_tmp changed=0
  if ik_write_file "$(ik_file node.toml)" "${MONAD_NODE_TOML}" 0640 "${MONAD_OWNER}"; then
    changed=1
  fi
  ik_tmpfile env_tmp
  {
    cat -- "$(ik_file monad.env)"
    printf 'KEYSTORE_PASSWORD=%s\n' "${KEYSTORE_PASSWORD}"
  } >"${env_tmp}"
  # no backup copy of a file that holds the password
  if IK_ROLLBACK=0 ik_write_file "${env_tmp}" "${MONAD_ENV_FILE}" "${MONAD_SECRET_MODE}" "${MONAD_OWNER}"; then
    changed=1
  fi
  if ((changed)); then
    ik_log "node.toml and env installed (${MONAD_NODE_TOML}, ${MONAD_ENV_FILE})"
    ik_changed
  fi
}

main() {
  ik_args "$@"
  ik_require_root
  : "${BACKUP_DIR:=/root/monad-key-backup}"
  ik_require_env KEYSTORE_PASSWORD
  ik_require_match BACKUP_DIR '^/[A-Za-z0-9._/-]+$' "an absolute path"
  [[ "${KEYSTORE_PASSWORD}" != *[[:cntrl:]]* ]] || ik_die "the keystore password must not hold control characters"
  command -v monad-keystore >/dev/null || ik_die "monad-keystore is missing: the monad package must be installed first"
  monad_layout
  printf 'infrakit: monad_layout=%s\n' "${MONAD_LAYOUT}"
  monad_layout_dirs
  install -d -m 0700 -o root -g root -- "${BACKUP_DIR}"

  local type path created=0
  for type in secp bls; do
    path="${MONAD_KEY_DIR}/id-${type}"
    if [[ -e "${path}" ]]; then
      check_key "${type}" "${path}"
    else
      create_key "${type}" "${path}"
      created=1
    fi
  done
  if ((created)); then
    ik_warn "new keystores in ${MONAD_KEY_DIR}; back up ${MONAD_KEY_DIR}/id-secp, ${MONAD_KEY_DIR}/id-bls, \
${BACKUP_DIR} (IKMs) and the password OFF this host now (runbooks/monad.md, 'Keys')"
  fi
  install_config
  ik_done
}

main "$@"
