"""A chatroom server in its own process, for the benchmarks: start it, find its port."""

import asyncio
import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

BCRYPT_COST = 4
"""The cost the benchmarks' server hashes and checks passwords at (the lowest bcrypt has)."""
BENCH_FLAGS = (
    "--bcrypt-cost", str(BCRYPT_COST),
    "--message-rate", "1000000000",
    "--message-burst", "1000000000",
    "--max-connections-per-ip", "100000",
    "--max-connections", "100000",
    "--login-attempts", "1000000000",
    "--register-rate", "1000000000",
    "--register-burst", "1000000000",
    "--mailbox-limit", "1000000000",
)  # fmt: skip
"""Limits that would otherwise throttle the load generator (one address, many users)."""


class ServerDidNotStart(RuntimeError):
    """The server exited before it listened; the message is its last line."""


async def start_server(
    data_dir: Path, *flags: str, timeout: float = 30
) -> tuple[asyncio.subprocess.Process, int]:
    """`chatroom-server` on a free loopback port with `flags`; returns it and the port.
    `timeout` allows for the check of a big database's every page before it listens."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatroom.server", "--port", "0", "--data-dir", str(data_dir),
        *flags, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    said = ""
    async with asyncio.timeout(timeout):
        while True:
            line = (await process.stderr.readline()).decode()
            if not line:  # its last line says why (chatroom-server: error: ...)
                raise ServerDidNotStart(said.strip() or "the server exited before it listened")
            if match := re.search(r"listening on [\d.]+:(\d+)", line):
                break
            said = line
    # Keep reading its log so the pipe never fills up and blocks the server.
    asyncio.get_running_loop().create_task(process.stderr.read())
    return process, int(match.group(1))


@contextlib.contextmanager
def script_server(code: str) -> Iterator[tuple[int, int]]:
    """Run `code` in a Python process of its own: a server that prints the port it
    listens on, then serves until its standard input has a line. Gives its pid and
    port, and stops it at the end."""
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        yield process.pid, int(process.stdout.readline())
    finally:
        process.stdin.write(b"\n")
        process.stdin.close()
        process.wait(timeout=10)


def rss_kib(pid: int) -> int:
    """Resident memory of process `pid` now, in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) process `pid` has used so far, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_kib(pid: int) -> int:
    """The most resident memory process `pid` has had, in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]
