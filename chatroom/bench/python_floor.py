"""The floors for a chat server written in Python on this machine, measured now: how
much memory a logged-in connection needs, how fast a private message can go from one
client to another, and how many messages can be stored per second.

    python -m chatroom.bench.python_floor [--clients 10000] [--seconds 5] [--json FILE]

Both run chatroom-bench's own scenarios against a bare server: an `asyncio.Protocol` of
thirty lines that decodes each request and answers `ok` at once, and passes a private
message on to its recipient, if logged in, as a `message` push. It checks nothing,
stores nothing and keeps no history: what is left is what any Python server on asyncio
does per message here, and holds per connection: the socket and asyncio's transport,
the protocol object (three slots: transport, unread bytes, name) and its entry in the
table of who is online.

- memory: the `connections` scenario (CLIENTS log in and stay): the bare server's
  growth per connection, as chatroom's is measured.
- latency: the `latency` scenario (50 pairs, 2,000 messages/s in all) through the bare
  server: p50 and p99. A durable message adds its commit to this (chatroom.bench.fsync
  times one alone).
- logins: the same `connections` run, for the CPU each login costs the generator and
  the bare server; and bcrypt checking a password at the bench's cost, for its CPU. A
  chatroom login needs at least the three, and its bcrypt runs in the server's worker
  processes, so K logins take at least K * bcrypt / workers, and at least K * the three
  / cores.
- stored messages/s: the `store` scenario (50 senders, 100 requests in flight each)
  against the bare server, for the CPU per message of the load generator and of the bare
  server; and SQLite storing the scenario's message into the server's own schema (both
  triggers, 100 rows per INSERT and per commit, as a group commit makes them), for its
  CPU per message (the fsyncs' waiting is not CPU). Every stored message costs at least
  the three on this machine's cores together, so no Python server with this schema
  stores more per second, measured with this generator, than the cores divided by their
  sum.
"""

import argparse
import asyncio
import json
import os
import resource
import time
from typing import Any

import bcrypt

from chatroom.bench.fsync import insert_sql, server_database
from chatroom.bench.scenarios import STORED_TEXT, Target, connections, latency, store
from chatroom.bench.spawn import BCRYPT_COST, script_server
from chatroom.server.auth import bcrypt_workers

SERVER = """
import asyncio, struct, sys
import msgpack

HEADER = struct.Struct(">I")
online = {}

def frame(envelope):
    body = msgpack.packb(envelope)
    return HEADER.pack(len(body)) + body

class Bare(asyncio.Protocol):
    __slots__ = ("transport", "buffer", "name")

    def connection_made(self, transport):
        self.transport, self.buffer, self.name = transport, b"", None

    def connection_lost(self, exc):
        online.pop(self.name, None)

    def data_received(self, data):
        buffer = self.buffer + data if self.buffer else data
        position, replies = 0, []
        while len(buffer) - position >= 4:
            (length,) = HEADER.unpack_from(buffer, position)
            if position + 4 + length > len(buffer):
                break
            request = msgpack.unpackb(buffer[position + 4 : position + 4 + length])
            position += 4 + length
            data = request.get("data", {})
            if request["type"] == "login":
                self.name = data["username"]
                online[self.name] = self.transport
            elif request["type"] == "private" and data["to"] in online:
                push = {"mid": 1, "from": self.name, "to": data["to"], "text": data["text"]}
                online[data["to"]].write(frame({"type": "message", "data": push}))
            reply = {"mid": 1, "ts": 1.0, "delivered": False}
            replies.append(frame({"type": "ok", "id": request.get("id"), "data": reply}))
        self.buffer = buffer[position:]
        self.transport.write(b"".join(replies))

async def main():
    server = await asyncio.get_running_loop().create_server(Bare, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

asyncio.run(main())
"""

ROWS = 100
"""Messages per INSERT and per commit, as the server's group commit makes them under load."""


