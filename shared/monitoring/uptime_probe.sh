#!/usr/bin/env bash
#
# uptime_probe.sh: run the node's health checks and alert on state changes only.
#
# Inputs (environment):
#   ALERT_WEBHOOK_URL  secret webhook URL (from /etc/infrakit/node.env through the
#                      unit's EnvironmentFile; never on a command line or in a
#                      log). Unset: changes are logged, nothing is sent.
#   MONITORING_CONFIG  status server config (default: /etc/infrakit/monitoring.json);
#                      its "alert" object gives format (generic|telegram|discord)
#                      and telegram_chat_id
#   PROBE_STATE_DIR    where the last known states live (default:
#                      $STATE_DIRECTORY, else /var/lib/infrakit-probe)
#   PROBE_RESULTS      test hook: a file with check results (JSON list of
#                      {name, status, summary}) instead of running the checks
#   PROBE_SEND_TIMEOUT seconds per webhook request (default: 10)
#
# Runs every check once (status_server.py check, the same code as the status
# page), compares each check's status with the last one recorded, and sends one
# alert per change: a PROBLEM when a check enters WARN, CRIT or UNKNOWN (or moves
# between them), a RECOVERY when it returns to OK (SKIPPED counts as not a
# problem). An unchanged state sends nothing, so a long outage is one alert, not
# a storm. A change whose alert could not be delivered is not recorded and is
# retried at the next probe. Runs as the unprivileged monitoring user from
# infrakit-probe.timer.
# Last stdout line: infrakit: step=uptime_probe changed=<0|1> (1 = a state changed)

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"

HERE="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
readonly HERE

is_problem() {
  [[ "$1" == WARN || "$1" == CRIT || "$1" == UNKNOWN ]]
}

# payload EVENT NAME STATUS PREVIOUS SUMMARY: the alert body in the configured format.
payload() {
  local event="$1" name="$2" status="$3" previous="$4" summary="$5" text
  text="${event} ${STACK}/$(hostname): ${name} is ${status} (was ${previous}): ${summary}"
  case "${FORMAT}" in
    telegram)
      jq -cn --arg chat "${CHAT_ID}" --arg text "${text}" \
        '{chat_id: $chat, text: $text, disable_web_page_preview: true}'
      ;;
    discord)
      jq -cn --arg text "${text:0:1900}" '{content: $text, username: "infrakit"}'
      ;;
    *)
      jq -cn --arg event "${event,,}" --arg stack "${STACK}" --arg host "$(hostname)" --arg check "${name}" \
        --arg status "${status}" --arg previous "${previous}" --arg summary "${summary}" --arg text "${text}" \
        --arg time "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        '{source: "infrakit", event: $event, stack: $stack, host: $host, check: $check, status: $status,
          previous: $previous, summary: $summary, text: $text, time: $time}'
      ;;
  esac
}

# send BODY_FILE: POST to the webhook; 0 when it answered 2xx. The URL reaches
# curl through its config on stdin; curl's own messages are dropped because they
# could quote the URL.
send() {
  local body="$1" code rc=0 url
  url="${ALERT_WEBHOOK_URL//\\/\\\\}"
  url="${url//\"/\\\"}"
  code="$(printf 'url = "%s"\n' "${url}" | curl --silent --max-time "${PROBE_SEND_TIMEOUT}" \
    --connect-timeout "${PROBE_SEND_TIMEOUT}" --proto '=http,https' --output /dev/null \
    --write-out '%{http_code}' --header 'Content-Type: application/json' --data-binary "@${body}" \
    --config - 2>/dev/null)" || rc=$?
  if (( rc != 0 )) || [[ ! "${code}" =~ ^2[0-9][0-9]$ ]]; then
    ik_warn "webhook delivery failed (curl exit ${rc}, HTTP ${code:-none}); will retry at the next probe"
    return 1
  fi
  return 0
}

