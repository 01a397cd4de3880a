"""A TEST signed apt repository: stand-in .debs, built with Debian's reprepro, signed with a
throwaway key in a temp GNUPGHOME (its gpg-agent is stopped on close). Used by the apt kind's
unit tests (keys only) and its lab test (the whole repository, served over HTTP)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from types import TracebackType

PACKAGE = "ik-standin"


class Keys:
    """Throwaway OpenPGP keys (ed25519, no passphrase) in their own GNUPGHOME."""

    def __init__(self, home: Path) -> None:
        self.home = home
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.env = {**os.environ, "GNUPGHOME": str(home)}

    def gpg(self, *args: str) -> str:
        return subprocess.run(
            ["gpg", "--batch", "--quiet", *args], env=self.env, capture_output=True, text=True, check=True
        ).stdout

    def create(self, email: str) -> str:
        """A new signing key for `email`; returns its fingerprint."""
        self.gpg("--passphrase", "", "--quick-gen-key", f"InfraKit TEST <{email}>", "ed25519", "sign", "never")
        for line in self.gpg("--with-colons", "--list-keys", email).splitlines():
            if line.startswith("fpr:"):
                return line.split(":")[9]
        raise AssertionError(f"no fingerprint for {email}")

    def armored(self, fingerprint: str) -> str:
        return self.gpg("--armor", "--export", fingerprint)

    def close(self) -> None:
        subprocess.run(["gpgconf", "--kill", "all"], env=self.env, capture_output=True, check=False)

    def __enter__(self) -> Keys:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def build_deb(work: Path, version: str) -> Path:
    """A stand-in package whose /usr/bin/ik-standin prints its version."""
    root = work / f"pkg-{version}"
    (root / "DEBIAN").mkdir(parents=True, exist_ok=True)
    (root / "usr" / "bin").mkdir(parents=True, exist_ok=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {PACKAGE}\nVersion: {version}\nArchitecture: all\nSection: misc\nPriority: optional\n"
        "Maintainer: InfraKit tests <test@infrakit.invalid>\nDescription: TEST stand-in package\n"
    )
    tool = root / "usr" / "bin" / PACKAGE
    tool.write_text(f"#!/bin/sh\necho {PACKAGE} {version}\n")
    tool.chmod(0o755)
    deb = work / f"{PACKAGE}_{version}_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(root), str(deb)], capture_output=True, check=True)
    return deb


def build_repo(keys: Keys, repo: Path, fingerprint: str, debs: list[Path], suite: str = "stable") -> None:
    """(Re)build a reprepro repository at `repo` holding `debs`, signed by `fingerprint`."""
    if repo.exists():
        shutil.rmtree(repo)
    (repo / "conf").mkdir(parents=True)
    (repo / "conf" / "distributions").write_text(
        f"Origin: InfraKit-TEST\nLabel: InfraKit-TEST\nCodename: {suite}\nArchitectures: amd64\n"
        f"Components: main\nDescription: TEST repository\nSignWith: {fingerprint}\n"
    )
    for deb in debs:
        subprocess.run(
            ["reprepro", "-b", str(repo), "includedeb", suite, str(deb)],
            env=keys.env,
            capture_output=True,
            text=True,
            check=True,
        )
