"""Start worker processes (tests/reliability/worker.py) against this test's database.

Each worker is a separate Python process with its own Django and its own PostgreSQL
connection, so nothing is shared but the database: the same situation as gunicorn workers
and a renewal job on a timer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
# Django, the app and a database connection: a couple of seconds each on two busy cores.
READY_TIMEOUT = 60


def database_url() -> str:
    """The URL of the database this test runs on (the test database, not the configured one)."""
    db = connection.settings_dict
    user = quote(db["USER"] or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or "5432"
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


@dataclass
class Worker:
    process: subprocess.Popen[str]
    # A file, not a pipe: a worker that logs a lot must never block on a full pipe.
    stderr: IO[str]
    backend_pid: int = 0
    lines: list[dict[str, Any]] = field(default_factory=list)

    def errors(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read()[-3000:]

    @property
    def stdout(self) -> IO[str]:
        assert self.process.stdout is not None
        return self.process.stdout

    def read_line(self) -> dict[str, Any]:
        line = self.stdout.readline()
        if not line:
            self.process.wait(timeout=10)
            raise AssertionError(f"worker exited {self.process.returncode}:\n{self.errors()}")
        data: dict[str, Any] = json.loads(line)
        self.lines.append(data)
        return data

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def result(self, timeout: float) -> dict[str, Any]:
        """The last line, once the worker has finished."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"worker still running after {timeout} s") from None
        while (line := self.stdout.readline()) != "":
            self.lines.append(json.loads(line))
        assert self.process.returncode == 0, self.errors()
        return self.lines[-1]

    def kill(self) -> None:
        """SIGKILL if still running; safe to call again."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


def start(job: str, args_list: list[dict[str, Any]]) -> list[Worker]:
    """Start one worker per args, wait until all are ready, then release them together."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "leasing.settings",
        "LOG_LEVEL": "WARNING",
    }
    workers = []
    for args in args_list:
        # Closed with the worker (Worker.kill), not at the end of this loop.
        stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.worker", job, json.dumps(args)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        workers.append(Worker(process, stderr))
    deadline = time.monotonic() + READY_TIMEOUT
    try:
        for worker in workers:
            ready = worker.read_line()
            assert ready.get("ready"), ready
            worker.backend_pid = ready["backend_pid"]
            assert time.monotonic() < deadline, "workers took too long to start"
    except BaseException:
        for worker in workers:
            worker.kill()
        raise
    for worker in workers:
        worker.go()
    return workers


def results(workers: list[Worker], timeout: float) -> list[dict[str, Any]]:
    try:
        return [worker.result(timeout) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()


def report(title: str, figures: dict[str, Any]) -> None:
    """Print the figures docs/reliability.md quotes (visible with pytest -s or -rP)."""
    print(f"\n[figures] {title}: {json.dumps(figures, sort_keys=True)}")