main() {
  ik_args "$@"
  : "${MONITORING_CONFIG:=/etc/infrakit/monitoring.json}" "${PROBE_RESULTS:=}" "${PROBE_SEND_TIMEOUT:=10}"
  : "${PROBE_STATE_DIR:=${STATE_DIRECTORY:-/var/lib/infrakit-probe}}" "${ALERT_WEBHOOK_URL:=}"
  ik_require_match PROBE_SEND_TIMEOUT '^[0-9]{1,3}$' "a number of seconds"
  [[ -r "${MONITORING_CONFIG}" ]] || ik_die "cannot read ${MONITORING_CONFIG}"
  [[ -d "${PROBE_STATE_DIR}" && -w "${PROBE_STATE_DIR}" ]] || ik_die "state dir ${PROBE_STATE_DIR} is missing or not writable"
  if [[ -n "${ALERT_WEBHOOK_URL}" && ! "${ALERT_WEBHOOK_URL}" =~ ^https?://[^[:space:]]+$ ]]; then
    ik_die "ALERT_WEBHOOK_URL is not an http(s) URL (value not shown)"
  fi
  STACK="$(jq -r '.stack // ""' "${MONITORING_CONFIG}")"
  FORMAT="$(jq -r '.alert.format // "generic"' "${MONITORING_CONFIG}")"
  CHAT_ID="$(jq -r '.alert.telegram_chat_id // ""' "${MONITORING_CONFIG}")"
  readonly STACK FORMAT CHAT_ID

  local tmp results state_file new_state
  ik_tmpdir tmp
  results="${tmp}/results.json"
  if [[ -n "${PROBE_RESULTS}" ]]; then
    cp -- "${PROBE_RESULTS}" "${results}"
  elif ! timeout 300 python3 -I "${HERE}/status_server.py" check --config "${MONITORING_CONFIG}" > "${results}"; then
    printf '[{"name": "probe", "status": "UNKNOWN", "summary": "status_server.py check failed"}]\n' > "${results}"
  fi
  jq -e 'type == "array"' "${results}" >/dev/null || ik_die "check results are not a JSON list"

  state_file="${PROBE_STATE_DIR}/state.json"
  [[ -s "${state_file}" ]] && jq -e 'type == "object"' "${state_file}" >/dev/null 2>&1 \
    || printf '{}\n' > "${state_file}"
  cp -- "${state_file}" "${tmp}/state.json"
  new_state="${tmp}/state.json"

  local name status summary previous event sent=0 failed=0
  while IFS=$'\t' read -r name status summary; do
    previous="$(jq -r --arg n "${name}" '.[$n] // "OK"' "${new_state}")"
    [[ "${status}" == "${previous}" ]] && continue
    event=""
    if is_problem "${status}"; then
      event=PROBLEM
    elif is_problem "${previous}"; then
      event=RECOVERY
    fi
    if [[ -n "${event}" ]]; then
      ik_log "${event}: ${name} ${previous} -> ${status}: ${summary}"
      if [[ -n "${ALERT_WEBHOOK_URL}" ]]; then
        payload "${event}" "${name}" "${status}" "${previous}" "${summary}" > "${tmp}/alert.json"
        if ! send "${tmp}/alert.json"; then
          failed=$((failed + 1))
          continue
        fi
        sent=$((sent + 1))
      fi
    else
      ik_log "${name}: ${previous} -> ${status} (no alert)"
    fi
    jq --arg n "${name}" --arg s "${status}" '.[$n] = $s' "${new_state}" > "${tmp}/next.json"
    mv -f -- "${tmp}/next.json" "${new_state}"
    ik_changed
  done < <(jq -r '.[] | [.name, .status, (.summary // "" | gsub("[\t\n]"; " "))] | @tsv' "${results}")

  # Forget checks that are no longer planned.
  jq --slurpfile r "${results}" 'with_entries(select(.key as $k | $r[0] | any(.name == $k)))' \
    "${new_state}" > "${tmp}/next.json"
  if ! cmp -s "${tmp}/next.json" "${state_file}"; then
    install -m 0600 -- "${tmp}/next.json" "${state_file}.tmp"
    mv -f -- "${state_file}.tmp" "${state_file}"
  fi
  printf 'infrakit: probe checks=%s alerts_sent=%s alerts_failed=%s\n' \
    "$(jq length "${results}")" "${sent}" "${failed}"
  ik_done
}

main "$@"
