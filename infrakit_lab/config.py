"""Lab locations and host naming.

- state dir: ``$INFRAKIT_LAB_STATE`` or ``/var/lib/infrakit/lab`` (key, base, hosts/).
- cache dir: ``$INFRAKIT_LAB_CACHE`` or ``/var/cache/infrakit/lab`` (rootfs tar.zst).
- host names: 1-11 characters ``[a-z0-9-]``, starting with a letter, so that nspawn's
  host-side veth ``ve-NAME`` fits the 15-character interface name limit untruncated.
"""

from __future__ import annotations

import os
import re
import zlib
from pathlib import Path

from infrakit_lab.errors import LabError

DEFAULT_STATE_DIR = Path("/var/lib/infrakit/lab")
DEFAULT_CACHE_DIR = Path("/var/cache/infrakit/lab")
DEFAULT_NAME = "lab"

MAX_NAME_LEN = 11
_NAME_RE = re.compile(rf"^[a-z][a-z0-9-]{{0,{MAX_NAME_LEN - 1}}}$")


def state_dir() -> Path:
    """Where the lab keeps its key, the extracted base rootfs and one dir per host."""
    return Path(os.environ.get("INFRAKIT_LAB_STATE") or DEFAULT_STATE_DIR)


def cache_dir() -> Path:
    """Where the finished rootfs tarballs are cached (survives ``down --all``)."""
    return Path(os.environ.get("INFRAKIT_LAB_CACHE") or DEFAULT_CACHE_DIR)


def validate_name(name: str) -> str:
    """Return ``name`` if it is a valid lab host name, else raise LabError."""
    if not _NAME_RE.match(name):
        raise LabError(
            f"invalid lab host name {name!r}: use 1-{MAX_NAME_LEN} characters a-z, 0-9, '-', starting with a letter"
        )
    return name


def host_index(name: str) -> int:
    """The PREFERRED third octet of the host's /24 in 10.199.0.0/16: 'lab' is 0, others 1-254
    (crc32 of the name). Two names may prefer the same one: `addresses.allocate` then gives
    the second host the next free index, so they can be up together."""
    if name == DEFAULT_NAME:
        return 0
    return zlib.crc32(name.encode()) % 254 + 1
