#!/usr/bin/env bash
#
# firewall_ufw.sh: ufw with exactly the planned inbound allow-list, never dropping admin SSH.
#
# Inputs (environment):
#   SSH_PORT       the sshd port (required)
#   ADMIN_CIDRS    space-separated CIDRs the admins connect from (required)
#   SYSCTL_FILE    the sysctl step's file (default /etc/sysctl.d/zz-infrakit.conf)
#   IK_SSH_CLIENT  the address this run comes from (set by run_step.sh;
#                  optional); when set it must be inside one of ADMIN_CIDRS
# Rendered files (files.tsv):
#   rules -> /etc/infrakit/firewall.rules: lines `proto port source comment`
#            (proto tcp|udp, port N or N:M, source `any` or a CIDR, comment a
#            word); `#` starts a comment line
#   ssh-ratelimit.nft -> /etc/infrakit/ssh-ratelimit.nft: the nftables table
#            `inet infrakit_ssh` limiting new SSH connections per client address
#   infrakit-ssh-ratelimit.service -> /etc/systemd/system/: loads that table
#            at boot (checked with `nft -c` first; rolled back if refused)
#
# Defaults: deny incoming, allow outgoing, deny routed; IPV6=yes; when the
# sysctl step's SYSCTL_FILE exists, ufw applies
# /etc/infrakit/ufw-sysctl.conf at start instead of /etc/ufw/sysctl.conf: the
# same minus the keys InfraKit sets (ufw's log_martians=0 would undo the sysctl
# step at every boot). The ufw rule
# set (IPv4 and IPv6, as stored in /etc/ufw/user.rules and user6.rules) is
# converged to exactly the file: missing rules are added first, then every
# other rule is deleted and reported. Lock-out guard: refuses (non-zero,
# nothing changed) unless the file allows SSH_PORT/tcp from every ADMIN_CIDR
# and IK_SSH_CLIENT, if set, is inside ADMIN_CIDRS. Enables ufw (--force) last.
# Stdout: infrakit: ufw added=<n> deleted=<n>, then the step line.
# Last stdout line: infrakit: step=<step> changed=<0|1>

# shellcheck source-path=SCRIPTDIR source=../lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/files.sh
source "${IK_LIB}/files.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/systemd.sh
source "${IK_LIB}/systemd.sh"

readonly UFW_DEFAULTS=/etc/default/ufw
readonly UFW_SYSCTL=/etc/ufw/sysctl.conf
readonly INFRAKIT_SYSCTL="${SYSCTL_FILE:-/etc/sysctl.d/zz-infrakit.conf}"
readonly UFW_SYSCTL_DERIVED=/etc/infrakit/ufw-sysctl.conf

# The rule logic, in python3 (present on every supported target):
#   check RULES SSH_PORT CLIENT CIDR...  lock-out guard; exit 1 with reasons
#   plan RULES IPV6                      print what differs from ufw's rules:
#     add<TAB>proto<TAB>port<TAB>source<TAB>comment   (a planned rule missing)
#     delete<TAB>number<TAB>description               (a rule not planned,
#                                                      highest number first)
#   check-plan RULES SSH_PORT CLIENT IPV6 CIDR...  both (exit 3 if check refuses)
# shellcheck disable=SC2016  # python source, not shell
readonly UFW_PY='
import binascii, ipaddress, re, sys

def die(msg):
    sys.stderr.write(msg + "\n")
    sys.exit(1)

def read_rules(path):
    rules = []
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 4:
            die(f"rules line {n}: expected `proto port source comment`")
        proto, port, source, comment = parts
        if proto not in ("tcp", "udp"):
            die(f"rules line {n}: proto must be tcp or udp")
        m = re.fullmatch(r"([0-9]{1,5})(?::([0-9]{1,5}))?", port)
        if not m or not all(1 <= int(p) <= 65535 for p in m.groups() if p) \
                or (m.group(2) and int(m.group(2)) <= int(m.group(1))):
            die(f"rules line {n}: bad port {port!r}")
        if source != "any":
            try:
                ipaddress.ip_network(source, strict=True)
            except ValueError as exc:
                die(f"rules line {n}: bad source {source!r} ({exc})")
        if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", comment):
            die(f"rules line {n}: bad comment {comment!r}")
        rules.append((proto, port, source, comment))
    return rules

