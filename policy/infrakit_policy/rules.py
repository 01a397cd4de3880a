"""The rules, as pure functions of resource properties: each returns its violations (messages).

No Pulumi import here, so every rule is unit-tested with plain dictionaries
(tests/policy/test_rules.py) and the wiring (pack.py) stays thin. Property names are the
engine's (camelCase): what a policy sees in `args.props`.

Inputs:
- hcloud Firewall `rules`: [{direction, protocol, port ("22", "80-85", "any"), sourceIps, description}]
- hcloud Server `deleteProtection`, `rebuildProtection`; PrimaryIp and Volume `deleteProtection`;
  every InfraKit cloud resource carries `labels.role` and `labels.stack`
- the program's `policyFacts` stack output (infrakit/policy_facts.py): the host firewall (ufw, on
  every target), the ports with their exposure, `protected`, and every artifact with its pin
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

FIREWALL = "hcloud:index/firewall:Firewall"
SERVER = "hcloud:index/server:Server"
PRIMARY_IP = "hcloud:index/primaryIp:PrimaryIp"
VOLUME = "hcloud:index/volume:Volume"
STACK = "pulumi:pulumi:Stack"
FACTS_OUTPUT = "policyFacts"
FACTS_SCHEMA = 1

# TCP ports that serve an API, an engine, metrics or monitoring: never open to the world. The
# defaults of the clients InfraKit runs (adapters/ethereum/CLIENTS.md) and of its own services.
# All are HTTP/gRPC over TCP; the same numbers over UDP are something else (9001/udp is
# lighthouse's QUIC), so a UDP rule is judged by its purpose only.
SENSITIVE_PORTS: Mapping[int, str] = {
    8545: "execution JSON-RPC (HTTP)",
    8546: "execution JSON-RPC (WebSocket)",
    8551: "engine API (JWT)",
    5051: "beacon API (teku)",
    5052: "beacon API (lighthouse, nimbus)",
    3500: "beacon API (prysm)",
    4000: "beacon gRPC (prysm)",
    9596: "beacon API (lodestar)",
    5062: "validator keymanager API",
    7500: "validator keymanager API (prysm)",
    6060: "geth metrics",
    9001: "reth metrics",
    9091: "nethermind metrics",
    5054: "beacon metrics (lighthouse)",
    5064: "validator metrics (lighthouse)",
    8008: "teku metrics",
    8080: "prysm beacon metrics",
    8081: "prysm validator metrics",
    8009: "lodestar metrics",
    18550: "mev-boost",
    9100: "node exporter",
    9108: "InfraKit status server",
}
# A purpose (firewall rule description) that names one of those, whatever the port number.
SENSITIVE_PURPOSE = re.compile(
    r"\b(rpc|json-rpc|engine|api|metrics|exporter|status|keymanager|mev-boost|grpc)\b", re.IGNORECASE
)
SSH_PURPOSE = re.compile(r"\bssh\b", re.IGNORECASE)
# The web proxy's own ports: it serves RPC and status only to rpcAllowCidrs and/or with basic
# auth, which web_rpc_public judges; its purpose naming "rpc" is not an open RPC port.
WEB_PROXY_PORTS = {80, 443}
SHA256_PIN = re.compile(r"^sha256:[0-9a-f]{64}$")
VERSION = re.compile(r"^v?[0-9]+(\.[0-9A-Za-z+_-]+)*$")
# Debian versions: [epoch:]upstream[-revision], no wildcard.
APT_VERSION = re.compile(r"^([0-9]+:)?[0-9][A-Za-z0-9.+~-]*$")
UNPINNED_VERSIONS = {"", "latest", "stable", "main", "master", "nightly", "unstable", "edge"}

Violations = list[str]


# ------------------------------------------------------------------------------- helpers ----
def is_world(cidr: str) -> bool:
    """A source that admits every address: a /0 in either family (0.0.0.0/0, ::/0, 0::0/0, ...)."""
    try:
        return ipaddress.ip_network(str(cidr).strip(), strict=False).prefixlen == 0
    except ValueError:
        return str(cidr).strip().lower() in {"any", "*"}


def port_range(spec: Any) -> tuple[int, int] | None:
    """hcloud's port spec ("22", "80-85", "any") as an inclusive range; None if it has none (icmp)."""
    if spec is None or spec == "":
        return None
    if isinstance(spec, int | float) and not isinstance(spec, bool):
        return (int(spec), int(spec))  # the engine hands numbers over as floats (22.0)
    text = str(spec).strip().lower()
    if text == "any":
        return (1, 65535)
    match = re.fullmatch(r"(\d+)(?:\.0)?(?:-(\d+)(?:\.0)?)?", text)
    if not match:
        return (1, 65535)  # unreadable: assume the worst
    low = int(match.group(1))
    high = int(match.group(2) or low)
    return (min(low, high), max(low, high))


