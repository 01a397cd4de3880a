#!/usr/bin/env bash
#
# check_rpc.sh: one HTTP / JSON-RPC / REST health check with Nagios exit codes.
#
# Usage: CHECK_URL=http://127.0.0.1:8545 CHECK_RPC_METHOD=net_peerCount \
#          CHECK_QUERY='.result|hex' CHECK_WARN=5 CHECK_CRIT=1 CHECK_BOUND=min check_rpc.sh
# Inputs (environment):
#   CHECK_URL         http(s) URL to query (required)
#   CHECK_NAME        label printed in the result line (default: rpc)
#   CHECK_METHOD      GET or POST (default: GET; POST when a body is given)
#   CHECK_BODY        request body, e.g. a JSON-RPC call (default: none)
#   CHECK_RPC_METHOD  shorthand for a JSON-RPC 2.0 body calling this method
#   CHECK_RPC_PARAMS  its params as JSON (default: [])
#   CHECK_HEADERS     extra request headers, one "Name: value" per line
#   CHECK_EXPECT      a substring the response body must contain (default: any)
#   CHECK_QUERY       jq expression on the JSON body giving the number to compare
#                     (helpers: hex turns "0x1a" into 26, age turns a unix time
#                     or hex timestamp into seconds ago; true/false count as 1/0)
#   CHECK_WARN        warning threshold (default: none)
#   CHECK_CRIT        critical threshold (default: none)
#   CHECK_BOUND       max = above a threshold is bad (head age, blocks behind),
#                     min = below is bad (peers) (default: max)
#   CHECK_TIMEOUT     seconds for the whole request (default: 10)
#
# Prints one line "NAME OK|WARN|CRIT|UNKNOWN - summary | value=N;warn;crit"
# and exits 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN, as a Nagios plugin. A connection
# error, a non-2xx status or a JSON-RPC "error" member is CRIT; a query that
# yields no number is UNKNOWN. The URL and headers go to curl through its
# config on stdin, never on a command line. Changes nothing on the host.
# Last stdout line: infrakit: step=check_rpc changed=0

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"

# shellcheck disable=SC2016  # jq code, expanded by jq, not by the shell
readonly JQ_HELPERS='
def hex: if type == "string" and test("^0[xX][0-9a-fA-F]+$")
  then .[2:] | ascii_downcase | explode
       | reduce .[] as $c (0; . * 16 + (if $c >= 97 then $c - 87 else $c - 48 end))
  elif type == "string" then tonumber
  else . end;
def age: now - (hex);
'
readonly -a STATUS_NAMES=(OK WARN CRIT UNKNOWN)

# result CODE SUMMARY [VALUE]: print the plugin line and the done line, exit CODE.
result() {
  local code="$1" summary="$2" value="${3:-}" perf=""
  summary="${summary//$'\n'/ }"
  if [[ -n "${value}" ]]; then
    perf=" | value=${value};${CHECK_WARN};${CHECK_CRIT}"
  fi
  printf '%s %s - %s%s\n' "${CHECK_NAME}" "${STATUS_NAMES[code]}" "${summary:0:300}" "${perf}"
  ik_done
  exit "${code}"
}

# curl config syntax: a double-quoted string with \ and " escaped.
curl_quote() {
  local s="$1"
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  printf '"%s"' "${s}"
}

# compare VALUE: 0/1/2 against CHECK_WARN/CHECK_CRIT and CHECK_BOUND.
compare() {
  awk -v v="$1" -v w="${CHECK_WARN}" -v c="${CHECK_CRIT}" -v bound="${CHECK_BOUND}" 'BEGIN {
    bad = (bound == "min") ? -1 : 1
    if (c != "" && (v - c) * bad > 0) { print 2; exit }
    if (w != "" && (v - w) * bad > 0) { print 1; exit }
    print 0
  }'
}

