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


def _resolved_config(*flags: str) -> dict:
    """The compose file as compose itself resolves it (anchors merged, variables filled)."""
    env = {**os.environ, "SECRET_KEY": "compose-validation-only"}
    for name in ("SURVEYS_BUILD_QUEUE", "SURVEYS_TRAIN_QUEUE"):
        env.pop(name, None)
    result = subprocess.run(
        [*_compose_command(), *flags, "config"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def _queues(command: str | list[str]) -> list[str]:
    words = command.split() if isinstance(command, str) else command
    return words[words.index("-Q") + 1].split(",")


def test_each_queue_has_its_own_worker_and_the_gpu_one_its_own_profile():
    services = _resolved_config("--profile", "gpu")["services"]
    # the default queue, the render queue and the GPU queue each have a worker of their own
    assert _queues(services["worker"]["command"]) == ["celery"]
    assert _queues(services["render-worker"]["command"]) == ["render"]
    assert _queues(services["gpu-worker"]["command"]) == ["gpu"]
    # and every service of the app sends rendering and training to those queues
    for name in ("web", "worker", "render-worker", "gpu-worker", "beat"):
        env = services[name]["environment"]
        assert env["SURVEYS_BUILD_QUEUE"] == "render", name
        assert env["SURVEYS_TRAIN_QUEUE"] == "gpu", name
        assert env["SURVEYS_TRAIN_RUNS_DIR"].startswith("/data/"), "on the shared volume"
        assert services[name]["image"] == services["web"]["image"], "one image everywhere"
    # and only the GPU worker needs the gpu profile, an NVIDIA device and the GPU to render on
    gpu = services["gpu-worker"]
    assert gpu["profiles"] == ["gpu"]
    assert [name for name, s in services.items() if s.get("profiles")] == ["gpu-worker"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert len(devices) == 1 and devices[0]["driver"] == "nvidia"
    assert devices[0]["capabilities"] == ["gpu"]
    # (compose v1 prints "all" as written, v2 as -1)
    assert devices[0]["count"] in ("all", -1)
    assert gpu["environment"]["SURVEYS_RENDER_DEVICE"] == "cuda"
    assert "--concurrency=1" in gpu["command"], "one training per GPU machine at a time"
