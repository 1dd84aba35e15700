"""`make demo`'s command brings every part up on the embedded default and verifies it."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT, django_env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_demo_check_brings_up_database_worker_and_site(tmp_path):
    port = _free_port()
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "demo",
            "--check",
            "--no-train",
            "--port",
            str(port),
            "--classes",
            "3",
            "--images-per-class",
            "4",
            "--size",
            "64",
        ],
        cwd=REPO_ROOT,
        env=django_env(tmp_path / "var"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "worker" in result.stdout and "answered a task" in result.stdout
    assert f"http://127.0.0.1:{port}/admin/" in result.stdout
    assert (tmp_path / "var" / "db.sqlite3").exists()
    assert (tmp_path / "var" / "demo" / "synthbirds-c3-k4-s64-seed0" / "images.txt").exists()
