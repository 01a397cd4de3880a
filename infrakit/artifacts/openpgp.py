"""Just enough OpenPGP to check that an armored public key is the one a stack names.

An apt repository's key is pinned twice: the keyring file's content (in the step hash) and
its fingerprint (in the source's Signed-By, which apt enforces). Checking here that the
file holds a primary key with that fingerprint turns a pasted wrong key into a plan error
instead of a host that refuses the repository. Only v4 keys (what gpg and Debian use).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

_ARMOR = re.compile(
    r"^-----BEGIN PGP PUBLIC KEY BLOCK-----\n(?:[A-Za-z][A-Za-z-]*: [^\n]*\n)*\n"
    r"(?P<body>[A-Za-z0-9+/=\n]+?)\n(?:=[A-Za-z0-9+/]{4}\n)?-----END PGP PUBLIC KEY BLOCK-----\n?$"
)
PUBLIC_KEY_TAG = 6


class OpenPgpError(ValueError):
    """The text is not a usable armored OpenPGP public key."""


def _packets(data: bytes) -> list[tuple[int, bytes]]:
    packets = []
    pos = 0
    while pos < len(data):
        header = data[pos]
        if not header & 0x80:
            raise OpenPgpError("not an OpenPGP packet stream")
        if header & 0x40:  # new format
            tag = header & 0x3F
            first = data[pos + 1]
            if first < 192:
                length, pos = first, pos + 2
            elif first < 224:
                length, pos = ((first - 192) << 8) + data[pos + 2] + 192, pos + 3
            elif first == 255:
                length, pos = int.from_bytes(data[pos + 2 : pos + 6], "big"), pos + 6
            else:
                raise OpenPgpError("partial-length packets do not belong in a public key")
        else:  # old format
            tag = (header >> 2) & 0x0F
            size = {0: 1, 1: 2, 2: 4}.get(header & 0x03)
            if size is None:
                raise OpenPgpError("indeterminate-length packets do not belong in a public key")
            length, pos = int.from_bytes(data[pos + 1 : pos + 1 + size], "big"), pos + 1 + size
        if pos + length > len(data):
            raise OpenPgpError("truncated packet")
        packets.append((tag, data[pos : pos + length]))
        pos += length
    return packets


def primary_fingerprint(armored: str) -> str:
    """The upper-case hex v4 fingerprint of the armored key's primary key."""
    match = _ARMOR.match(armored.replace("\r\n", "\n").strip() + "\n")
    if not match:
        raise OpenPgpError("expected one ASCII-armored block '-----BEGIN PGP PUBLIC KEY BLOCK-----'")
    try:
        data = base64.b64decode(match.group("body").replace("\n", ""), validate=True)
    except binascii.Error as exc:
        raise OpenPgpError(f"the armored key is not valid base64 ({exc})") from None
    packets = _packets(data)
    if not packets or packets[0][0] != PUBLIC_KEY_TAG:
        raise OpenPgpError("the block does not start with a public key packet (a secret key or a signature?)")
    body = packets[0][1]
    if not body or body[0] != 4:
        raise OpenPgpError(f"only version 4 keys are supported (got version {body[0] if body else '?'})")
    return hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body, usedforsecurity=False).hexdigest().upper()
