"""The one exception type of the lab manager."""

from __future__ import annotations


class LabError(Exception):
    """An expected lab failure (not root, missing packages, already up, boot timeout...).

    The CLI prints ``str(error)`` as one line on stderr and exits non-zero, without a
    traceback. Anything else escaping the lab code is a bug and keeps its traceback.
    """
