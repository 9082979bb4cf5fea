"""Real PostgreSQL and Redis servers of one's own, for the tests and the benchmarks: the
machine's packages (`initdb`/`pg_ctl`, `redis-server`) started into a temporary directory
on free loopback ports, and stopped at the end. Nothing here is for production: a real
deployment runs the distribution's services (docs/deploy.md).
"""

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

START_WAIT = 30.0
"""Seconds a server may take to start (initdb included)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def postgres_bin() -> Path | None:
    """The directory of `pg_ctl`: on PATH, or the newest under /usr/lib/postgresql."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: p.parts)
    return versions[-1].parent if versions else None


class Postgres:
    """A PostgreSQL cluster of its own: `initdb` into a temporary directory, `pg_ctl` to
    start, stop and restart it. As root, it runs as the `postgres` user (PostgreSQL
    refuses root)."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="chatroom-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        command = [*self.as_user, str(self.bin_dir / tool), *args]
        subprocess.run(command, check=True, capture_output=True, timeout=START_WAIT)

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c max_connections=400 -c fsync=on"
        )
        log = str(self.root / "log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, schema: str | None = None) -> str:
        """Where the store connects; with `schema`, into a schema of that name (which
        `create_schema` makes), so that each test has its own tables."""
        base = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        return f"{base}?search_path={schema}" if schema else base

    def psql(self, sql: str) -> str:
        command = [
            str(self.bin_dir.parent / "bin" / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-At",
            "-c",
            sql,
        ]
        if not Path(command[0]).exists():
            command[0] = shutil.which("psql") or "psql"
        done = subprocess.run(command, check=True, capture_output=True, text=True, timeout=30)
        return done.stdout

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class Redis:
    """A `redis-server` of its own on a free port, keeping nothing on disk."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_WAIT
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not listen on {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=START_WAIT)
            self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def flush(self) -> None:
        """Forget everything (what an earlier test's nodes left)."""
        with redis.Redis(port=self.port) as client:
            client.flushall()

    def close(self) -> None:
        self.stop()
