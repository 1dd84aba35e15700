"""``protopool name`` and ``protopool interpretability`` on a tiny trained SynthBirds run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from protopool.cli import main
from protopool.data import load_cub


def test_name_writes_names_json_for_every_prototype(
    trained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["name", str(trained), "--json", "--top-k", "5"]) == 0
    printed = json.loads(capsys.readouterr().out)
    stored = json.loads((trained / "names.json").read_text())
    assert printed == stored and stored["schema"] == 1
    assert stored["config"]["top_k"] == 5 and stored["config"]["region"]["rule"] == "percentile"
    entries = stored["prototypes"]
    assert [e["prototype"] for e in entries] == list(range(len(entries)))
    for entry in entries:
        assert entry["kind"] in {"part+attribute", "part", "unnamed"}
        assert len(entry["evidence"]["images"]) == len(entry["evidence"]["boxes"]) <= 5
        assert (entry["part"] is None) == (entry["kind"] == "unnamed")
        assert 0.0 <= entry["confidence"] <= 1.0
    assert main(["name", str(trained), "--region", "fixed"]) == 0
    assert "written to" in capsys.readouterr().out


def test_interpretability_reports_every_metric(
    trained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["interpretability", str(trained), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert json.loads((trained / "interpretability.json").read_text()) == report
    summary = report["summary"]
    assert report["part_regions"] == "SynthBirds ground-truth part masks"
    for key in ("consistency", "stability"):
        assert summary[key] is None or 0.0 <= summary[key] <= 100.0
    for key in ("purity", "part_related", "pointing_energy", "pointing_area"):
        assert summary[key] is None or 0.0 <= summary[key] <= 1.0
    assert "naming_accuracy" in summary and summary["prototypes"] >= 1
    entry = next(e for e in report["prototypes"] if e["test_images"])
    assert entry["consistency"]["part"] in load_cub(Path(report["dataset"])).part_names


def test_the_verbs_refuse_a_directory_without_a_trained_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for verb in ("name", "interpretability"):
        assert main([verb, str(tmp_path)]) == 2
        assert "protopool train" in capsys.readouterr().err


def test_the_verbs_refuse_a_dataset_without_parts(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for label in ("cat", "dog"):
        folder = tmp_path / "folder" / label
        folder.mkdir(parents=True)
        for n in range(2):
            Image.new("RGB", (16, 16)).save(folder / f"{n}.png")
    for verb in ("name", "interpretability"):
        assert main([verb, str(trained), "--data", str(tmp_path / "folder")]) == 2
        assert "needs part annotations" in capsys.readouterr().err
