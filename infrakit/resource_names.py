"""The Pulumi resource names of a stack's node.

The same in every stack: a URN already carries the stack's name, so a name that embedded it
again made `pulumi stack rename` a rename of every resource (each Step deleted and created,
the hcloud host key pair replaced, which locks Pulumi out of the server). Resources named
by the stack in earlier versions keep their identity through an alias on the node
(`__main__.py`); their children inherit it.
"""

from __future__ import annotations

NODE = "node"


def setup_resource(what: str) -> str:
    """The name of the setup resource `what`: a step's name, "host" or "bundle"."""
    return f"{NODE}-setup-{what}"
