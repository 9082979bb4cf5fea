"""What a logged-in idle connection holds in the server, object by object (tracemalloc).

    python -m chatroom.bench.session_memory [--clients 2000] [--store URL --hub URL]

Runs a server in this process (SQLite in a temporary directory, or the given PostgreSQL
and Redis), logs in a few hundred clients from another process and lets them go (so that
caches and pools are warm), then logs in CLIENTS more and keeps them connected, and
prints the Python memory that appeared meanwhile, per connection, by the line that
allocated it. Unlike the process's resident memory, this counts only what is still held,
not what the allocator keeps in reserve.
"""

import argparse
import asyncio
import gc
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

from chatroom.bench.scenarios import Target
from chatroom.common.limits import Limits
from chatroom.server.app import ChatServer

LIMITS = Limits(
    bcrypt_cost=4,
    register_rate=1000,
    register_burst=10**6,
    max_connections_per_ip=10**6,
    login_attempts=10**6,
)


async def hold(port: int, count: int, prefix: str) -> None:
    """Log in `count` clients and keep them until standard input has a line (the
    clients' side, run in a process of its own so its memory is not counted)."""
    target = Target("chatroom", "127.0.0.1", port, None)
    names = [f"{prefix}{n}" for n in range(count)]
    await target.register(names)
    links = await target.connect_all(names, join=False, registered=True)
    print("connected", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for link in links:
        link.close()


async def clients(port: int, count: int, prefix: str) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatroom.bench.session_memory", "--hold", str(port),
        "--clients", str(count), "--prefix", prefix,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    await process.stdout.readline()
    return process


async def let_go(process: asyncio.subprocess.Process) -> None:
    assert process.stdin is not None
    process.stdin.write(b"\n")
    await process.wait()


async def measure(count: int, store: str | None, hub: str | None, top: int) -> None:
    tracemalloc.start(1)
    server = await ChatServer.open(Path(tempfile.mkdtemp()), LIMITS, "anyone", store, hub)
    await server.start("127.0.0.1", 0)
    try:
        await let_go(await clients(server.port, 500, "warm"))
        await asyncio.sleep(1)  # presence news of them leaving goes out
        gc.collect()
        before = tracemalloc.take_snapshot()
        held = await clients(server.port, count, "idle")
        await asyncio.sleep(1)
        gc.collect()
        stats = tracemalloc.take_snapshot().compare_to(before, "lineno")
        total = sum(stat.size_diff for stat in stats)
        print(f"{total / count:.0f} bytes per connection ({count} connections)")
        for stat in stats[:top]:
            print(f"{stat.size_diff / count:8.0f} B {stat.count_diff / count:5.2f} objects  "
                  f"{stat.traceback}")  # fmt: skip
        await let_go(held)
    finally:
        await server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m chatroom.bench.session_memory")
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--store", help="a PostgreSQL URL (default: SQLite)")
    parser.add_argument("--hub", help="a Redis URL (with --store)")
    parser.add_argument("--top", type=int, default=15, help="lines of allocations shown")
    parser.add_argument("--hold", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--prefix", default="idle", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hold:
        asyncio.run(hold(args.hold, args.clients, args.prefix))
    else:
        asyncio.run(measure(args.clients, args.store, args.hub, args.top))


if __name__ == "__main__":
    main()
