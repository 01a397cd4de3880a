"""InfraKit's CrossGuard policy pack: `scripts/pulumi preview -s STACK --policy-pack policy`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from infrakit_policy.pack import MANDATORY, PACK_NAME, policies
from pulumi_policy import PolicyPack

PolicyPack(name=PACK_NAME, enforcement_level=MANDATORY, policies=policies())