def covers(spec: Any, port: int) -> bool:
    span = port_range(spec)
    return span is not None and span[0] <= port <= span[1]


def _sources(rule: Mapping[str, Any]) -> list[str]:
    return [str(s) for s in (rule.get("sourceIps") or rule.get("sources") or [])]


def _inbound(rules: Iterable[Mapping[str, Any]] | None) -> list[Mapping[str, Any]]:
    return [r for r in (rules or []) if str(r.get("direction", "in")).lower() == "in"]


def _label(rule: Mapping[str, Any]) -> str:
    port = rule.get("port", "")
    if isinstance(port, float) and port.is_integer():
        port = int(port)
    text = rule.get("description") or rule.get("purpose") or ""
    return f"{rule.get('protocol', '?')}/{port}" + (f" ({text})" if text else "")


def is_validator(role: Any) -> bool:
    """A role named as a validator (the program asks the adapter: Role.holds_keys, in the facts as holdsKeys)."""
    return "validator" in str(role or "")


# ----------------------------------------------------------------- rule 1: SSH and world ----
def ssh_open_to_world(rules: Iterable[Mapping[str, Any]] | None, ssh_ports: Sequence[int] = (22,)) -> Violations:
    """An inbound TCP rule that admits the world to an SSH port (or is described as SSH)."""
    out = []
    for rule in _inbound(rules):
        if str(rule.get("protocol", "tcp")).lower() not in {"tcp", "any"}:
            continue
        spec = rule.get("port")
        ssh = any(covers(spec, p) for p in ssh_ports) or bool(
            SSH_PURPOSE.search(str(rule.get("description") or rule.get("purpose") or ""))
        )
        world = [s for s in _sources(rule) if is_world(s)]
        if ssh and world:
            out.append(
                f"inbound rule {_label(rule)} opens SSH to the world ({', '.join(world)}); "
                "allow only the admin CIDRs (infrakit:access.adminCidrs)"
            )
    return out


# ------------------------------------------------- rule 2: no API/engine/metrics in public ----
def sensitive_port_public(rules: Iterable[Mapping[str, Any]] | None) -> Violations:
    """An inbound rule from the world onto an RPC, engine, metrics or monitoring port."""
    out = []
    for rule in _inbound(rules):
        world = [s for s in _sources(rule) if is_world(s)]
        if not world:
            continue
        spec = rule.get("port")
        tcp = str(rule.get("protocol", "tcp")).lower() in {"tcp", "any"}
        hits = [f"{p} {name}" for p, name in SENSITIVE_PORTS.items() if tcp and covers(spec, p)]
        purpose = str(rule.get("description") or rule.get("purpose") or "")
        proxy = port_range(spec) in {(p, p) for p in WEB_PROXY_PORTS}
        if hits or (SENSITIVE_PURPOSE.search(purpose) and not proxy):
            what = "; ".join(hits) if hits else purpose
            out.append(
                f"inbound rule {_label(rule)} opens {what} to the world; bind it to 127.0.0.1 or a "
                "private network (RPC to the public only through the web proxy with rpcAllowCidrs/auth)"
            )
    return out


def sensitive_exposure(ports: Iterable[Mapping[str, Any]] | None) -> Violations:
    """A plan port marked public whose number or purpose is an API, engine, metrics or monitoring port."""
    out = []
    for port in ports or []:
        if port.get("exposure") != "public":
            continue
        number = int(port.get("port", 0))
        purpose = str(port.get("purpose", ""))
        tcp = str(port.get("protocol", "tcp")).lower() == "tcp"
        by_purpose = SENSITIVE_PURPOSE.search(purpose) and number not in WEB_PROXY_PORTS
        if (tcp and number in SENSITIVE_PORTS) or by_purpose:
            name = SENSITIVE_PORTS.get(number, purpose)
            out.append(
                f"port {number}/{port.get('protocol', '?')} ({purpose or name}) is public; "
                "it must stay private (127.0.0.1 / private network)"
            )
    return out


def web_rpc_public(web: Mapping[str, Any] | None) -> Violations:
    """The RPC behind the web proxy (443) from the world without basic auth is a public RPC."""
    if not web or not web.get("enabled"):
        return []
    world = [c for c in web.get("allowCidrs") or [] if is_world(str(c))]
    if world and not web.get("basicAuth"):
        return [
            f"the web proxy serves the RPC to the world ({', '.join(world)}) without basic auth; "
            "narrow infrakit:web.rpcAllowCidrs or set rpcBasicAuthUser"
        ]
    return []


