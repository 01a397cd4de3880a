"""A host key made before the server exists, so the first SSH connection is already pinned.

For an hcloud server the program cannot ask anyone out of band for the host key: it makes
an ed25519 key pair once (a dynamic resource; the private half is a secret in state), hands
it to cloud-init (`ssh_keys`), and the Host resource pins the public half from the start.
"""

from __future__ import annotations

from typing import Any

import pulumi
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider


def new_key_pair() -> tuple[str, str]:
    """(OpenSSH private key, "ssh-ed25519 AAAA..." public key)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, public.decode()


class HostKeyProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        private, public = new_key_pair()
        return CreateResult(public.split()[1][-16:], {**props, "privateKey": private, "publicKey": public})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # Made once, never again on its own: the server holds this key from its first boot
        # (cloud-init runs once), so a new pair would lock Pulumi out of it. A renamed stack
        # (a new `server` name) keeps the pair; so does a replaced server (it boots with the
        # same pair). A suspected leak: `pulumi up --replace` the pair and the server together
        # (runbooks/hardened-host.md).
        return DiffResult(changes=False)


class HostKeyPair(Resource, module="infrakit", name="HostKeyPair"):
    privateKey: pulumi.Output[str]  # noqa: N815 (Pulumi property name)
    publicKey: pulumi.Output[str]  # noqa: N815

    def __init__(self, name: str, server: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(
            HostKeyProvider(),
            name,
            {"server": server, "privateKey": None, "publicKey": None},
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["privateKey"])),
        )
