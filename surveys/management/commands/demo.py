"""``manage.py demo``: the whole platform on one machine with no servers.

Generates SynthBirds, trains the CPU ProtoPool run (reused when its inputs are unchanged),
migrates the SQLite database, starts a real Celery worker on the file-system broker, proves it
answers, and serves the site until interrupted.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from studyapp.celery import app as celery_app

WORKER_READY_TIMEOUT_S = 90
SERVER_READY_TIMEOUT_S = 60
DEMO_USERNAME = "researcher"
DEMO_CONFIG = "configs/synthbirds-cpu.yaml"


class Command(BaseCommand):
    help = "Run the platform end to end on the embedded default (SQLite, file broker, local media)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--classes", type=int, default=20)
        parser.add_argument("--images-per-class", type=int, default=60)
        parser.add_argument("--size", type=int, default=128)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--no-train", action="store_true", help="skip the training run")
        parser.add_argument(
            "--check",
            action="store_true",
            help="start everything, verify /healthz and the worker, then stop (no serving)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        demo_dir = settings.VAR_DIR / "demo"
        demo_dir.mkdir(parents=True, exist_ok=True)
        data_dir = self._synthesize(demo_dir, options)
        if not options["no_train"]:
            self._train(demo_dir, data_dir)
        self._step("Migrating the database")
        call_command("migrate", interactive=False, verbosity=0)
        password = self._ensure_researcher(demo_dir)
        children: list[subprocess.Popen[bytes]] = []
        try:
            children.append(self._start_worker(demo_dir))
            self._ping_worker()
            children.append(self._start_server(demo_dir, options["port"]))
            base = f"http://127.0.0.1:{options['port']}"
            self._wait_healthy(base)
            self._print_urls(base, password)
            if not options["check"]:
                self._serve_forever(children)
        finally:
            for child in children:
                _stop(child)

    # -- steps ----------------------------------------------------------------------------------
    def _step(self, text: str) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"==> {text}"))

    def _run(self, argv: list[str]) -> None:
        completed = subprocess.run(argv, cwd=settings.BASE_DIR)
        if completed.returncode != 0:
            raise CommandError(f"step failed (exit {completed.returncode}): {' '.join(argv)}")

    def _synthesize(self, demo_dir: Path, options: dict[str, Any]) -> Path:
        spec = f"c{options['classes']}-k{options['images_per_class']}-s{options['size']}"
        data_dir = demo_dir / f"synthbirds-{spec}-seed{options['seed']}"
        if (data_dir / "images.txt").exists():
            self._step(f"SynthBirds already generated: {data_dir}")
            return data_dir
        self._step(f"Generating SynthBirds ({spec}) in {data_dir}")
        self._run(
            [
                sys.executable,
                "-m",
                "protopool",
                "synth",
                "--out",
                str(data_dir),
                "--classes",
                str(options["classes"]),
                "--images-per-class",
                str(options["images_per_class"]),
                "--size",
                str(options["size"]),
                "--seed",
                str(options["seed"]),
            ]
        )
        return data_dir

    def _train(self, demo_dir: Path, data_dir: Path) -> None:
        run_dir = demo_dir / "runs" / "protopool-focal"
        self._step(f"Training ProtoPool on SynthBirds (reused when unchanged): {run_dir}")
        self._run(
            [
                sys.executable,
                "-m",
                "protopool",
                "train",
                "--config",
                DEMO_CONFIG,
                "--data",
                str(data_dir),
                "--out",
                str(run_dir),
                "--reuse",
            ]
        )
        # `train` evaluates on the test split when it finishes and keeps the report with the run;
        # running `protopool evaluate` again would only repeat that work on every start.
        self._step("Evaluation on the SynthBirds test split")
        report = json.loads((run_dir / "evaluation.json").read_text())
        self.stdout.write(json.dumps(report, indent=2))

    def _ensure_researcher(self, demo_dir: Path) -> str:
        # The password is kept beside the demo database so a restarted demo prints the same one.
        secret_file = demo_dir / "researcher-password.txt"
        if not secret_file.exists():
            secret_file.write_text(secrets.token_urlsafe(12))
            secret_file.chmod(0o600)
        password = secret_file.read_text().strip()
        users = get_user_model()
        user = users.objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            users.objects.create_superuser(DEMO_USERNAME, "researcher@example.org", password)
        return password

    def _start_worker(self, demo_dir: Path) -> subprocess.Popen[bytes]:
        self._step("Starting a Celery worker on the file-system broker")
        # The child keeps its own copy of the log's descriptor; ours can close at once.
        with open(demo_dir / "worker.log", "w") as log:
            return subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "studyapp",
                    "worker",
                    "--loglevel=INFO",
                    "--concurrency=1",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=settings.BASE_DIR,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=os.environ.copy(),
            )

    def _ping_worker(self) -> None:
        result = celery_app.send_task("surveys.echo", args=[{"demo": True}])
        try:
            reply = result.get(timeout=WORKER_READY_TIMEOUT_S)
        except Exception as exc:
            raise CommandError(f"the Celery worker did not answer: {exc}") from exc
        self.stdout.write(f"    worker {reply['worker']} answered a task")

    def _start_server(self, demo_dir: Path, port: int) -> subprocess.Popen[bytes]:
        self._step(f"Serving the site on 127.0.0.1:{port}")
        with open(demo_dir / "server.log", "w") as log:
            return subprocess.Popen(
                [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
                cwd=settings.BASE_DIR,
                env=os.environ.copy(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def _wait_healthy(self, base: str) -> None:
        deadline = time.monotonic() + SERVER_READY_TIMEOUT_S
        last_error = "no answer"
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError as exc:
                last_error = str(exc)
            time.sleep(0.5)
        raise CommandError(f"{base}/healthz did not report healthy: {last_error}")

    def _print_urls(self, base: str, password: str) -> None:
        self.stdout.write(self.style.SUCCESS("The platform is up:"))
        self.stdout.write(f"    site          {base}/")
        self.stdout.write(
            f"    researcher    {base}/admin/  (user {DEMO_USERNAME}, password {password})"
        )
        self.stdout.write(f"    health        {base}/healthz")

    def _serve_forever(self, children: list[subprocess.Popen[bytes]]) -> None:
        self.stdout.write("Press Ctrl-C to stop.")
        try:
            while all(child.poll() is None for child in children):
                time.sleep(1)
        except KeyboardInterrupt:
            return
        raise CommandError("a demo process stopped unexpectedly; see var/demo/*.log")


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is not None:
        return
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout=20)
    except subprocess.TimeoutExpired:
        child.kill()
