"""``protopool synth`` and ``protopool inspect`` through the CLI entry point and a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from protopool.cli import main


def test_synth_then_inspect_json(tmp_path: Path, capsys) -> None:
    out = tmp_path / "birds"
    argv = ["synth", "--out", str(out), "--classes", "2", "--images-per-class", "4"]
    assert main([*argv, "--size", "32", "--seed", "5", "--quiet"]) == 0
    capsys.readouterr()

    assert main(["inspect", str(out), "--json", "--verify"]) == 0
    summary = json.loads(capsys.readouterr().out)

    assert {k: summary[k] for k in ("format", "images", "classes", "train", "test")} == {
        "format": "cub",
        "images": 8,
        "classes": 2,
        "train": 4,
        "test": 4,
    }
    assert summary["parts"] == 15 and summary["attributes"] == 312
    assert summary["generator"]["config"]["seed"] == 5
    assert summary["problems"] == []


def test_inspect_reports_corrupt_images(synthbirds: Path, tmp_path: Path, capsys) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(synthbirds, copy)
    broken = next((copy / "images").rglob("*.jpg"))
    broken.write_bytes(broken.read_bytes()[:200])

    assert main(["inspect", str(copy), "--verify"]) == 1
    output = capsys.readouterr().out
    assert "unreadable images: 1" in output and broken.name in output


def test_inspect_error_is_clean(tmp_path: Path, capsys) -> None:
    assert main(["inspect", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "holds no dataset" in error and "Traceback" not in error


def test_synth_refuses_non_empty_out(tmp_path: Path, capsys) -> None:
    (tmp_path / "file.txt").write_text("x")
    assert main(["synth", "--out", str(tmp_path), "--quiet"]) == 2
    assert "--force" in capsys.readouterr().err


def test_python_m_protopool_inspect(synthbirds: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "protopool", "inspect", str(synthbirds), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["classes"] == 4
