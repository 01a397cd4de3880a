"""The hcloud host key pair: valid, made once, and what cloud-init installs."""

from __future__ import annotations

import io

import paramiko
import yaml

from adapters.registry import REGISTRY
from components.cloud_init import user_data
from components.remote.host_key import HostKeyProvider, new_key_pair
from infrakit.config import load_stack
from infrakit.config.models import _host_key


def test_the_pair_is_an_ed25519_key_sshd_and_the_pin_accept() -> None:
    private, public = new_key_pair()
    loaded = paramiko.Ed25519Key.from_private_key(io.StringIO(private))
    assert public == f"ssh-ed25519 {loaded.get_base64()}"
    assert _host_key(public) == public, "the pin's own validator accepts it"


def test_made_once_and_never_again_on_its_own() -> None:
    """A renamed stack renames the server (in place): a new pair would not reach the running
    server (cloud-init ran once) and every later connection would be refused."""
    made = HostKeyProvider().create({"server": "s1"}).outs
    assert made is not None
    olds = {"server": "s1", **made}
    assert not HostKeyProvider().diff("id", olds, {"server": "s1"}).changes
    renamed = HostKeyProvider().diff("id", olds, {"server": "s2"})
    assert not renamed.changes and not renamed.replaces


def test_cloud_init_installs_the_pair() -> None:
    private, public = new_key_pair()
    doc = yaml.safe_load(user_data(load_stack("hardened-hcloud", REGISTRY).config, (private, public)).split("\n", 1)[1])
    assert doc["ssh_keys"] == {"ed25519_private": private, "ed25519_public": public}
