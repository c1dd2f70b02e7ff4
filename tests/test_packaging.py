"""The lock file pins every dependency pyproject.toml asks for, and the build itself is pinned.

``requirements.lock`` is what a fresh clone installs (README, ``.ci/run``); a requirement added to
pyproject.toml without re-locking, or a lock line that is not exact, would make installs drift.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _lock() -> list[Requirement]:
    lines = (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
    return [Requirement(line) for line in lines if line.strip() and not line.lstrip().startswith("#")]


LOCKED = {canonicalize_name(r.name): r for r in _lock()}
ASKED = [Requirement(r) for r in (*PYPROJECT["project"]["dependencies"],
                                  *PYPROJECT["project"]["optional-dependencies"]["test"])]


def _pinned_version(requirement: Requirement) -> Version | None:
    """The version an exact ``name==version`` requirement names; None for anything else."""
    specs = list(requirement.specifier)
    if len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version:
        return Version(specs[0].version)
    return None


def test_every_lock_line_pins_one_exact_version() -> None:
    assert LOCKED, "requirements.lock names no package"
    assert [str(r) for r in LOCKED.values() if _pinned_version(r) is None] == []


@pytest.mark.parametrize("asked", ASKED, ids=str)
def test_every_requirement_of_pyproject_is_locked_at_a_version_it_accepts(asked: Requirement) -> None:
    locked = LOCKED.get(canonicalize_name(asked.name))
    assert locked is not None, f"{asked.name} is not in requirements.lock: re-lock (see its first line)"
    version = _pinned_version(locked)
    assert version is not None and asked.specifier.contains(version, prereleases=True), (
        f"requirements.lock has {locked}, pyproject.toml asks for {asked}")


def test_the_build_requirements_are_exact_versions() -> None:
    build = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    assert build
    assert [str(r) for r in build if _pinned_version(r) is None] == []
