"""The real server processes the fault tests start, stop, kill and start again. No tests here.

Each one is private to the tests and listens on a free loopback port, so stopping it disturbs
nobody: a PostgreSQL cluster of its own (Debian's ``initdb``/``pg_ctl``), a ``redis-server``
without persistence, gunicorn serving this project, Celery worker and beat processes.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from tests.conftest import REPO_ROOT, require_tool

START_TIMEOUT_S = 120
POSTGRES_USER = "postgres"
# gunicorn closes a connection idle for --keep-alive seconds (2 by default). A request sent on it
# just then is lost in a race every HTTP client knows (browsers send it again); on a loaded
# machine a participant's thread can stall that long, so the test servers wait longer.
KEEP_ALIVE_S = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout}s")


def kill_tree(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL ``process`` and its children at once, as a crashed machine would stop them."""
    children_file = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    with contextlib.suppress(FileNotFoundError):
        children = [int(pid) for pid in children_file.read_text().split()]
        process.send_signal(signal.SIGKILL)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    process.wait(timeout=30)


def stop(process: subprocess.Popen[bytes], timeout: float = 30, sig: int = signal.SIGTERM) -> None:
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(process)


def _postgres_bin() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    on_path = shutil.which("initdb")
    if found:
        return Path(found[-1]).parent
    if on_path:
        return Path(on_path).parent
    require_tool(
        "postgres",
        "PostgreSQL's server binaries (initdb, pg_ctl) are missing: apt-get install postgresql",
    )
    raise AssertionError("unreachable")


class PostgresCluster:
    """A PostgreSQL cluster of the tests' own in a new folder, on a free port.

    ``initdb`` refuses to run as root, so under root the cluster belongs to the ``postgres``
    user (Debian's packages create it) and its commands run as that user.
    """

    def __init__(self) -> None:
        self.bin = _postgres_bin()
        self.as_user: list[str] = []
        owner = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam(POSTGRES_USER)
            except KeyError:
                require_tool("postgres", "running as root without a 'postgres' user for initdb")
            runuser = shutil.which("runuser")
            self.as_user = [runuser, "-u", POSTGRES_USER, "--"] if runuser else []
            if not runuser:
                require_tool("postgres", "running as root without runuser to run initdb")
        # Not under pytest's tmp_path: its folders are private to root, the server's user
        # could not enter them.
        self.root = Path(tempfile.mkdtemp(prefix="protopool-reliability-pg-"))
        if owner is not None:
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self._run("initdb", "-D", str(self.data), "-U", POSTGRES_USER, "-A", "trust",
                  "-E", "UTF8", "--no-sync")  # fmt: skip

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run(
            [*self.as_user, str(self.bin / tool), *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
        )
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed:\n{result.stdout}{result.stderr}\n{log}")

    def url(self, database: str = "postgres") -> str:
        return f"postgres://{POSTGRES_USER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        # No fsync: the tests stop the server, never the machine, and the kernel keeps what
        # was written. No Unix socket: its folder would be shared with the system's server.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
                  "-w", "-t", str(START_TIMEOUT_S), "start")  # fmt: skip

    def running(self) -> bool:
        status = subprocess.run(
            [*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "status"],
            cwd=self.root,
            capture_output=True,
            timeout=START_TIMEOUT_S,
        )
        return status.returncode == 0

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server; ``immediate`` drops every connection at once, as a crash does."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop("fast")
        shutil.rmtree(self.root, ignore_errors=True)


class RedisServer:
    """A ``redis-server`` of the tests' own, without persistence: a restart forgets everything
    (the harshest restart; the deployed one keeps an append-only file)."""

    def __init__(self, folder: Path) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            require_tool("redis", "redis-server is not on PATH: apt-get install redis-server")
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.starts += 1
        with (self.folder / f"redis-{self.starts}.log").open("wb") as log:
            self.process = subprocess.Popen(
                [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_for_port(self.port)

    def kill(self) -> None:
        if self.process is not None:
            kill_tree(self.process)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


class Gunicorn:
    """gunicorn serving this project with ``env``, on one port across restarts."""

    def __init__(self, env: dict[str, str], folder: Path, workers: int, threads: int) -> None:
        self.env = env
        self.folder = folder
        self.workers = workers
        self.threads = threads
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.log = self.folder / f"gunicorn-{self.starts}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "studyapp.wsgi:application",
                 "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
                 "--threads", str(self.threads), "--timeout", "120", "--graceful-timeout", "5",
                 "--backlog", "512", "--keep-alive", str(KEEP_ALIVE_S)],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        self._wait_until_serving()

    def _wait_until_serving(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        answered = 0
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.log.read_text()}")
            try:
                requests.get(self.base + "/healthz", timeout=5)
            except requests.RequestException:
                answered = 0
            else:
                answered += 1
                # Several answers in a row: every worker has had time to boot.
                if answered >= 2 * self.workers:
                    return
            time.sleep(0.2)
        raise RuntimeError(
            f"gunicorn did not answer in {START_TIMEOUT_S}s:\n{self.log.read_text()}"
        )

    def kill(self) -> None:
        """SIGKILL the master and its workers: requests in flight get no answer."""
        if self.process is not None:
            kill_tree(self.process)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            # QUIT: gunicorn's quick shutdown; the test is over, nothing is in flight.
            stop(self.process, sig=signal.SIGQUIT)
            self.process = None

    def boots(self) -> int:
        """How many worker processes the running server has started (more: one crashed)."""
        return self.log.read_text().count("Booting worker")


class CeleryProcess:
    """``celery -A studyapp worker`` (or ``beat``) with ``env``; start it again after a kill."""

    def __init__(self, argv: list[str], env: dict[str, str], folder: Path, name: str) -> None:
        self.argv = argv
        self.env = env
        self.folder = folder
        self.name = name
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def log(self) -> Path:
        return self.folder / f"{self.name}-{self.starts}.log"

    def start(self, ready_line: str = " ready.") -> None:
        self.starts += 1
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "studyapp", *self.argv],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while ready_line not in self.log.read_text():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready:\n{self.log.read_text()}")
            time.sleep(0.1)

    def kill(self) -> None:
        if self.process is not None:
            kill_tree(self.process)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.folder.glob(f"{self.name}-*.log")))