async def bare(seconds: float, clients: int) -> dict[str, Any]:
    """The scenarios through the bare server: its memory per logged-in connection, its
    latency, and the CPU per message of the server and of the generator (this process)
    with many requests in flight."""
    with script_server(SERVER) as (pid, port):
        target = Target("chatroom", "127.0.0.1", port, pid)
        idle = await connections(target, clients)
        relayed = await latency(target, 50, 2000, seconds)
        before = resource.getrusage(resource.RUSAGE_SELF)
        answered = await store(target, 50, 100, seconds)
        after = resource.getrusage(resource.RUSAGE_SELF)
    generator = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "kib_per_connection": idle["kib_per_connection"],
        "login_server_cpu_ms": idle["server_cpu_ms_per_login"],
        "login_generator_cpu_ms": idle["generator_cpu_ms_per_login"],
        "latency_p50_ms": relayed["p50_ms"],
        "latency_p99_ms": relayed["p99_ms"],
        "answered_per_s": answered["stored_per_s"],
        "answering_cpu_us": answered["server_cpu_us_per_message"],
        "generator_cpu_us": round(generator / answered["stored"] * 1e6, 1),
    }


def checking(cost: int, count: int = 200) -> float:
    """bcrypt's CPU per password checked at `cost` (ms), as the server checks one: a
    44-byte digest of the password against its hash."""
    password = b"x" * 44
    hashed = bcrypt.hashpw(password, bcrypt.gensalt(cost))
    started = time.process_time()
    for _ in range(count):
        bcrypt.checkpw(password, hashed)
    return (time.process_time() - started) / count * 1000


def login_floor(figures: dict[str, Any], clients: int) -> float:
    """The fewest seconds `clients` logins can take here (see the module's docstring)."""
    cores: int = figures["cores"]
    workers: int = figures["bcrypt_workers"]
    checked: float = figures["bcrypt_cpu_ms"]
    others: float = figures["login_server_cpu_ms"] + figures["login_generator_cpu_ms"]
    fewest_ms = clients * max(checked / workers, (checked + others) / cores)
    return round(fewest_ms / 1000, 2)


def storing(count: int) -> float:
    """SQLite's CPU per message stored into the server's schema (µs)."""
    with server_database() as db:
        sql = insert_sql(ROWS)
        started = time.process_time()
        for batch in range(count // ROWS):
            values: list[object] = []
            for seq in range(batch * ROWS + 1, (batch + 1) * ROWS + 1):
                values += [STORED_TEXT, time.time(), seq]
            db.execute(sql, values)
        return (time.process_time() - started) / (count // ROWS * ROWS) * 1e6


def measure(seconds: float, clients: int, count: int) -> dict[str, Any]:
    figures = asyncio.run(bare(seconds, clients))
    figures["storing_cpu_us"] = round(storing(count), 1)
    per_message = sum(figures[key] for key in ("generator_cpu_us", "answering_cpu_us"))
    per_message += figures["storing_cpu_us"]
    figures["cores"] = os.cpu_count() or 1
    figures["stored_floor_per_s"] = round(figures["cores"] / per_message * 1e6)
    figures["bcrypt_cost"] = BCRYPT_COST
    figures["bcrypt_workers"] = bcrypt_workers()
    figures["bcrypt_cpu_ms"] = round(checking(BCRYPT_COST), 3)
    figures["clients"] = clients
    figures["login_floor_s"] = login_floor(figures, clients)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m chatroom.bench.python_floor")
    parser.add_argument("--clients", type=int, default=10_000, help="connections: K")
    parser.add_argument("--seconds", type=float, default=5, help="each scenario's length")
    parser.add_argument("--rows", type=int, default=100_000, help="messages SQLite stores")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    figures = measure(args.seconds, args.clients, args.rows)
    print(
        f"through a bare Python server: {figures['kib_per_connection']} KiB per logged-in "
        f"connection ({args.clients:,}); latency p50 {figures['latency_p50_ms']} ms, p99 "
        f"{figures['latency_p99_ms']} ms; answered {figures['answered_per_s']:,}/s. CPU per "
        f"message: generator {figures['generator_cpu_us']} µs, bare server "
        f"{figures['answering_cpu_us']} µs, SQLite storing {figures['storing_cpu_us']} µs; "
        f"at most {figures['stored_floor_per_s']:,} stored/s on {figures['cores']} cores. "
        f"CPU per login: generator {figures['login_generator_cpu_ms']} ms, bare server "
        f"{figures['login_server_cpu_ms']} ms, bcrypt {figures['bcrypt_cpu_ms']} ms at cost "
        f"{BCRYPT_COST}; {args.clients:,} logins take at least "
        f"{figures['login_floor_s']} s"
    )
    if args.json:
        with open(args.json, "w") as file:
            json.dump(figures, file)


if __name__ == "__main__":
    main()
