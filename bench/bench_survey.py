"""Load on the participant survey: gunicorn on PostgreSQL, simulated participants over HTTP.

Usage::

    python bench/bench_survey.py                      # 200 participants x 60 questions
    python bench/bench_survey.py --participants 50 --repeats 1 --think 0.5   # a quick look

Each simulated participant opens the study link, consents, and answers every question: an
answer cycle is the answer's POST, the redirect, and the next page's GET (the two pictures of
a page are not fetched). Three measurements, all in one run against one gunicorn:

1. **Saturation** (no pause): answer cycles per second with all participants at once, and its
   ratio to the same cycle (POST, redirect, GET) against a bare Django view served by the same
   server. Bare bursts and survey runs alternate (``--repeats``), so both see the same machine;
   each survey run is a fresh study.
2. **Realistic pace** (``--think`` seconds before each answer): cycle latency p50/p95/max.
3. After each survey run, every answer stored exactly once: participants x questions rows,
   each participant with one answer per question, everyone completed.

The server is gunicorn with ``--workers`` sync workers on PostgreSQL (database
``bench_survey``, dropped and made anew), ``DEBUG=0``, persistent database connections. The
driver runs in this process, one thread per participant, on the same machine. Nothing here is
asserted; the figures are printed.
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
DATABASE = "bench_survey"
OTREE_CYCLES_PER_S = 64.0  # oTree 6, the same 60-question survey on this kind of machine
SERVER_READY_S = 60
CONDITIONS = ("Condition A", "Condition B", "Condition C")


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --- the server ---------------------------------------------------------------------------------


def server_env(postgres: str, var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="bench_settings",
        PYTHONPATH=os.pathsep.join([str(BENCH), str(REPO)]),
        DATABASE_URL=f"{postgres.rstrip('/')}/{DATABASE}",
        CONN_MAX_AGE="60",
        SECRET_KEY="bench-only-secret-key",
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PROTOPOOL_VAR_DIR=str(var_dir),
        LOG_LEVEL="WARNING",
    )
    return env


def fresh_database(postgres: str) -> None:
    import psycopg

    with psycopg.connect(f"{postgres.rstrip('/')}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_gunicorn(env: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", "studyapp.wsgi:application",
               "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
               "--worker-class", "sync", "--backlog", "2048", "--log-level", "warning"]  # fmt: skip
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=out)
    deadline = time.monotonic() + SERVER_READY_S
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as reply:
                if reply.status == 200:
                    return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit(f"gunicorn did not answer /healthz in {SERVER_READY_S}s:\n{log.read_text()}")


# --- the study ----------------------------------------------------------------------------------


def _png(shade: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (224, 224), (shade, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def seed_study(name: str, participants: int, questions: int) -> str:
    """A READY-to-answer open study of ``questions`` regular questions in one set; its code."""
    from django.core.files.base import ContentFile

    from surveys import models as m

    study = m.Study.objects.create(
        slug=name, title=name, status=m.StudyStatus.OPEN, participants_wanted=participants,
        min_seconds_per_question=0, questions_per_dataset=questions,
        consent_text="Consent.", instructions_text="Instructions.", debrief_text="Thanks.",
    )  # fmt: skip
    question_set = m.QuestionSet.objects.create(study=study, index=0)
    conditions = []
    for position, label in enumerate(CONDITIONS):
        run, _ = m.Run.objects.get_or_create(
            run_dir=f"bench/{label}", defaults=dict(
                label=label, kind=m.RunKind.PROTOPOOL, dataset_name="SynthBirds",
                fingerprint=label, num_classes=1, num_prototypes=1),
        )  # fmt: skip
        prototype, _ = m.Prototype.objects.get_or_create(run=run, index=0, original_index=0)
        condition = m.Condition.objects.create(study=study, run=run, label=label,
                                               dataset="SynthBirds", position=position)  # fmt: skip
        conditions.append((condition, prototype))
    for number in range(questions):
        condition, prototype = conditions[number % len(conditions)]
        stimulus = m.Stimulus.objects.create(
            study=study, condition=condition, prototype=prototype, image_id=f"img/{number}.png",
            status=m.StimulusStatus.DONE,
            original=ContentFile(_png(number % 256), name="bench.png"),
            overlay=ContentFile(_png(255 - number % 256), name="bench.png"),
        )  # fmt: skip
        question = m.Question.objects.create(study=study, stimulus=stimulus)
        m.QuestionSetItem.objects.create(question_set=question_set, question=question)
    return study.code


def check_stored(code: str, participants: int, questions: int) -> dict[str, Any]:
    """Every answer exactly once: counts straight from the database."""
    from django.db.models import Count

    from surveys import models as m

    answers = m.Response.objects.filter(participant__study__code=code)
    per_participant = list(
        answers.values("participant").annotate(n=Count("id")).values_list("n", flat=True)
    )
    pairs = answers.values("participant", "question").distinct().count()
    completed = m.Participant.objects.filter(
        study__code=code, status=m.ParticipantStatus.COMPLETED
    ).count()
    expected = participants * questions
    return {
        "rows": answers.count(),
        "expected": expected,
        "distinct_pairs": pairs,
        "participants_complete": completed,
        "exactly_once": answers.count() == pairs == expected
        and per_participant == [questions] * participants
        and completed == participants,
    }


# --- the driver ---------------------------------------------------------------------------------


@dataclass
class Tally:
    """Cycle latencies (seconds) and failures, shared by the driver's threads."""

    cycles: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: float) -> None:
        with self.lock:
            self.cycles.append(seconds)

    def fail(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)


