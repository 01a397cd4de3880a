"""chainSettings of the example chain: the client package, as core's apt kind describes it.

chainSettings:
  client:                      # infrakit.artifacts.apt.AptPackage
    repo: example
    uri: http://apt.example.org/debian
    suite: stable
    components: [main]
    key: "-----BEGIN PGP PUBLIC KEY BLOCK-----..."
    keyFingerprint: 0123...   # 40 hex digits; apt accepts only this key's signatures
    package: example-client
    version: 1.0.1
    allowDowngrade: false
"""

from __future__ import annotations

from infrakit.artifacts.apt import AptPackage
from infrakit.config.models import Model


class ExampleSettings(Model):
    client: AptPackage
