"""host.hostKey and host.bootstrapUser (existing targets): what the engine path relies on."""

from __future__ import annotations

import pytest

from infrakit.config import ConfigError
from infrakit.config.models import ExistingTarget
from tests.conftest import StackFactory, load_values

ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIATnZ2Zk4Zj1dvWKRctgixozWmEH8wyBozSdGt+RtSri"
EXISTING = {"target": "existing", "address": "203.0.113.10"}


def host(stack_values: StackFactory, **keys: str) -> ExistingTarget:
    values = stack_values(host=None)
    values["host"] = {**EXISTING, **keys}
    target = load_values(values, stack="t").config.host
    assert isinstance(target, ExistingTarget)
    return target


def test_a_pinned_host_key_is_kept_without_its_comment(stack_values: StackFactory) -> None:
    assert host(stack_values, hostKey=ED25519 + " root@server").host_key == ED25519


@pytest.mark.parametrize(
    "bad",
    [
        "ssh-ed25519",  # no key data
        "ssh-dss AAAAB3NzaC1kc3MAAACBAP",  # DSA is not accepted
        "ssh-ed25519 not-base64!!",
        "ecdsa-sha2-nistp256 " + ED25519.split()[1],  # data of another key type
        "ssh-ed25519 AAAA\n[Unit]",  # a newline smuggled into a value that reaches a file
    ],
)
def test_a_malformed_host_key_is_refused_naming_the_key(stack_values: StackFactory, bad: str) -> None:
    with pytest.raises(ConfigError, match=r"infrakit:host\.hostKey: .*expected the host's public key"):
        host(stack_values, hostKey=bad)


def test_bootstrap_user_must_be_a_login_name(stack_values: StackFactory) -> None:
    assert host(stack_values, bootstrapUser="root").bootstrap_user == "root"
    with pytest.raises(ConfigError, match=r"infrakit:host\.bootstrapUser: expected a lower-case Unix user name"):
        host(stack_values, bootstrapUser="root; rm -rf /")
