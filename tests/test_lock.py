"""The lock and pyproject.toml agree, so that `make` installs what pyproject.toml promises.

pyproject.toml keeps ranges for people who install the package into an environment of their
own; requirements/lock.txt (written by `make lock`) pins every runtime, development and build
dependency for `make` and CI. The lock goes stale when pyproject.toml changes without
`make lock`: a dependency added or dropped on one side only, or a range that excludes a pin.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# packaging is always installed here: pytest itself depends on it.
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCK = REPO_ROOT / "requirements" / "lock.txt"
PYPROJECT = REPO_ROOT / "pyproject.toml"

# How pip-compile annotates a pin that pyproject.toml asks for itself (with a suffix such as
# "::build-system.requires" for build requirements), rather than one that another pin pulls in.
_DIRECT = re.compile(r"^[A-Za-z0-9._-]+ \(pyproject\.toml(::[^)]*)?\)$")
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(?P<version>[^\s;\\]+)")


@dataclass
class Pin:
    version: Version
    hashes: int = 0
    via: list[str] = field(default_factory=list)

    @property
    def direct(self) -> bool:
        return any(_DIRECT.match(source) for source in self.via)


def declared(pyproject: Mapping[str, Any]) -> dict[NormalizedName, SpecifierSet]:
    """Every requirement of the project, its extras and its build system, by normalised name.

    Extras of a requirement (``celery[redis]``) are ignored: the lock lists what they pull in
    as pins of their own. A name required twice gets both ranges.
    """
    project = pyproject["project"]
    lines = [
        *project.get("dependencies", []),
        *(line for extra in project.get("optional-dependencies", {}).values() for line in extra),
        *pyproject.get("build-system", {}).get("requires", []),
    ]
    ranges: dict[NormalizedName, SpecifierSet] = {}
    for line in lines:
        requirement = Requirement(line)
        # The lock is resolved for the interpreter that runs this test (Python 3.11).
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        ranges[name] = ranges.get(name, SpecifierSet()) & requirement.specifier
    return ranges


def locked(text: str) -> dict[NormalizedName, Pin]:
    """The pins of a pip-compile output, with their hashes counted and their ``# via`` lines."""
    pins: dict[NormalizedName, Pin] = {}
    current: Pin | None = None
    in_via = False
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not line[0].isspace() and not stripped.startswith("#"):
            match = _PIN.match(stripped)
            if match is None:
                raise ValueError(f"not an exact pin: {stripped!r}")
            current = pins[canonicalize_name(match["name"])] = Pin(Version(match["version"]))
            in_via = False
        elif current is not None and stripped.startswith("--hash="):
            current.hashes += 1
        elif current is not None and stripped.startswith("# via"):
            in_via = True
            if rest := stripped.removeprefix("# via").strip():
                current.via.append(rest)
        elif current is not None and in_via and line.startswith("    #   "):
            current.via.append(stripped.removeprefix("#").strip())
        else:
            # A comment of pip-compile's own ends the annotations of the pin above it.
            in_via = False
    return pins


def disagreements(
    ranges: Mapping[NormalizedName, SpecifierSet], pins: Mapping[NormalizedName, Pin]
) -> list[str]:
    """What keeps the lock from being a resolution of pyproject.toml, one line per problem."""
    problems = []
    for name, specifier in sorted(ranges.items()):
        pin = pins.get(name)
        if pin is None:
            problems.append(f"{name}: required by pyproject.toml, missing from the lock")
        elif not specifier.contains(pin.version, prereleases=True):
            problems.append(
                f"{name}: locked at {pin.version}, outside pyproject.toml's {specifier}"
            )
        elif not pin.direct:
            problems.append(f"{name}: in the lock only as another package's dependency")
    for name, pin in sorted(pins.items()):
        if pin.direct and name not in ranges:
            problems.append(f"{name}: locked for pyproject.toml, which no longer requires it")
    return problems


def _project() -> dict[str, Any]:
    return tomllib.loads(PYPROJECT.read_text())


def test_the_lock_is_a_resolution_of_pyproject() -> None:
    problems = disagreements(declared(_project()), locked(LOCK.read_text()))
    assert not problems, "run `make lock`:\n" + "\n".join(problems)


