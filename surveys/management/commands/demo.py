"""``manage.py demo``: the whole platform on one machine with no servers.

Generates SynthBirds, trains the study's three conditions on the CPU (ProtoPool with focal
similarity, with ProtoPNet's similarity, and ProtoTree; each reused when its inputs are
unchanged), migrates the SQLite database, starts a real Celery worker on the file-system broker,
imports and names the runs, builds a small blinded study on that worker, opens it, and serves
the site until interrupted. ``--check`` walks one simulated participant through the study over
HTTP and stops.

``--simulate N`` builds a 60-question study instead and lets N simulated participants take it
over HTTP, each answer drawn from a stated model of the stimulus's measured map plus
participant and picture noise, with a share of careless raters
(:mod:`surveys.platform.simulated_raters`); then exports the study, writes the report and prints
its path on a line that starts with ``report``.
"""

from __future__ import annotations

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
from surveys.models import Response, Study
from surveys.platform.demo import (
    DemoRun,
    demo_spec,
    do_demo_study,
    do_import_demo_runs,
    simulated_spec,
)
from surveys.platform.simulated_participant import WalkError, walk_study
from surveys.platform.simulated_raters import RaterModel
from surveys.platform.simulation import careless_excluded, do_simulate_participants, slope_recovery
from surveys.results.exports import do_export_results

WORKER_READY_TIMEOUT_S = 90
SERVER_READY_TIMEOUT_S = 60
DEMO_USERNAME = "researcher"
# The study's three conditions: (run folder, catalogue label, config, overrides).
DEMO_RUNS = (
    ("protopool-focal", "ProtoPool (focal)", "configs/synthbirds-cpu.yaml", ()),
    ("protopool-protopnet", "ProtoPool (ProtoPNet similarity)", "configs/synthbirds-cpu.yaml",
     ("model.similarity=protopnet",)),
    ("prototree", "ProtoTree", "configs/prototree-synthbirds-cpu.yaml", ()),
)  # fmt: skip
BUILD_TIMEOUT_S = 900
DEMO_QUESTIONS = 12
SIMULATED_QUESTIONS = 60
# Enough distinct prototypes per method for a prototype's own metrics to be related to ratings.
SIMULATED_MIN_PROTOTYPES = 10


