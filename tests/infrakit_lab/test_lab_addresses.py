"""Lab addresses are allocated, not derived: two names that hash alike still get different
addresses, whichever state dir (concurrent runs) they belong to."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from infrakit_lab import addresses
from infrakit_lab.errors import LabError


@pytest.fixture(autouse=True)
def table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "run" / "addresses.json"
    monkeypatch.setenv("INFRAKIT_LAB_ADDRESSES", str(path))
    return path


def colliding_names() -> tuple[str, str]:
    seen: dict[int, str] = {}
    for i in range(10_000):
        name = f"t{i}"
        idx = addresses.preferred_index(name)
        if idx in seen:
            return seen[idx], name
        seen[idx] = name
    raise AssertionError("no collision in 10,000 names")


def hold(state: Path, name: str) -> None:
    """A host record, as LabHost writes it once the host exists."""
    (state / "hosts" / name).mkdir(parents=True, exist_ok=True)
    (state / "hosts" / name / "host.json").write_text("{}")


def test_two_names_with_the_same_hash_get_different_addresses(tmp_path: Path) -> None:
    """Before, the second name was refused ('maps to ..., used by ...') and a CI run failed."""
    a, b = colliding_names()
    assert addresses.preferred_index(a) == addresses.preferred_index(b)
    run1, run2 = tmp_path / "state1", tmp_path / "state2"  # two concurrent runs, two state dirs
    ia, ib = addresses.allocate(a, run1), addresses.allocate(b, run2)
    assert ia == addresses.preferred_index(a)
    assert ib != ia and 1 <= ib <= 254
    assert addresses.allocate(a, run1) == ia, "a host keeps its index"


def test_release_frees_the_index(tmp_path: Path) -> None:
    a, b = colliding_names()
    ia = addresses.allocate(a, tmp_path)
    addresses.release(a, tmp_path)
    assert addresses.allocate(b, tmp_path) == ia


def test_an_index_busy_on_a_link_is_skipped(tmp_path: Path) -> None:
    preferred = addresses.preferred_index("node")
    assert addresses.allocate("node", tmp_path, busy={preferred}) != preferred


def test_lab_is_zero_and_only_once(tmp_path: Path) -> None:
    assert addresses.allocate("lab", tmp_path / "s1") == 0
    with pytest.raises(LabError, match=r"10.199.0.2 is held by lab"):
        addresses.allocate("lab", tmp_path / "s2")
    assert addresses.allocate("other", tmp_path / "s2") != 0, "no other name gets the lab's address"


def test_entries_of_hosts_that_are_gone_are_reclaimed(tmp_path: Path, table: Path) -> None:
    a, b = colliding_names()
    ia = addresses.allocate(a, tmp_path)
    hold(tmp_path, a)
    assert addresses.allocate(b, tmp_path) != ia, "a live host keeps its index"
    addresses.release(b, tmp_path)
    # host a crashed without `down`: its record is gone and its entry is old
    (tmp_path / "hosts" / a / "host.json").unlink()
    doc = json.loads(table.read_text())
    doc[str(ia)]["since"] = time.time() - addresses.GRACE - 1
    table.write_text(json.dumps(doc))
    assert addresses.allocate(b, tmp_path) == ia
