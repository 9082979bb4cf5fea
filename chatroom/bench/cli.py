"""`chatroom-bench`: run the scenarios against a server and print what they measured.

    chatroom-bench                                  spawn a chatroom server and run all
    chatroom-bench --nodes 3                        ... three nodes on PostgreSQL and Redis
    chatroom-bench --port 6667 --protocol irc --server-pid PID --scenarios fanout,latency

Without --port it starts `chatroom-server` itself (bcrypt cost 4, rate limits off, a
temporary data dir). With --nodes N, --store or --hub it starts N nodes sharing that
PostgreSQL and that Redis ("auto", the default: throwaway ones of its own, from the
machine's packages) and spreads the users over them in turn; a latency pair's two users
are then on different nodes. Results print as a table; --json FILE writes them too.
"""

import argparse
import asyncio
import contextlib
import errno
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from chatroom.bench import scenarios
from chatroom.bench.scenarios import Figures, Target
from chatroom.bench.spawn import BENCH_FLAGS, ServerDidNotStart, start_server
from chatroom.bench.wire import PROTOCOLS
from chatroom.server.cli import fast_event_loop
from chatroom.utils.args import OneLineParser, count, more_than_zero, os_reason, port, utf8_text
from chatroom.utils.engines import Postgres, Redis, postgres_bin
from chatroom.utils.open_files import raise_open_files

ALL = ["fanout", "latency", "connections", "store", "store-cid", "logins", "resumes"]
OTHERS_CAN = {"irc": {"fanout", "latency", "connections"}, "redis": {"fanout"}}


