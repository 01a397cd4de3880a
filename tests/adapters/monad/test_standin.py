"""The TEST stand-in `monad` package is built as the lab expects: the real package's name, unit
and binary names, its layout files, and programs that at least compile."""

from __future__ import annotations

import subprocess
from pathlib import Path

from adapters.monad.plan import SERVICES, TIMERS
from tests.adapters.monad import standin


def test_standin_package_matches_the_real_names(tmp_path: Path) -> None:
    deb = standin.build_deb(tmp_path, "1.0.0")
    field = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Package", "Version", "Description"], capture_output=True, text=True, check=True
    ).stdout
    assert "Package: monad\n" in field and "Version: 1.0.0\n" in field and "TEST STAND-IN" in field
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    for unit in (*SERVICES, *TIMERS, "monad-mpt.service", "set-hugepages.service"):
        assert f"./usr/lib/systemd/system/{unit}" in listing, unit
    for binary in (
        "usr/local/bin/monad-node",
        "usr/local/bin/monad",
        "usr/local/bin/monad-rpc",
        "usr/local/bin/monad-keystore",
        "usr/bin/monad-mpt",
    ):
        assert f"./{binary}" in listing, binary
    for rel in (
        "usr/lib/sysusers.d/monad.conf",
        "usr/lib/tmpfiles.d/monad.conf",
        "etc/sysctl.d/90-monad-network-buffer.conf",
    ):
        assert f"./{rel}" in listing, rel
    bft = standin.FILES["usr/lib/systemd/system/monad-bft.service"][0]
    assert "EnvironmentFile=-/etc/monad/env" in bft, "the current package layout (adapters/monad/SOURCES.md)"
    for name in ("KEYSTORE", "NODE", "EXECUTION", "RPC"):
        compile(getattr(standin, name), name, "exec")
