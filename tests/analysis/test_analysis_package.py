"""The analysis package stays free of web and deep-learning dependencies."""

from __future__ import annotations

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


def test_public_api_is_exported():
    import analysis

    for name in (
        "load_ratings",
        "validate_ratings",
        "score_distribution",
        "bootstrap_means",
        "run_report",
        "simulate_ratings",
        "required_participants",
    ):
        assert callable(getattr(analysis, name)), name
