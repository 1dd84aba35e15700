"""`make demo`'s command brings every part up on the embedded default and verifies it."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, django_env
from tests.surveys.runs import TINY_TRAIN


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _demo(tmp_path, *extra: str) -> tuple[subprocess.CompletedProcess[str], int]:
    port = _free_port()
    argv = [sys.executable, "manage.py", "demo", "--check", "--port", str(port),
            "--classes", "3", "--images-per-class", "8", "--size", "64", *extra]  # fmt: skip
    result = subprocess.run(
        argv,
        cwd=REPO_ROOT,
        env=django_env(tmp_path / "var"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result, port


@pytest.mark.slow
def test_demo_check_trains_builds_a_study_and_walks_a_participant_through_it(tmp_path):
    # given tiny versions of the three conditions, when the demo runs with --check
    overrides = [f"--train-override={item}" for item in TINY_TRAIN]
    result, port = _demo(tmp_path, "--questions", "3", "--min-seconds", "0", *overrides)
    out = result.stdout
    # then the worker answered, the runs were imported and named, the study was rendered
    assert "worker" in out and "answered a task" in out
    assert "ProtoPool (focal):" in out and "ProtoTree:" in out and "named" in out
    assert "rendering" in out and "(100 %)" in out
    # and the participant link is printed on its own line, with the researcher's login
    links = [line for line in out.splitlines() if line.startswith("participant")]
    assert len(links) == 1 and f"http://127.0.0.1:{port}/s/" in links[0]
    assert f"http://127.0.0.1:{port}/admin/" in out and "password" in out
    # and one simulated participant took the whole study, every answer stored
    assert "all stored; completion code shown" in out
    assert (tmp_path / "var" / "db.sqlite3").exists()

    # when the demo runs again, nothing is retrained or rebuilt: the open study is reused
    again, _ = _demo(tmp_path, "--questions", "3", "--min-seconds", "0", *overrides)
    assert "already open; reusing it" in again.stdout
    assert "unchanged: nothing to do" in again.stdout


@pytest.mark.slow
def test_demo_check_without_runs_still_brings_up_database_worker_and_site(tmp_path):
    result, port = _demo(tmp_path, "--no-train")
    assert "worker" in result.stdout and "answered a task" in result.stdout
    assert "no study is built" in result.stdout
    assert f"http://127.0.0.1:{port}/admin/" in result.stdout
    assert (tmp_path / "var" / "demo" / "synthbirds-c3-k8-s64-seed0" / "images.txt").exists()


@pytest.mark.slow
def test_demo_check_simulate_lets_simulated_participants_take_a_study_and_reports(tmp_path):
    # given tiny versions of the three conditions, when the demo simulates six participants
    overrides = [f"--train-override={item}" for item in TINY_TRAIN]
    result, _ = _demo(
        tmp_path, "--questions", "6", "--min-seconds", "0", "--simulate", "6",
        "--min-prototypes", "2", *overrides,
    )  # fmt: skip
    out = result.stdout
    # then they took the study over HTTP, every one of them to the end
    assert "6 simulated participants (1 careless) take the study over HTTP" in out
    assert "6/6 simulated participants completed" in out
    # and the export's report was written, its path on the last line, starting with "report"
    last = out.strip().splitlines()[-1]
    assert last.startswith("report")
    report = Path(last.split(maxsplit=1)[1])
    assert report.is_file() and report.name == "report.md"
    text = report.read_text()
    assert "## Primary analysis" in text and "## People versus metrics" in text
    assert (report.parent / "figure10.png").is_file()
    assert (report.parent / "human_vs_objective_m_energy_in_part.png").is_file()
    # and the simulated slope is set beside the one the report estimated
    assert "simulated slope 1 log-odds per SD of m_energy_in_part; estimated" in out
    assert "careless raters excluded: 1 of 1" in out
