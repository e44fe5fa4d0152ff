"""The dependency lists agree: requirements.txt (what a Space installs), pyproject.toml's metadata,
requirements-dev.txt, and requirements.lock (the exact versions CI installs)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def _requirements(name: str) -> list[Requirement]:
    lines = (ROOT / name).read_text().splitlines()
    return [
        Requirement(line.split("#")[0].strip())
        for line in lines
        if line.split("#")[0].strip() and not line.startswith("-r")
    ]


def _locked() -> dict[str, str]:
    return {canonicalize_name(r.name): next(iter(r.specifier)).version for r in _requirements("requirements.lock")}


def test_every_lock_line_is_an_exact_pin():
    for requirement in _requirements("requirements.lock"):
        [spec] = requirement.specifier
        assert spec.operator == "==", requirement


def test_the_lock_satisfies_the_runtime_and_the_dev_requirements():
    locked = _locked()
    for requirement in _requirements("requirements.txt") + _requirements("requirements-dev.txt"):
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement.name} is not in requirements.lock"
        assert requirement.specifier.contains(locked[name], prereleases=True), (requirement, locked[name])


def test_pyproject_lists_the_same_runtime_as_requirements_txt():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {str(Requirement(r)) for r in project["dependencies"]}
    assert declared == {str(r) for r in _requirements("requirements.txt")}
    dev = {canonicalize_name(Requirement(r).name) for r in project["optional-dependencies"]["dev"]}
    assert dev == {canonicalize_name(r.name) for r in _requirements("requirements-dev.txt")}


def test_one_license_everywhere():
    """It was MIT in the README's front matter and LICENSE, Apache-2.0 in pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    front = (ROOT / "README.md").read_text().split("---\n")[1]
    assert project["license"] == "MIT" and "license: mit" in front
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
