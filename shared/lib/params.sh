#!/usr/bin/env bash
#
# params.sh: the step runner's parsers of params.env and the secrets on stdin (no eval).
# Part of the InfraKit shell library (shared/lib/, never run directly). It sources
# core.sh itself; a script sources only the modules whose functions it calls, so
# a step's hash covers exactly those (infrakit/plan/sources.py). API: shared/README.md.

# shellcheck source-path=SCRIPTDIR source=core.sh
source "${BASH_SOURCE[0]%/*}/core.sh"

[[ -n "${IK__PARAMS_LOADED:-}" ]] && return 0
IK__PARAMS_LOADED=1

readonly IK__NAME_RE='^[A-Z][A-Z0-9_]*$'
# Names a parameter or secret may never take: they change how bash or the
# dynamic linker behave.
readonly IK__RESERVED_NAMES=" PATH IFS ENV BASH_ENV SHELLOPTS BASHOPTS CDPATH \
GLOBIGNORE PS4 PROMPT_COMMAND HOME TMPDIR LANG LANGUAGE PYTHONPATH PYTHONHOME \
PERL5LIB UID EUID PPID GROUPS SECONDS RANDOM LINENO OPTIND OPTARG OPTERR \
HOSTNAME HOSTTYPE MACHTYPE OSTYPE PWD OLDPWD SHELL SHLVL USER LOGNAME TERM \
FUNCNAME PIPESTATUS REPLY COLUMNS LINES DEBIAN_FRONTEND NEEDRESTART_MODE "

ik__reserved_name() {
  [[ "$1" == IK_* || "$1" == LC_* || "$1" == LD_* || "$1" == BASH* ||
    "${IK__RESERVED_NAMES}" == *" $1 "* ]]
}

# ik__unquote RAW: decode one shell word written by shlex.quote (or plain
# single quotes) into REPLY without evaluating it. Returns 1 if RAW uses any
# other syntax.
ik__unquote() {
  local raw="$1" out=""
  local re_sq="^'([^']*)'(.*)$"
  local re_dq_quote="^\"'\"(.*)$"
  local re_bs_quote="^\\\\'(.*)$"
  local re_plain='^([A-Za-z0-9@%+=:,./_-]+)(.*)$'
  while [[ -n "${raw}" ]]; do
    if [[ "${raw}" =~ ${re_sq} ]]; then
      out+="${BASH_REMATCH[1]}"
      raw="${BASH_REMATCH[2]}"
    elif [[ "${raw}" =~ ${re_dq_quote} ]]; then
      out+="'"
      raw="${BASH_REMATCH[1]}"
    elif [[ "${raw}" =~ ${re_bs_quote} ]]; then
      out+="'"
      raw="${BASH_REMATCH[1]}"
    elif [[ "${raw}" =~ ${re_plain} ]]; then
      out+="${BASH_REMATCH[1]}"
      raw="${BASH_REMATCH[2]}"
    else
      return 1
    fi
  done
  REPLY="${out}"
}

# ik_load_params FILE: export every KEY=value line (values shell-quoted as
# written by shlex.quote). Blank lines and '#' comments are skipped; anything
# else is an error. The file is parsed, never sourced.
ik_load_params() {
  local file="$1" line name raw n=0
  local -A seen=()
  [[ -f "${file}" ]] || ik_die "params file ${file} is missing"
  while IFS= read -r line || [[ -n "${line}" ]]; do
    n=$((n + 1))
    [[ -z "${line}" || "${line}" == '#'* ]] && continue
    [[ "${line}" =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] \
      || ik_die "${file} line ${n}: expected KEY='value'" 2
    name="${BASH_REMATCH[1]}"
    raw="${BASH_REMATCH[2]}"
    [[ "${name}" =~ ${IK__NAME_RE} ]] || ik_die "${file} line ${n}: parameter ${name} must be UPPER_CASE" 2
    ik__reserved_name "${name}" && ik_die "${file} line ${n}: parameter name ${name} is reserved" 2
    [[ -z "${seen[${name}]:-}" ]] || ik_die "${file} line ${n}: parameter ${name} is set twice" 2
    seen[${name}]=1
    REPLY=""
    ik__unquote "${raw}" || ik_die "${file} line ${n}: the value of ${name} is not a single-quoted shell word" 2
    printf -v "${name}" '%s' "${REPLY}"
    export "${name?}"
  done <"${file}"
}

# ik_read_secrets NAMES_FILE: read NAME=value lines from stdin; exactly the
# names listed in NAMES_FILE, each once, non-empty; anything else is an error.
# Values are exported and never printed.
ik_read_secrets() {
  local names_file="$1" line name value n=0
  local -A wanted=() got=()
  while IFS= read -r name || [[ -n "${name}" ]]; do
    [[ -z "${name}" ]] && continue
    [[ "${name}" =~ ${IK__NAME_RE} ]] || ik_die "secret name '${name}' in ${names_file} is not UPPER_CASE" 2
    ik__reserved_name "${name}" && ik_die "secret name ${name} is reserved" 2
    wanted[${name}]=1
  done <"${names_file}"
  while IFS= read -r line || [[ -n "${line}" ]]; do
    n=$((n + 1))
    if [[ ! "${line}" =~ ^([A-Z][A-Z0-9_]{0,63})=(.*)$ ]]; then
      ik_die "stdin line ${n} is not NAME=value (contents not shown)" 4
    fi
    name="${BASH_REMATCH[1]}"
    value="${BASH_REMATCH[2]}"
    [[ -n "${wanted[${name}]:-}" ]] || ik_die "stdin line ${n}: unexpected secret ${name} (this step takes: ${!wanted[*]})" 4
    [[ -z "${got[${name}]:-}" ]] || ik_die "stdin line ${n}: secret ${name} given twice" 4
    [[ -n "${value}" ]] || ik_die "stdin line ${n}: secret ${name} is empty" 4
    got[${name}]=1
    printf -v "${name}" '%s' "${value}"
    export "${name?}"
  done
  for name in "${!wanted[@]}"; do
    [[ -n "${got[${name}]:-}" ]] || ik_die "secret ${name} was not given on stdin" 4
  done
}
