"""The analysis package stays free of web and deep-learning dependencies."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_analysis_pulls_in_neither_django_nor_torch():
    code = (
        "import sys; import analysis, analysis.cli; "
        "bad = sorted(m for m in ('django', 'torch', 'torchvision') if m in sys.modules); "
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_report_writers_and_types_never_import_the_report():
    # The writers need the report's types only; importing analysis.report back, even for type
    # checking, would make the two modules a cycle again.
    for name in ("report_writers", "report_types"):
        assert "analysis.report" not in _imported_modules(ROOT / "analysis" / f"{name}.py"), name


def test_public_api_is_exported():
    import analysis

    for name in (
        "load_ratings",
        "validate_ratings",
        "score_distribution",
        "bootstrap_means",
        "run_report",
        "simulate_ratings",
        "required_size",
        "primary_model",
        "simulated_power",
        "describe_design",
    ):
        assert callable(getattr(analysis, name)), name