# --------------------------------------------------------- rule 3: validator protection ----
def validator_protection(resource_type: str, props: Mapping[str, Any], protect: bool, role: Any) -> Violations:
    """A validator's server, primary IP and volume: Hetzner delete (and rebuild) protection on,
    and Pulumi `protect` on, so neither a console click nor `pulumi destroy` loses the keys' host."""
    if not is_validator(role):
        return []
    wanted = {
        SERVER: ("deleteProtection", "rebuildProtection"),
        PRIMARY_IP: ("deleteProtection",),
        VOLUME: ("deleteProtection",),
    }.get(resource_type)
    if wanted is None:
        return []
    out = [
        f"{resource_type.rsplit(':', 1)[-1]} of a validator stack has {flag} off"
        for flag in wanted
        if props.get(flag) is not True
    ]
    if not protect:
        out.append(
            f"{resource_type.rsplit(':', 1)[-1]} of a validator stack is not protected in Pulumi "
            "(ResourceOptions(protect=True))"
        )
    if out:
        out.append("set infrakit:host.protection (it defaults to on for validator roles)")
    return out


def validator_facts_protected(facts: Mapping[str, Any]) -> Violations:
    """Any target (also existing hosts): a validator stack must say it is protected."""
    if is_validator(facts.get("role")) and facts.get("protected") is not True:
        return [f"validator stack {facts.get('stack', '?')} is not protected (infrakit:host.protection is false)"]
    return []


# ------------------------------------------------------------ rule 4: artifacts pinned ----
def unpinned_artifacts(artifacts: Iterable[Mapping[str, Any]] | None) -> Violations:
    """Every artifact a host installs is pinned, by kind: a tarball by an exact version, an https
    URL and a sha256; an OCI image by its sha256 manifest digest; an npm package by an exact
    version and its lockfile (sha512 of every package); an apt package by an exact version from
    a signed repository. An unknown kind is a violation: the pack must learn it first."""
    out = []
    for art in artifacts or []:
        kind = str(art.get("kind") or "tarball")
        name = art.get("name") or art.get("step") or "?"
        version = str(art.get("version") or "")
        url = str(art.get("url") or "")
        pin = str(art.get("pin") or "")
        if not pin and art.get("sha256"):
            pin = f"sha256:{art['sha256']}"
        problems = []
        exact = version.lower() not in UNPINNED_VERSIONS and bool(
            (APT_VERSION if kind == "apt" else VERSION).match(version)
        )
        if not exact:
            problems.append(f"version {version!r} is not an exact version")
        if kind in {"tarball", "oci"}:
            if not SHA256_PIN.match(pin):
                what = (
                    "no sha256 (unlocked: run `infrakit lock` and commit the lock file)"
                    if kind == "tarball"
                    else ("no sha256 manifest digest")
                )
                problems.append(what)
            if (url or kind == "tarball") and not url.startswith("https://"):
                problems.append(f"URL {url!r} is not https")
        elif kind == "npm":
            if pin != "lockfile":
                problems.append("no lockfile (npm ci from a committed package-lock.json with sha512 integrity)")
        elif kind == "apt":
            if pin != "signed":
                problems.append("not from a signed repository (the step ships no OpenPGP key)")
        else:
            problems.append(f"unknown artifact kind {kind!r}: the policy pack cannot tell whether it is pinned")
        if problems:
            out.append(f"artifact {name} ({kind}): " + "; ".join(problems))
    return out


# ------------------------------------------------------------------- the facts output ----
def read_facts(stack_outputs: Mapping[str, Any] | None) -> tuple[Mapping[str, Any] | None, Violations]:
    """The program's policyFacts from the root stack's outputs, or why it cannot be used."""
    facts = (stack_outputs or {}).get(FACTS_OUTPUT)
    if facts is None:
        return None, [
            f"the stack exports no {FACTS_OUTPUT} output, so the host firewall, the protection of "
            "existing hosts and the artifact pins cannot be checked (infrakit/policy_facts.py)"
        ]
    if not isinstance(facts, Mapping) or facts.get("schema") != FACTS_SCHEMA:
        return None, [f"{FACTS_OUTPUT} is not schema {FACTS_SCHEMA} (policy pack and program disagree)"]
    return facts, []


def facts_violations(facts: Mapping[str, Any]) -> dict[str, Violations]:
    """Every rule applied to the facts, by policy name."""
    ssh_port = int(facts.get("sshPort") or 22)
    firewall = facts.get("hostFirewall") or []
    return {
        "ssh-not-open-to-world": ssh_open_to_world(firewall, (ssh_port,)),
        "no-public-rpc-engine-metrics": sensitive_port_public(firewall)
        + sensitive_exposure(facts.get("ports"))
        + web_rpc_public(facts.get("webRpc")),
        "validator-protected": validator_facts_protected(facts),
        "artifacts-pinned": unpinned_artifacts(facts.get("artifacts")),
    }