def counts(text: str) -> list[int]:
    return [count(part) for part in text.split(",")]


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="chatroom-bench", description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default="chatroom")
    parser.add_argument("--host", type=utf8_text, default="127.0.0.1")
    parser.add_argument("--port", type=port, help="a running server (default: spawn one)")
    parser.add_argument("--server-pid", type=int, help="its process, to report its memory")
    parser.add_argument("--scenarios", default=",".join(ALL), help="comma-separated")
    parser.add_argument("--receivers", type=counts, default=[100, 1000, 5000], help="fan-out N")
    parser.add_argument("--senders", type=count, default=1, help="fan-out S")
    parser.add_argument("--messages", type=count, default=100, help="fan-out M per sender")
    parser.add_argument("--pairs", type=count, default=50, help="latency: sender/receiver pairs")
    parser.add_argument(
        "--rate", type=more_than_zero, default=2000, help="latency: messages/s in all"
    )
    parser.add_argument(
        "--seconds", type=more_than_zero, default=5, help="latency, store, logins: T"
    )
    parser.add_argument("--clients", type=count, default=10_000, help="connections: K")
    parser.add_argument("--store-senders", type=count, default=50)
    parser.add_argument("--window", type=count, default=100, help="store: requests in flight")
    parser.add_argument("--nodes", type=count, default=1, help="server nodes to spawn")
    parser.add_argument("--store", help="the nodes' PostgreSQL URL, or auto (with --nodes)")
    parser.add_argument("--hub", help="the nodes' Redis URL, or auto (with --nodes)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser


@contextlib.asynccontextmanager
async def target_for(args: argparse.Namespace) -> AsyncIterator[Target]:
    if args.port is not None:
        yield Target(args.protocol, args.host, args.port, args.server_pid)
        return
    with tempfile.TemporaryDirectory() as data, contextlib.ExitStack() as engines:
        flags = list(BENCH_FLAGS)
        if args.nodes > 1 or args.store or args.hub:
            flags += ["--store", engine_url(args.store, Postgres, engines)]
            flags += ["--hub", engine_url(args.hub, Redis, engines)]
        started = [await start_server(Path(data), *flags) for _ in range(args.nodes)]
        try:
            nodes = tuple((port, process.pid) for process, port in started)
            yield Target("chatroom", "127.0.0.1", nodes[0][0], nodes[0][1], nodes=nodes)
        finally:
            for process, _ in started:
                process.terminate()
                await process.wait()


def engine_url(url: str | None, engine: type[Postgres | Redis], stack: contextlib.ExitStack) -> str:
    """`url`, or for "auto" (or nothing) the URL of a throwaway `engine` started now."""
    if url and url != "auto":
        return url
    if engine is Postgres:
        bin_dir = postgres_bin()
        if bin_dir is None:
            raise SystemExit("chatroom-bench: error: PostgreSQL is not installed: give --store")
        postgres = stack.enter_context(contextlib.closing(Postgres(bin_dir)))
        return postgres.url()
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("chatroom-bench: error: redis-server is not installed: give --hub")
    return stack.enter_context(contextlib.closing(Redis(binary))).url


def plan(
    args: argparse.Namespace, target: Target
) -> list[tuple[str, Callable[[], Awaitable[Figures]]]]:
    """The runs to make, in order: (label, coroutine function)."""
    chosen = args.scenarios.split(",")  # known ones (`main` checked)
    if args.protocol in OTHERS_CAN:
        chosen = [name for name in chosen if name in OTHERS_CAN[args.protocol]]
    runs: list[tuple[str, Callable[[], Awaitable[Figures]]]] = []
    for name in chosen:
        if name == "fanout":
            for n in args.receivers:
                runs.append(
                    (
                        f"fanout N={n}",
                        partial(scenarios.fanout, target, n, args.senders, args.messages),
                    )
                )
        elif name == "latency":
            runs.append(
                (
                    f"latency {args.rate:g}/s",
                    lambda: scenarios.latency(target, args.pairs, args.rate, args.seconds),
                )
            )
        elif name == "connections":
            runs.append(
                (
                    f"connections K={args.clients}",
                    lambda: scenarios.connections(target, args.clients),
                )
            )
        elif name in ("store", "store-cid"):
            runs.append(
                (
                    name,
                    partial(
                        scenarios.store,
                        target,
                        args.store_senders,
                        args.window,
                        args.seconds,
                        name == "store-cid",
                    ),
                )
            )
        elif name in ("logins", "resumes"):
            runs.append(
                (
                    name,
                    partial(scenarios.logins, target, 20, args.seconds, name == "resumes"),
                )
            )
    return runs


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    async with target_for(args) as target:
        for label, measure in plan(args, target):
            print(f"running {label} ...", file=sys.stderr, flush=True)
            figures = await measure()
            results.append({"scenario": label, "protocol": target.protocol, **figures})
            print(f"  {format_figures(figures)}", file=sys.stderr, flush=True)
            await asyncio.sleep(1)  # let the server settle between runs
    return results


def format_figures(figures: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in figures.items())


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    unknown = sorted(set(args.scenarios.split(",")) - set(ALL))
    if unknown:
        parser.error(f"unknown scenarios {', '.join(unknown)} (known: {', '.join(ALL)})")
    if args.protocol != "chatroom" and args.port is None:
        parser.error(f"--protocol {args.protocol} needs --port of a running server")
    if args.json and not args.json.parent.is_dir():
        parser.error(f"--json: there is no folder {args.json.parent} to write it in")
    started = time.strftime("%Y-%m-%d %H:%M")
    # A descriptor for each connection the scenarios open (the servers it spawns raise
    # their own limit), and as many again to spare.
    opened = args.clients + max(args.receivers) + args.senders + 2 * args.pairs
    soft, _ = raise_open_files(2 * (opened + args.store_senders))
    try:
        results = asyncio.run(run(args))
    except ServerDidNotStart as exc:  # e.g. a --store URL it refused
        sys.exit(f"chatroom-bench: the server did not start: {exc}")
    except OSError as exc:
        if exc.errno == errno.EMFILE:  # its own connections: the hard limit is too low
            sys.exit(f"chatroom-bench: too many open files: it may open {soft:,} (ulimit -n)")
        # the server at --port is not there, or went away mid-run
        where = f"{args.host}:{args.port}" if args.port is not None else "its server"
        sys.exit(f"chatroom-bench: {where}: {os_reason(exc)}")
    shared = args.nodes > 1 or args.store or args.hub
    back_end = "PostgreSQL + Redis" if shared else "SQLite"
    loop = spawned_event_loop(args)
    print(f"chatroom-bench, {started}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, protocol {args.protocol}, "
          f"{args.nodes} node{'s' if args.nodes > 1 else ''} on {back_end}"
          + (f", event loop {loop}" if loop else ""))  # fmt: skip
    print("| scenario | figures |")
    print("|----------|---------|")
    for result in results:
        figures = {k: v for k, v in result.items() if k not in ("scenario", "protocol")}
        print(f"| {result['scenario']} | {format_figures(figures)} |")
    if args.json:
        about = {"date": started} | ({"event_loop": loop} if loop else {})
        try:
            args.json.write_text(json.dumps(about | {"results": results}, indent=2))
        except OSError as exc:  # the figures are printed above all the same
            sys.exit(f"chatroom-bench: cannot write {args.json}: {os_reason(exc)}")


def spawned_event_loop(args: argparse.Namespace) -> str | None:
    """The event loop of the servers the bench started (None: it started none): uvloop
    where the extra chatroom[fast] is installed, else asyncio's."""
    if args.port is not None:
        return None
    return "uvloop" if fast_event_loop() is not None else "asyncio"