class Browser:
    """One participant's keep-alive connection (reopened when a sync worker closes it)."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, form: str | None = None) -> tuple[int, str, bytes]:
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if form else {}
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body=form, headers=headers)
                reply = self.connection.getresponse()
                body = reply.read()
                return reply.status, reply.getheader("Location") or "", body
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A sync worker closes after each response; a reused socket can race that.
                self.connection.close()
                if attempt == 2 or method == "POST":
                    raise
        raise AssertionError("unreachable")

    def follow(self, method: str, path: str, form: str | None = None) -> str:
        """Send, follow redirects with GETs; the path of the page finally shown."""
        status, location, _ = self.request(method, path, form)
        while status in (301, 302, 303):
            path = urlsplit(location).path
            status, location, _ = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"{method} {path} -> {status}")
        return path


def walk_participant(port: int, code: str, pid: str, questions: int, think: float,
                     tally: Tally) -> None:  # fmt: skip
    """Entry, consent, every question (timing each answer cycle), debrief."""
    browser = Browser(port)
    try:
        page = browser.follow("GET", f"/s/{code}/?pid={pid}")
        page = browser.follow("POST", page, "decision=agree")
        page = browser.follow("GET", page.replace("instructions/", "q/1/"))
        for position in range(1, questions + 1):
            if think:
                time.sleep(think)
            started = time.perf_counter()
            page = browser.follow("POST", page, f"score={1 + position % 5}&client_rt_ms=900")
            tally.add(time.perf_counter() - started)
        browser.follow("POST", page)
    except Exception as error:  # noqa: BLE001 - every failure is counted and printed
        tally.fail(f"{pid}: {type(error).__name__}: {error}")
    finally:
        browser.connection.close()


def walk_bare(port: int, questions: int, tally: Tally) -> None:
    browser = Browser(port)
    try:
        page = browser.follow("GET", "/bench-bare/1/")
        for _ in range(questions):
            started = time.perf_counter()
            page = browser.follow("POST", page, "score=3")
            tally.add(time.perf_counter() - started)
    except Exception as error:  # noqa: BLE001
        tally.fail(f"bare: {type(error).__name__}: {error}")
    finally:
        browser.connection.close()


def run_threads(targets: list[tuple[Any, tuple[Any, ...]]], stagger: float) -> float:
    """Start one thread per target (spread over ``stagger`` seconds); wall seconds to finish."""
    threads = [threading.Thread(target=fn, args=args, daemon=True) for fn, args in targets]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
        if stagger:
            time.sleep(stagger / len(threads))
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def saturation(port: int, args: argparse.Namespace, repeat: int) -> dict[str, Any]:
    """One bare burst, then one survey run, both with every participant at once."""
    bare = Tally()
    bare_wall = run_threads(
        [(walk_bare, (port, args.questions, bare)) for _ in range(args.participants)], 0
    )
    code = seed_study(f"saturation-{repeat}", args.participants, args.questions)
    survey = Tally()
    targets = [(walk_participant, (port, code, f"s{repeat}-{n}", args.questions, 0.0, survey))
               for n in range(args.participants)]  # fmt: skip
    survey_wall = run_threads(targets, 0)
    bare_rate = len(bare.cycles) / bare_wall
    survey_rate = len(survey.cycles) / survey_wall
    return {
        "bare_rate": bare_rate,
        "survey_rate": survey_rate,
        "ratio": survey_rate / bare_rate,
        "survey_p95_ms": 1000 * percentile(survey.cycles, 0.95),
        "bare_p95_ms": 1000 * percentile(bare.cycles, 0.95),
        "errors": bare.errors + survey.errors,
        "stored": check_stored(code, args.participants, args.questions),
    }


def realistic(port: int, args: argparse.Namespace) -> dict[str, Any]:
    code = seed_study("realistic", args.participants, args.questions)
    tally = Tally()
    targets = [(walk_participant, (port, code, f"r-{n}", args.questions, args.think, tally))
               for n in range(args.participants)]  # fmt: skip
    wall = run_threads(targets, args.think)
    return {
        "rate": len(tally.cycles) / wall,
        "p50_ms": 1000 * statistics.median(tally.cycles) if tally.cycles else float("nan"),
        "p95_ms": 1000 * percentile(tally.cycles, 0.95),
        "max_ms": 1000 * max(tally.cycles, default=float("nan")),
        "errors": tally.errors,
        "stored": check_stored(code, args.participants, args.questions),
    }


def _spread(values: list[float], digits: int = 2) -> str:
    middle, low, high = statistics.median(values), min(values), max(values)
    return f"{middle:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def report(runs: list[dict[str, Any]], pace: dict[str, Any], args: argparse.Namespace) -> None:
    survey = [run["survey_rate"] for run in runs]
    print(f"survey load: {args.participants} participants x {args.questions} questions, "
          f"gunicorn {args.workers} sync workers on PostgreSQL, "
          f"{len(runs)} interleaved runs")  # fmt: skip
    print(f"1. saturation: {_spread(survey, 1)} answer cycles/s; bare Django cycle "
          f"{_spread([run['bare_rate'] for run in runs], 1)}/s; ratio "
          f"{_spread([run['ratio'] for run in runs])} (target >= 0.5); "
          f"x{statistics.median(survey) / OTREE_CYCLES_PER_S:.2f} oTree 6's "
          f"{OTREE_CYCLES_PER_S:.0f}/s (target >= 2); survey p95 "
          f"{_spread([run['survey_p95_ms'] for run in runs], 0)} ms")  # fmt: skip
    print(f"2. realistic pace ({args.think:g} s per answer): {pace['rate']:.1f} cycles/s, "
          f"p50 {pace['p50_ms']:.1f} ms, p95 {pace['p95_ms']:.1f} ms (target <= 100), "
          f"max {pace['max_ms']:.1f} ms")  # fmt: skip
    stored = [run["stored"] for run in runs] + [pace["stored"]]
    print("3. stored exactly once: " + ", ".join(
        f"{s['rows']}/{s['expected']} rows {'ok' if s['exactly_once'] else 'MISMATCH'}"
        for s in stored))  # fmt: skip
    errors = [e for run in runs for e in run["errors"]] + pace["errors"]
    print(f"   driver errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved saturation runs")
    parser.add_argument("--think", type=float, default=2.0, help="seconds before each answer")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument(
        "--postgres", default=os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-survey-") as folder:
        var_dir = Path(folder)
        env = server_env(args.postgres, var_dir)
        fresh_database(args.postgres)
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=REPO, env=env,
                       check=True)  # fmt: skip
        os.environ.update(env)
        sys.path[:0] = [str(BENCH), str(REPO)]
        import django

        django.setup()
        port = free_port()
        server = start_gunicorn(env, port, args.workers, var_dir / "gunicorn.log")
        try:
            runs = []
            for repeat in range(args.repeats):
                runs.append(saturation(port, args, repeat))
                _log(f"run {repeat + 1}/{args.repeats}: {runs[-1]['survey_rate']:.1f} cycles/s, "
                     f"bare {runs[-1]['bare_rate']:.1f}/s")  # fmt: skip
            pace = realistic(port, args)
        finally:
            server.terminate()
            server.wait(timeout=30)
        report(runs, pace, args)


if __name__ == "__main__":
    main()