class Command(BaseCommand):
    help = "Run the platform end to end on the embedded default (SQLite, file broker, local media)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--classes", type=int, default=20)
        parser.add_argument("--images-per-class", type=int, default=60)
        parser.add_argument("--size", type=int, default=128)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--no-train", action="store_true", help="skip training (use runs already trained)"
        )
        parser.add_argument(
            "--train-override",
            action="append",
            default=[],
            metavar="SECTION.FIELD=VALUE",
            help="a config override for every demo run (repeatable)",
        )
        parser.add_argument(
            "--questions",
            type=int,
            default=None,
            help=f"questions per dataset ({DEMO_QUESTIONS}; {SIMULATED_QUESTIONS} with --simulate)",
        )
        parser.add_argument(
            "--min-seconds", type=float, default=1.0, help="minimum seconds per question"
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="start everything, verify /healthz and the worker, then stop (no serving)",
        )
        parser.add_argument(
            "--simulate",
            type=int,
            default=0,
            metavar="N",
            help="let N simulated participants take a study of its own over HTTP, then export "
            "and report",
        )
        parser.add_argument(
            "--min-prototypes",
            type=int,
            default=SIMULATED_MIN_PROTOTYPES,
            help="distinct prototypes per condition of the simulated study",
        )
        parser.add_argument(
            "--simulate-slope",
            type=float,
            default=RaterModel.beta,
            help="the simulated log-odds per SD of the map's energy on the parts",
        )
        parser.add_argument(
            "--simulate-careless",
            type=float,
            default=RaterModel.careless_fraction,
            help="the share of careless simulated raters",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        demo_dir = settings.VAR_DIR / "demo"
        demo_dir.mkdir(parents=True, exist_ok=True)
        data_dir = self._synthesize(demo_dir, options)
        runs = self._train(demo_dir, data_dir, options)
        self._step("Migrating the database")
        call_command("migrate", interactive=False, verbosity=0)
        password = self._ensure_researcher(demo_dir)
        children: list[subprocess.Popen[bytes]] = []
        try:
            children.append(self._start_worker(demo_dir))
            self._ping_worker()
            study = self._study(runs, data_dir, options)
            children.append(self._start_server(demo_dir, options["port"]))
            base = f"http://127.0.0.1:{options['port']}"
            self._wait_healthy(base)
            self._print_urls(base, password, study)
            report = None
            if options["simulate"] and study is not None:
                report = self._simulate(base, study, demo_dir, options)
            if not options["check"]:
                if report is not None:
                    self.stdout.write(f"report        {report}")
                self._serve_forever(children)
            elif report is not None:
                # Last, so that a script can take the report's path from the final line.
                self.stdout.write(f"report        {report}")
            elif study is not None:
                self._walk(base, study)
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

    def _train(self, demo_dir: Path, data_dir: Path, options: dict[str, Any]) -> list[DemoRun]:
        """Train each condition (reused when unchanged); the runs that are there to import."""
        runs = []
        for folder, label, config, overrides in DEMO_RUNS:
            run_dir = demo_dir / "runs" / folder
            if not options["no_train"]:
                self._step(f"Training {label} on SynthBirds (reused when unchanged): {run_dir}")
                self._run(
                    [sys.executable, "-m", "protopool", "train", "--config", config,
                     "--data", str(data_dir), "--out", str(run_dir), "--reuse",
                     *overrides, *options["train_override"]]
                )  # fmt: skip
            if (run_dir / "done.json").exists():
                runs.append(DemoRun(run_dir, label))
        return runs

    def _study(self, runs: list[DemoRun], data_dir: Path, options: dict[str, Any]) -> Study | None:
        if not runs:
            self.stdout.write("    no trained runs: no study is built (drop --no-train)")
            return None
        say = self._say
        self._step("Importing and naming the runs")
        # The simulated study's report relates each prototype's own metrics to its ratings.
        do_import_demo_runs(runs, data_dir, say, metrics=bool(options["simulate"]))
        self._step("Building the demo study on the Celery worker")
        simulate = options["simulate"]
        questions = options["questions"] or (SIMULATED_QUESTIONS if simulate else DEMO_QUESTIONS)
        if simulate:
            spec = simulated_spec(
                runs, questions, options["min_seconds"], simulate, options["min_prototypes"]
            )
        else:
            spec = demo_spec(runs, questions, options["min_seconds"])
        try:
            return do_demo_study(spec, say, BUILD_TIMEOUT_S)
        except (RuntimeError, ValueError) as exc:
            raise CommandError(f"the demo study could not be built: {exc}") from exc

    def _say(self, line: str) -> None:
        self.stdout.write(f"    {line}")

    def _walk(self, base: str, study: Study) -> None:
        self._step("Walking one simulated participant through the study over HTTP")
        pid = f"demo-check-{secrets.token_hex(4)}"
        walk = walk_study(base, study.code, pid, study.min_seconds_per_question)
        stored = Response.objects.filter(participant__study=study, participant__external_id=pid)
        if study.completion_code not in walk.completion_page or stored.count() != walk.answered:
            raise CommandError(
                f"the walk ended without the completion code or lost answers "
                f"({stored.count()} stored of {walk.answered})"
            )
        self.stdout.write(
            f"    answered {walk.answered} of {walk.total} questions; all stored; "
            f"completion code shown"
        )

    def _simulate(self, base: str, study: Study, demo_dir: Path, options: dict[str, Any]) -> Path:
        """Simulated participants over HTTP, the export and the report; the report's path."""
        total = options["simulate"]
        self._step(f"Letting {total} simulated participants take the study over HTTP")
        model = RaterModel(
            beta=options["simulate_slope"], careless_fraction=options["simulate_careless"]
        )
        try:
            summary = do_simulate_participants(base, study, total, model, self._say)
        except (WalkError, ValueError, RuntimeError) as exc:
            raise CommandError(f"the simulated participants could not finish: {exc}") from exc
        if summary.walked:
            self._say(f"{summary.walked} took the study in {summary.seconds:.0f} s")
        out = demo_dir / "results" / study.slug
        self._step(f"Exporting the study and writing its report into {out}")
        exported = do_export_results(study, out, progress=self._say)
        if exported.report_note:
            raise CommandError(f"the report was not written: {exported.report_note}")
        report_dir = out / "report"
        if summary.careless_ids:
            self._say(careless_excluded(study, out / "participants.csv", summary.careless_ids))
        self._say(slope_recovery(report_dir, model))
        for label, name in (
            ("figure 10", "figure10.png"),
            ("people vs metrics", f"human_vs_objective_m_{model.measure}.png"),
        ):
            if (report_dir / name).exists():
                self._say(f"{label:<18}{report_dir / name}")
        return report_dir / "report.md"

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

    def _print_urls(self, base: str, password: str, study: Study | None) -> None:
        self.stdout.write(self.style.SUCCESS("The platform is up:"))
        if study is not None:
            self.stdout.write(f"participant   {base}/s/{study.code}/")
            self.stdout.write(f"    study         {base}/staff/studies/{study.slug}/")
            self.stdout.write(f"    desk          {base}/staff/studies/{study.slug}/desk/")
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
