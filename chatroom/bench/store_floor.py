"""The floor for stored messages per second on this machine, in three parts measured now.

    python -m chatroom.bench.store_floor [--seconds 5] [--json FILE]

- the load generator: chatroom-bench's own store scenario (50 senders, 100 requests in
  flight each), its CPU per message;
- answering: the same scenario against a server that decodes each request and answers
  `ok` at once, storing nothing (an `asyncio.Protocol` of twenty lines), its CPU per
  message;
- storing: SQLite inserting the store scenario's message into the server's own schema
  (both triggers), 100 rows per INSERT and per commit, as a group commit does, with the
  server's settings: its CPU per message (the fsyncs' waiting is not CPU).

Every stored message costs at least the three on this machine's cores together, so no
server written in Python with this schema stores more per second, measured with this
generator, than the cores divided by their sum.
"""

import argparse
import asyncio
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chatroom.bench.fsync import create_database
from chatroom.bench.scenarios import Target, store

SERVER = """
import asyncio, struct, sys
import msgpack

HEADER = struct.Struct(">I")

class Answering(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""

    def data_received(self, data):
        buffer = self.buffer + data if self.buffer else data
        position, replies = 0, []
        while len(buffer) - position >= 4:
            (length,) = HEADER.unpack_from(buffer, position)
            if position + 4 + length > len(buffer):
                break
            request = msgpack.unpackb(buffer[position + 4 : position + 4 + length])
            data = {"mid": 1, "ts": 1.0, "delivered": False}
            body = msgpack.packb({"type": "ok", "id": request.get("id"), "data": data})
            replies.append(HEADER.pack(len(body)) + body)
            position += 4 + length
        self.buffer = buffer[position:]
        self.transport.write(b"".join(replies))

async def main():
    server = await asyncio.get_running_loop().create_server(Answering, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

asyncio.run(main())
"""

ROWS = 100
"""Messages per INSERT and per commit, as the server's group commit makes them under load."""


async def answering(seconds: float) -> dict[str, float]:
    """The store scenario against a server that stores nothing: its rate, and the CPU
    per message of that server and of the generator (this process)."""
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        port = int(process.stdout.readline())
        before = resource.getrusage(resource.RUSAGE_SELF)
        figures = await store(Target("chatroom", "127.0.0.1", port, process.pid), 50, 100, seconds)
        after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        process.stdin.write(b"\n")
        process.stdin.close()
        process.wait(timeout=10)
    generator = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "answered_per_s": figures["stored_per_s"],
        "answering_cpu_us": figures["server_cpu_us_per_message"],
        "generator_cpu_us": round(generator / figures["stored"] * 1e6, 1),
    }


def storing(count: int) -> float:
    """SQLite's CPU per message stored into the server's schema (µs)."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "floor.db"
        asyncio.run(create_database(path))
        with sqlite3.connect(path, isolation_level=None) as db:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            row = "('alice', 'bob', ?, ?, 2, ?)"
            sql = f"""INSERT INTO messages (sender, recipient, text, ts, conv, seq)
                      VALUES {", ".join([row] * ROWS)}"""
            text = "stored message " + "x" * 80
            started = time.process_time()
            for batch in range(count // ROWS):
                values = []
                for seq in range(batch * ROWS + 1, (batch + 1) * ROWS + 1):
                    values += [text, time.time(), seq]
                db.execute(sql, values)
            return (time.process_time() - started) / (count // ROWS * ROWS) * 1e6


def measure(seconds: float, count: int) -> dict[str, float]:
    figures = asyncio.run(answering(seconds))
    figures["storing_cpu_us"] = round(storing(count), 1)
    per_message = sum(figures[key] for key in ("generator_cpu_us", "answering_cpu_us"))
    per_message += figures["storing_cpu_us"]
    figures["cores"] = os.cpu_count() or 1
    figures["floor_per_s"] = round(figures["cores"] / per_message * 1e6)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m chatroom.bench.store_floor")
    parser.add_argument("--seconds", type=float, default=5, help="the answering run's length")
    parser.add_argument("--rows", type=int, default=100_000, help="messages SQLite stores")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    figures = measure(args.seconds, args.rows)
    print(
        f"answered without storing: {figures['answered_per_s']:,.0f}/s; CPU per message: "
        f"generator {figures['generator_cpu_us']} µs, answering {figures['answering_cpu_us']} "
        f"µs, SQLite storing {figures['storing_cpu_us']} µs; floor on {figures['cores']} "
        f"cores: {figures['floor_per_s']:,.0f} stored/s"
    )
    if args.json:
        with open(args.json, "w") as file:
            json.dump(figures, file)


if __name__ == "__main__":
    main()
