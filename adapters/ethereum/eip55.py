"""EIP-55 mixed-case checksum addresses (keccak-256 from pycryptodome, pinned in requirements.txt)."""

from __future__ import annotations

import re

ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
ZERO = "0x" + "0" * 40


def keccak256(data: bytes) -> bytes:
    # imported here: pycryptodome loads cffi/pycparser (~30 ms), which only addresses need,
    # not every `infrakit render/plan` of a stack without one
    from Crypto.Hash import keccak  # noqa: PLC0415

    return keccak.new(digest_bits=256, data=data).digest()


def to_checksum(address: str) -> str:
    """The EIP-55 form of a 20-byte hex address."""
    if not ADDRESS_RE.match(address):
        raise ValueError("expected 0x followed by 40 hex digits")
    lower = address[2:].lower()
    digest = keccak256(lower.encode("ascii")).hex()
    return "0x" + "".join(c.upper() if c.isalpha() and int(digest[i], 16) >= 8 else c for i, c in enumerate(lower))


def check_address(address: str) -> str | None:
    """None if `address` is a usable EIP-55 checksummed address, else the reason."""
    if not ADDRESS_RE.match(address):
        return "expected an Ethereum address: 0x followed by 40 hex digits"
    if address.lower() == ZERO:
        return "the zero address would burn every fee; give an address you control"
    good = to_checksum(address)
    if address != good:
        if address[2:] in (address[2:].lower(), address[2:].upper()):
            return f"give the address in its EIP-55 checksummed form ({good}) so a typo cannot slip through"
        return (f"EIP-55 checksum mismatch: a character is wrong or mis-cased (the checksummed form of the "
                f"same hex is {good})")
    return None
