"""docker-compose.yml is valid and wires every service through the same environment."""

from __future__ import annotations

import os
import shutil
import subprocess

import yaml

from tests.conftest import REPO_ROOT, require_tool


def _compose_command() -> list[str]:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    require_tool(
        "compose", "neither `docker compose` nor `docker-compose` is installed; .ci/run installs it"
    )


def test_docker_compose_config_parses():
    env = {**os.environ, "SECRET_KEY": "compose-validation-only"}
    result = subprocess.run(
        [*_compose_command(), "config", "-q"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_compose_services_share_the_app_environment():
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker"} <= set(services)
    for name in ("web", "worker"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["CELERY_BROKER_URL"].startswith("redis://")
        assert "STORAGE" in env
    assert "gunicorn" in services["web"]["command"]
    assert "celery -A studyapp worker" in services["worker"]["command"]
    assert "celery -A studyapp beat" in services["beat"]["command"]