def covers(port, want):
    lo, _, hi = port.partition(":")
    return int(lo) <= want <= int(hi or lo)

def check(args):
    path, ssh_port, client, cidrs = args[0], int(args[1]), args[2], args[3:]
    if not cidrs:
        die("ADMIN_CIDRS is empty")
    nets = []
    for cidr in cidrs:
        try:
            nets.append(ipaddress.ip_network(cidr, strict=False))
        except ValueError as exc:
            die(f"ADMIN_CIDRS: bad CIDR {cidr!r} ({exc})")
    ssh = [r for r in read_rules(path) if r[0] == "tcp" and covers(r[1], ssh_port)]
    problems = []
    for net in nets:
        if not any(r[2] == "any" or (ipaddress.ip_network(r[2]).version == net.version
                                     and net.subnet_of(ipaddress.ip_network(r[2]))) for r in ssh):
            problems.append(f"no rule allows {ssh_port}/tcp from admin CIDR {net}")
    if client:
        try:
            ip = ipaddress.ip_address(client)
        except ValueError:
            die(f"IK_SSH_CLIENT {client!r} is not an IP address")
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if not any(ip.version == net.version and ip in net for net in nets):
            joined = " ".join(cidrs)
            problems.append(f"this run comes from {ip}, which is in none of ADMIN_CIDRS ({joined})")
    if problems:
        die("; ".join(problems))

def existing():
    """The tuples ufw stores, in the order `ufw delete NUM` numbers them."""
    rules = []
    for path, v6 in (("/etc/ufw/user.rules", False), ("/etc/ufw/user6.rules", True)):
        try:
            lines = open(path, encoding="utf-8").read().splitlines()
        except FileNotFoundError:
            continue
        for line in lines:
            if not line.startswith("### tuple ###"):
                continue
            comment = ""
            if " comment=" in line:
                line, comment = line.split(" comment=", 1)
                comment = comment.strip()
            f = line[len("### tuple ###"):].split()
            if len(f) not in (7, 9):
                die(f"cannot parse ufw rule {line!r} in {path}")
            dapp = sapp = ""
            if len(f) == 9:
                dapp = "" if f[6] == "-" else f[6].replace("%20", " ")
                sapp = "" if f[7] == "-" else f[7].replace("%20", " ")
            rules.append({"v6": v6, "key": (v6, f[0], f[1], f[2], f[3], f[4], f[5], dapp, sapp, f[-1]),
                          "comment": comment, "dapp": dapp, "sapp": sapp, "text": " ".join(f)})
    number, seen = 0, set()
    for r in rules:
        r["number"] = None
        if r["dapp"] or r["sapp"]:
            k = r["key"]
            app = (k[7] or k[3], k[4], k[8] or k[5], k[6], k[9])
            if app in seen:
                continue
            seen.add(app)
        number += 1
        r["number"] = number
    return rules

def hexc(text):
    return binascii.hexlify(text.encode()).decode()

def wanted(rule, ipv6):
    proto, port, source, comment = rule
    out = []
    for v6, anywhere in ((False, "0.0.0.0/0"), (True, "::/0")):
        if v6 and not ipv6:
            continue
        if source == "any":
            src = anywhere
        else:
            net = ipaddress.ip_network(source)
            if (net.version == 6) != v6:
                continue
            src = str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)
        out.append(((v6, "allow", proto, port, anywhere, "any", src, "", "", "in"), hexc(comment)))
    return out

def plan(args):
    rules, ipv6 = read_rules(args[0]), args[1] == "yes"
    have = existing()
    have_full = {(r["key"], r["comment"]) for r in have}
    want_keys = set()
    for rule in rules:
        tuples = wanted(rule, ipv6)
        want_keys.update(k for k, _ in tuples)
        if any(t not in have_full for t in tuples):
            print("add", *rule, sep="\t")
    extra = [r for r in have if r["key"] not in want_keys and r["number"] is not None]
    for r in sorted(extra, key=lambda r: -r["number"]):
        desc = r["text"] + (" (v6)" if r["v6"] else "")
        if r["comment"]:
            desc += " comment=" + binascii.unhexlify(r["comment"]).decode(errors="replace")
        print("delete", r["number"], desc, sep="\t")

def check_plan(args):
    """check, then plan: what a run needs first, in one python start. Exit 3: refused."""
    rules, ssh_port, client, ipv6, cidrs = args[0], args[1], args[2], args[3], args[4:]
    try:
        check([rules, ssh_port, client, *cidrs])
    except SystemExit:
        sys.exit(3)
    plan([rules, ipv6])

