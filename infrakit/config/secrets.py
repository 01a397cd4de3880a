"""Core's secret config keys: their values only ever come from `pulumi config set --secret`.

A chain's own secrets (e.g. a keystore password) are declared by its adapter
(`ChainAdapter.secret_keys`) and handled the same way; this list names no chain.

The stack file holds them encrypted (`{secure: ...}`); the Pulumi program reads them as
secret Outputs; the plain-SSH executor reads them from the environment
(`INFRAKIT_SECRET_<KEY>`, e.g. INFRAKIT_SECRET_ALERTWEBHOOKURL). They never enter the
host plan: a step names the secrets it needs and gets them on stdin.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# key -> what it is for (shown in `validate` output and errors)
SECRET_KEYS: dict[str, str] = {
    "sshPrivateKey": "private key Pulumi uses to reach the host (else the SSH agent)",
    "alertWebhookUrl": "webhook URL that node alerts are posted to (stored 0600 on the host)",
    "webBasicAuthHash": "bcrypt hash of the web tier's RPC basic-auth password (htpasswd -nBC 12 USER)",
}


@dataclass(frozen=True)
class SecretRef:
    """A secret that the stack sets; the value is fetched only where it is used."""

    key: str

    @property
    def env_name(self) -> str:
        return f"INFRAKIT_SECRET_{self.key.upper()}"

    def from_environment(self) -> str | None:
        return os.environ.get(self.env_name)
