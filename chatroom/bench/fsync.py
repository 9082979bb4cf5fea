"""How long this disk takes to make a small write durable: the floor under every stored
message's latency (the server answers `ok` only after its commit's fsync).

    python -m chatroom.bench.fsync [--dir DIR] [--count 500] [--json FILE]

Two floors, each COUNT times, under DIR (default: the temporary directory, where
chatroom-bench's server keeps its data):

- an fdatasync: append 200 bytes and make them durable, as SQLite's WAL does at each
  commit;
- a stored message's commit: one private message INSERTed, alone, into a database with
  the server's own schema (its full-text index and read-marker triggers fire), with the
  server's settings (WAL, `synchronous = FULL`), by `sqlite3` on this thread: no event
  loop, no thread hop, no Python around it but the call.
"""

import argparse
import asyncio
import contextlib
import json
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiosqlite

from chatroom.bench.scenarios import STORED_TEXT
from chatroom.server.store.schema import migrate


def measure(directory: Path, count: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile(dir=directory) as scratch:

        def append() -> None:
            scratch.write(b"x" * 200)
            scratch.flush()
            os.fdatasync(scratch.fileno())

        fsync = _timed(append, count)
    with server_database(directory) as db:
        seq = iter(range(1, count + 1))

        def commit() -> None:
            db.execute(insert_sql(1), (STORED_TEXT, time.time(), next(seq)))

        stored = _timed(commit, count)
    return {"count": count} | fsync | {f"commit_{key}": value for key, value in stored.items()}


@contextlib.contextmanager
def server_database(directory: Path | None = None) -> Iterator[sqlite3.Connection]:
    """A database in a temporary directory under `directory`, made as the server makes
    it (every migration) and opened with its settings (WAL, `synchronous = FULL`)."""
    with tempfile.TemporaryDirectory(dir=directory) as scratch:
        path = Path(scratch) / "floor.db"
        asyncio.run(_migrate(path))
        with sqlite3.connect(path, isolation_level=None) as db:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            yield db


def insert_sql(rows: int) -> str:
    """An INSERT of `rows` private messages from alice to bob, each given its text, ts
    and seq."""
    row = "('alice', 'bob', ?, ?, 2, ?)"
    return f"""INSERT INTO messages (sender, recipient, text, ts, conv, seq)
               VALUES {", ".join([row] * rows)}"""


async def _migrate(path: Path) -> None:
    async with aiosqlite.connect(path, isolation_level=None) as db:
        await db.execute("PRAGMA journal_mode = WAL")
        await migrate(db)


def _timed(action: Callable[[], None], count: int) -> dict[str, float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[max(0, int(count * 0.99) - 1)], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    result = measure(args.dir, args.count)
    print(f"fdatasync of 200 bytes: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms")
    print(
        f"one stored message's commit: p50 {result['commit_p50_ms']} ms, "
        f"p99 {result['commit_p99_ms']} ms"
    )
    if args.json:
        args.json.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