def test_every_pin_carries_hashes_and_the_lock_names_no_place() -> None:
    text = LOCK.read_text()
    pins = locked(text)
    # pip's --require-hashes refuses the whole lock if a single pin has no hash.
    assert [name for name, pin in pins.items() if pin.hashes == 0] == []
    # The same lock serves every machine: no option line (an index, a link location, an
    # editable path), no URL and no absolute path in it.
    assert not re.search(r"^-|://|(^|\s)/\w", text, re.M)


def test_the_lock_holds_the_torch_pair_that_installs_without_a_download() -> None:
    pins = locked(LOCK.read_text())
    assert pins[canonicalize_name("torch")].version == Version("2.14.1")
    assert pins[canonicalize_name("torchvision")].version == Version("0.29.1")


# --- the checker itself, on made-up inputs --------------------------------------------------

PYPROJECT_SAMPLE = """
[build-system]
requires = ["setuptools>=77"]

[project]
name = "sample"
dependencies = ["numpy>=1.26,<3", "celery[redis]>=5.4,<6", "tomli>=2; python_version < '3.11'"]

[project.optional-dependencies]
dev = ["Ruff>=0.6,<0.18", "pytest>=8"]
"""

LOCK_SAMPLE = """\
#
# This file is autogenerated by pip-compile with Python 3.11
#
celery==5.7.0 \\
    --hash=sha256:aa
    # via sample (pyproject.toml)
kombu==5.7.0 \\
    --hash=sha256:bb
    # via celery
numpy==2.4.6 \\
    --hash=sha256:cc \\
    --hash=sha256:dd
    # via
    #   pandas
    #   sample (pyproject.toml)
pytest==9.2.0 \\
    --hash=sha256:ee
    # via sample (pyproject.toml)
ruff==0.17.6 \\
    --hash=sha256:ff
    # via sample (pyproject.toml)

# The following packages are considered to be unsafe in a requirements file:
setuptools==84.2.1 \\
    --hash=sha256:00
    # via
    #   sample (pyproject.toml::build-system.requires)
    #   torch
"""


def _sample_ranges() -> dict[NormalizedName, SpecifierSet]:
    return declared(tomllib.loads(PYPROJECT_SAMPLE))


def test_the_checker_reads_names_ranges_markers_and_annotations() -> None:
    ranges = _sample_ranges()
    # Normalised names, extras dropped, a marker false on Python 3.11 skipped.
    assert sorted(ranges) == ["celery", "numpy", "pytest", "ruff", "setuptools"]
    assert ranges[canonicalize_name("ruff")] == SpecifierSet(">=0.6,<0.18")
    pins = locked(LOCK_SAMPLE)
    assert pins[canonicalize_name("numpy")].hashes == 2
    assert pins[canonicalize_name("numpy")].via == ["pandas", "sample (pyproject.toml)"]
    assert pins[canonicalize_name("setuptools")].direct
    assert not pins[canonicalize_name("kombu")].direct
    assert disagreements(ranges, pins) == []


def test_the_checker_finds_a_dependency_missing_from_the_lock() -> None:
    ranges = _sample_ranges()
    ranges[canonicalize_name("PyYAML")] = SpecifierSet(">=6,<7")
    assert disagreements(ranges, locked(LOCK_SAMPLE)) == [
        "pyyaml: required by pyproject.toml, missing from the lock"
    ]


def test_the_checker_finds_a_pin_outside_its_range() -> None:
    stale = LOCK_SAMPLE.replace("ruff==0.17.6", "ruff==0.18.0")
    assert disagreements(_sample_ranges(), locked(stale)) == [
        "ruff: locked at 0.18.0, outside pyproject.toml's <0.18,>=0.6"
    ]


def test_the_checker_finds_a_dependency_dropped_from_pyproject() -> None:
    ranges = _sample_ranges()
    del ranges[canonicalize_name("pytest")]
    assert disagreements(ranges, locked(LOCK_SAMPLE)) == [
        "pytest: locked for pyproject.toml, which no longer requires it"
    ]


def test_the_checker_finds_a_dependency_the_lock_has_only_by_chance() -> None:
    # Added to pyproject.toml after the lock was written, but pinned anyway as kombu's.
    ranges = _sample_ranges()
    ranges[canonicalize_name("kombu")] = SpecifierSet(">=5")
    assert disagreements(ranges, locked(LOCK_SAMPLE)) == [
        "kombu: in the lock only as another package's dependency"
    ]


def test_the_checker_refuses_a_line_that_is_not_an_exact_pin() -> None:
    with pytest.raises(ValueError, match="not an exact pin"):
        locked("numpy>=1.26 \\\n    --hash=sha256:aa\n")