{"check": check, "plan": plan, "check-plan": check_plan}[sys.argv[1]](sys.argv[2:])
'

ufw_py() {
  python3 -c "${UFW_PY}" "$@"
}

# Which sysctl file ufw applies when it starts: ufw's own, minus every key the
# sysctl step manages (ufw's file sets e.g. log_martians=0 and would undo the
# sysctl step at each boot). Without the sysctl step's file, ufw's own file.
ufw_sysctl_file() {
  local tmp
  if [[ ! -f "${INFRAKIT_SYSCTL}" || ! -f "${UFW_SYSCTL}" ]]; then
    printf '%s\n' "${UFW_SYSCTL}"
    return 0
  fi
  ik_tmpfile tmp
  {
    printf '# Managed by InfraKit (firewall_ufw): %s without the keys that\n' "${UFW_SYSCTL}"
    printf '# %s sets, so that ufw does not undo them when it starts.\n' "${INFRAKIT_SYSCTL}"
    awk -F= '
      NR == FNR { if ($0 !~ /^[[:space:]]*([#;]|$)/) { k = $1; gsub(/[[:space:]-]/, "", k); ours[k] = 1 }; next }
      /^[[:space:]]*([#;]|$)/ { next }
      { k = $1; gsub(/[[:space:]]/, "", k); gsub(/\//, ".", k); if (!(k in ours)) print }
    ' "${INFRAKIT_SYSCTL}" "${UFW_SYSCTL}"
  } > "${tmp}"
  ik_write_file "${tmp}" "${UFW_SYSCTL_DERIVED}" 0644 root:root || true
  SYSCTL_FILE="${UFW_SYSCTL_DERIVED}"
}

# /etc/default/ufw: IPV6=yes and IPT_SYSCTL=<file>. Predicate: 0 if changed.
ensure_ufw_defaults_file() {
  local sysctl_file="$1" tmp
  ik_tmpfile tmp
  awk -v sysctl_file="${sysctl_file}" '
    /^IPV6=/ { print "IPV6=yes"; v6 = 1; next }
    /^IPT_SYSCTL=/ { print "IPT_SYSCTL=" sysctl_file; sc = 1; next }
    { print }
    END { if (!v6) print "IPV6=yes"; if (!sc) print "IPT_SYSCTL=" sysctl_file }
  ' "${UFW_DEFAULTS}" > "${tmp}"
  ik_write_file "${tmp}" "${UFW_DEFAULTS}" 0644 root:root
}

# ensure_default KEY VALUE DIRECTION POLICY: e.g. DEFAULT_INPUT_POLICY DROP incoming deny.
# file_has_line FILE LINE: FILE has exactly LINE as one of its lines (no grep fork).
file_has_line() {
  local want="$2" line
  while IFS= read -r line || [[ -n "${line}" ]]; do
    [[ "${line}" == "${want}" ]] && return 0
  done < "$1"
  return 1
}

ensure_default() {
  local key="$1" value="$2" direction="$3" policy="$4"
  if ! file_has_line "${UFW_DEFAULTS}" "${key}=\"${value}\""; then
    ufw default "${policy}" "${direction}" >&2
    ik_log "default ${direction} policy set to ${policy}"
    ik_changed
  fi
}

# What `ufw status` calls "Status: active" (ufw/backend_iptables.py get_status): ufw's
# user chains are loaded in the kernel, IPv4 and IPv6 (IPV6=yes is set above). Six
# iptables calls take ~20 ms; `ufw status` starts python: ~100 ms, more under load.
ufw_active() {
  local direction
  for direction in input output forward; do
    iptables -n -L "ufw-user-${direction}" >/dev/null 2>&1 || return 1
    ip6tables -n -L "ufw6-user-${direction}" >/dev/null 2>&1 || return 1
  done
}

# first_delete PLAN: the first `delete` line of PLAN into LINE ("" if none).
first_delete() {
  local l
  LINE=""
  while IFS= read -r l; do
    if [[ "${l}" == delete$'\t'* ]]; then
      LINE="${l}"
      return 0
    fi
  done <<< "$1"
}

readonly RATELIMIT_UNIT=infrakit-ssh-ratelimit.service

# ssh_rate_limit: install the rate-limit table and its unit, check the table with nft -c
# (refused: both files rolled back), then (re)load it through the unit.
ssh_rate_limit() {
  local nft_changed=0 unit_changed=0 out
  if ik_install_file ssh-ratelimit.nft; then
    nft_changed=1
  fi
  if ik_install_file "${RATELIMIT_UNIT}"; then
    unit_changed=1
    systemctl daemon-reload
  fi
  if ! out="$(nft -c -f "$(ik_file_dest ssh-ratelimit.nft)" 2>&1)"; then
    printf 'nft -c: %s\n' "${out}" >&2
    ik_rollback_files
    systemctl daemon-reload
    ik_die "nft -c rejects the SSH rate-limit table; rolled back"
  fi
  ik_refresh_unit "${RATELIMIT_UNIT}" 0 "$((nft_changed || unit_changed))"
  nft list table inet infrakit_ssh >/dev/null || ik_die "the SSH rate-limit table is not loaded"
}

main() {
  ik_args "$@"
  ik_require_root
  ik_require_os
  ik_require_env SSH_PORT ADMIN_CIDRS
  ik_require_match SSH_PORT '^[1-9][0-9]{0,4}$' "a port number"
  command -v ufw >/dev/null || ik_die "ufw is not installed (the base_packages step installs it)"
  command -v python3 >/dev/null || ik_die "python3 is required"
  local rules client="${IK_SSH_CLIENT:-}"
  local -a cidrs
  read -r -a cidrs <<< "${ADMIN_CIDRS}"
  rules="$(ik_file rules)"

  # The plan is recomputed (python) only after ufw's rules changed: a run with nothing to
  # do starts python once.
  local plan rc=0
  plan="$(ufw_py check-plan "${rules}" "${SSH_PORT}" "${client}" yes "${cidrs[@]}" 2>&1)" || rc=$?
  case "${rc}" in
    0) ;;
    3) ik_die "lock-out guard: ${plan}; nothing changed" ;;
    *)
      printf '%s\n' "${plan}" >&2
      ik_die "cannot read the current ufw rules"
      ;;
  esac

  ik_install_file rules || true
  local defaults_changed=0 added=0 deleted=0 action proto port source comment number desc
  ufw_sysctl_file
  if ensure_ufw_defaults_file "${SYSCTL_FILE}"; then
    defaults_changed=1
  fi

  while IFS=$'\t' read -r action proto port source comment; do
    [[ "${action}" == "add" ]] || continue
    ufw allow proto "${proto}" from "${source}" to any port "${port}" comment "${comment}" < /dev/null >&2
    ik_log "allowed ${port}/${proto} from ${source} (${comment})"
    added=$((added + 1))
  done <<< "${plan}"
  if (( added )); then
    plan="$(ufw_py plan "${rules}" yes)"
  fi

  local rounds=0 LINE
  while first_delete "${plan}"; [[ -n "${LINE}" ]]; do
    rounds=$((rounds + 1))
    (( rounds <= 200 )) || ik_die "ufw rule deletion does not converge"
    IFS=$'\t' read -r action number desc <<< "${LINE}"
    ufw --force delete "${number}" < /dev/null >&2
    ik_warn "deleted ufw rule not in the plan: ${desc}"
    deleted=$((deleted + 1))
    plan="$(ufw_py plan "${rules}" yes)"  # numbers shift after a delete
  done

  ensure_default DEFAULT_INPUT_POLICY DROP incoming deny
  ensure_default DEFAULT_OUTPUT_POLICY ACCEPT outgoing allow
  ensure_default DEFAULT_FORWARD_POLICY DROP routed deny

  if [[ -n "${plan}" ]]; then
    ik_die "ufw rules still differ from the plan after converging: $(tr '\t\n' ' ;' <<< "${plan}")"
  fi
  if (( added || deleted )); then
    ik_changed
  fi

  local acted=0
  if ! ufw_active; then
    ufw --force enable >&2
    ik_log "ufw enabled"
    ik_changed
    acted=1
  elif (( defaults_changed )); then
    ufw reload >&2
    acted=1
  fi
  ik_ensure_unit ufw.service enable
  if (( acted )); then
    ufw_active || ik_die "ufw is not active after enabling it"
  fi
  ssh_rate_limit
  printf 'infrakit: ufw added=%s deleted=%s\n' "${added}" "${deleted}"
  ik_done
}

main "$@"