main() {
  if (( $# )); then
    ik_args "$@"
  fi
  : "${CHECK_URL:=}" "${CHECK_NAME:=rpc}" "${CHECK_METHOD:=}" "${CHECK_BODY:=}" "${CHECK_RPC_METHOD:=}"
  : "${CHECK_RPC_PARAMS:=[]}" "${CHECK_HEADERS:=}" "${CHECK_EXPECT:=}" "${CHECK_QUERY:=}"
  : "${CHECK_WARN:=}" "${CHECK_CRIT:=}" "${CHECK_BOUND:=max}" "${CHECK_TIMEOUT:=10}"
  [[ "${CHECK_NAME}" =~ ^[A-Za-z0-9_.:-]{1,60}$ ]] || CHECK_NAME=rpc
  [[ "${CHECK_URL}" =~ ^https?://[^[:space:]]+$ ]] || result 3 "CHECK_URL is missing or not an http(s) URL"
  [[ "${CHECK_TIMEOUT}" =~ ^[0-9]{1,3}$ ]] || result 3 "CHECK_TIMEOUT='${CHECK_TIMEOUT}' is not a number of seconds"
  [[ "${CHECK_BOUND}" == max || "${CHECK_BOUND}" == min ]] || result 3 "CHECK_BOUND must be max or min"
  local num_re='^-?[0-9]+([.][0-9]+)?([eE][-+]?[0-9]+)?$'
  [[ -z "${CHECK_WARN}" || "${CHECK_WARN}" =~ ${num_re} ]] || result 3 "CHECK_WARN is not a number"
  [[ -z "${CHECK_CRIT}" || "${CHECK_CRIT}" =~ ${num_re} ]] || result 3 "CHECK_CRIT is not a number"
  command -v curl >/dev/null || result 3 "curl is not installed"
  command -v jq >/dev/null || result 3 "jq is not installed"

  if [[ -n "${CHECK_RPC_METHOD}" && -z "${CHECK_BODY}" ]]; then
    [[ "${CHECK_RPC_METHOD}" =~ ^[A-Za-z0-9_.]{1,80}$ ]] || result 3 "CHECK_RPC_METHOD is not a method name"
    CHECK_BODY="$(jq -cn --arg m "${CHECK_RPC_METHOD}" --argjson p "${CHECK_RPC_PARAMS}" \
      '{jsonrpc: "2.0", id: 1, method: $m, params: $p}' 2>/dev/null)" \
      || result 3 "CHECK_RPC_PARAMS is not valid JSON"
  fi
  if [[ -z "${CHECK_METHOD}" ]]; then
    CHECK_METHOD=GET
    [[ -n "${CHECK_BODY}" ]] && CHECK_METHOD=POST
  fi
  [[ "${CHECK_METHOD}" == GET || "${CHECK_METHOD}" == POST ]] || result 3 "CHECK_METHOD must be GET or POST"

  local tmp body_file req_file status rc=0 line has_ct=0
  local -a headers=()
  while IFS= read -r line; do
    [[ -z "${line}" ]] && continue
    [[ "${line}" =~ ^[A-Za-z0-9-]+:\ ?[^[:cntrl:]]*$ ]] || result 3 "CHECK_HEADERS line is not 'Name: value'"
    if [[ "${line,,}" == content-type:* ]]; then
      has_ct=1
    fi
    headers+=("${line}")
  done <<< "${CHECK_HEADERS}"
  if [[ -n "${CHECK_BODY}" ]] && (( ! has_ct )); then
    headers+=("Content-Type: application/json")
  fi
  ik_tmpdir tmp
  body_file="${tmp}/body"
  req_file="${tmp}/request"
  {
    printf 'url = %s\n' "$(curl_quote "${CHECK_URL}")"
    printf 'request = %s\n' "${CHECK_METHOD}"
    for line in "${headers[@]}"; do
      printf 'header = %s\n' "$(curl_quote "${line}")"
    done
    if [[ -n "${CHECK_BODY}" ]]; then
      printf 'data-binary = "@%s"\n' "${req_file}"
    fi
  } > "${tmp}/curl.conf"
  printf '%s' "${CHECK_BODY}" > "${req_file}"

  status="$(curl --silent --show-error --max-time "${CHECK_TIMEOUT}" --connect-timeout "${CHECK_TIMEOUT}" \
    --proto '=http,https' --max-filesize 10485760 --output "${body_file}" --write-out '%{http_code}' \
    --config - < "${tmp}/curl.conf" 2>"${tmp}/err")" || rc=$?
  if (( rc != 0 )); then
    result 2 "request failed: $(head -c 200 "${tmp}/err" | tr -d '\n') (curl exit ${rc})"
  fi
  [[ "${status}" =~ ^2[0-9][0-9]$ ]] || result 2 "HTTP ${status} from ${CHECK_URL%%\?*}"

  if [[ -n "${CHECK_EXPECT}" ]] && ! grep -qF -- "${CHECK_EXPECT}" "${body_file}"; then
    result 2 "response does not contain '${CHECK_EXPECT}'"
  fi
  if [[ -n "${CHECK_BODY}" ]] && jq -e 'type == "object" and has("error")' "${body_file}" >/dev/null 2>&1; then
    result 2 "JSON-RPC error: $(jq -c '.error' "${body_file}" | head -c 200)"
  fi
  if [[ -z "${CHECK_QUERY}" ]]; then
    result 0 "HTTP ${status}$([[ -n "${CHECK_EXPECT}" ]] && printf ', body has the expected text')"
  fi

  local value verdict
  value="$(jq -r "${JQ_HELPERS} (${CHECK_QUERY}) | if type == \"boolean\" then (if . then 1 else 0 end) else . end" \
    "${body_file}" 2>"${tmp}/jqerr" | head -n 1)" || result 3 "query failed: $(head -c 200 "${tmp}/jqerr")"
  [[ "${value}" =~ ${num_re} ]] || result 3 "query gave '${value:0:60}', not a number"
  if [[ "${value}" == *.* ]]; then
    value="$(awk -v v="${value}" 'BEGIN { printf "%.3f", v }')"
  fi
  verdict="$(compare "${value}")"
  local limits=""
  [[ -n "${CHECK_WARN}" ]] && limits+=" warn ${CHECK_BOUND} ${CHECK_WARN}"
  [[ -n "${CHECK_CRIT}" ]] && limits+=" crit ${CHECK_BOUND} ${CHECK_CRIT}"
  result "${verdict}" "value ${value}${limits:+ (${limits# })}" "${value}"
}

main "$@"
