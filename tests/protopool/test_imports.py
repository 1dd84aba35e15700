"""The protopool package stays free of Django, and SynthBirds has no import cycle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYNTH = ROOT / "protopool" / "data" / "synth"

# Imports every module of protopool and prints the first one after which Django is loaded.
# ``protopool.__main__`` is left out: importing it runs the command line.
WALK_AND_IMPORT = """
import importlib, pkgutil, sys
import protopool
names = ["protopool"] + sorted(
    info.name for info in pkgutil.walk_packages(protopool.__path__, "protopool.")
    if not info.name.endswith(".__main__")
)
for name in names:
    importlib.import_module(name)
    if "django" in sys.modules:
        print(name)
        break
"""


def _imported_modules(path: Path, package: str) -> set[str]:
    """Absolute names of the modules ``path`` imports, relative imports resolved."""
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            imported.add(".".join(part for part in (base, node.module) if part))
    return imported


def test_importing_every_protopool_module_never_imports_django() -> None:
    out = subprocess.run(
        [sys.executable, "-c", WALK_AND_IMPORT], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"importing {out.stdout.strip()} pulls in django"


@pytest.mark.parametrize(
    "path",
    sorted(p for p in SYNTH.rglob("*.py") if p.name != "__init__.py"),
    ids=lambda path: path.relative_to(SYNTH).as_posix(),
)
def test_synth_modules_do_not_import_their_own_package(path: Path) -> None:
    # The package's __init__ imports writer, and protopool.data's imports the package, so a
    # module that goes through either of them closes a cycle back onto itself.
    package = ".".join(path.relative_to(ROOT).parent.parts)
    through_package = _imported_modules(path, package) & {package, "protopool.data"}
    assert not through_package, (
        f"{path.name} imports {', '.join(sorted(through_package))}; import the submodule "
        "instead, e.g. `import protopool.data.synth.geometry as geo`"
    )
