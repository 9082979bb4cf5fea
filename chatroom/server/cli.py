"""`chatroom-server`: parse the flags, open the store, serve until SIGINT, SIGTERM or SIGHUP.

Every failure a user can cause (a bad flag, a port in use, a data directory that another
server holds or that is damaged or read-only) ends in one line on standard error and exit
code 2, never a traceback.
"""

import argparse
import asyncio
import gc
import logging
import math
import re
import signal
import sqlite3
import ssl
import sys
import urllib.parse
from collections.abc import Callable
from dataclasses import Field, fields, replace
from pathlib import Path
from typing import Any, NoReturn

import asyncpg
from redis.exceptions import RedisError

from chatroom.common.limits import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    Limits,
)
from chatroom.server.app import ChatServer
from chatroom.server.auth import NoPasswordWorker
from chatroom.server.chaos import Chaos, ChaosSpec
from chatroom.server.datadir import DataDirError, open_to_others
from chatroom.server.handlers.permissions import DM_POLICIES
from chatroom.server.open_files import connections_that_fit
from chatroom.utils.args import (
    EXIT_USAGE,
    OneLineParser,
    failure_reason,
    listening_port,
    os_reason,
    utf8_text,
)
from chatroom.utils.logs import setup_logging
from chatroom.utils.paths import DATA_DIR_VARIABLE, default_data_dir
from chatroom.utils.tracing import TO_STDERR, trace_writer

log = logging.getLogger("chatroom.server")


def _bounded(spec: Field[Any]) -> Callable[[str], float]:
    """An argparse type for a `Limits` field: a number of the field's type, within its range."""
    kind = int if spec.type in (int, "int") else float
    low, high = spec.metadata["minimum"], spec.metadata["maximum"]

    def parse(text: str) -> float:
        value = kind(text)
        span = f"from {low} to {high}" if high is not None else f"at least {low}"
        if not math.isfinite(value):  # nan compares as neither smaller nor larger
            raise argparse.ArgumentTypeError(f"must be a number {span}, not {text}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {span}, not {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names it: "invalid float value: 'soon'"
    return parse


LIMIT_FLAGS = [spec for spec in fields(Limits) if spec.metadata["flag"]]
"""The `Limits` fields that have a command-line flag: `--max-frame` sets `max_frame`."""


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="chatroom-server",
        description="Run the chatroom server until SIGINT, SIGTERM or SIGHUP.",
    )
    parser.add_argument("--host", type=utf8_text, default=DEFAULT_HOST, help="address to listen on")
    parser.add_argument(
        "--port", type=listening_port, default=DEFAULT_PORT, help="TCP port (0: any free)"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"where the database lives (default: ${DATA_DIR_VARIABLE}, else the user data dir)",
    )
    parser.add_argument(
        "--store",
        type=_store_url,
        default=None,
        metavar="postgresql://USER@HOST:PORT/DB",
        help="keep users and messages in this PostgreSQL database, shared with other nodes "
        "(default: SQLite in the data dir; with --store, the data dir holds only the files "
        "and is shared too)",
    )
    parser.add_argument(
        "--hub",
        type=_hub_url,
        default=None,
        metavar="redis://HOST:PORT",
        help="route to the other nodes through this Redis (with --store; default: this "
        "process alone)",
    )
    for spec in LIMIT_FLAGS:
        parser.add_argument(
            "--" + spec.name.replace("_", "-"),
            type=_bounded(spec),
            default=spec.default,
            help=f"{spec.metadata['description']} (default: {spec.default})",
        )
    parser.add_argument(
        "--dm-policy",
        choices=DM_POLICIES,
        default="anyone",
        help="who may send private messages: anyone, or only contacts (default: anyone)",
    )
    parser.add_argument(
        "--trace",
        nargs="?",
        const=TO_STDERR,
        metavar="FILE",
        help="write every frame in and out, one per line (length, first bytes in hex, "
        "the envelope with passwords and tokens masked), to FILE or standard error",
    )
    parser.add_argument(
        "--chaos",
        type=_chaos_spec,
        metavar="SPEC",
        help="for practice: write as an unreliable network delivers, e.g. "
        "split=0.5,delay=0.05,drop=0.01,seed=7 (pieces, delays, dropped connections)",
    )
    parser.add_argument("--tls-cert", type=Path, help="serve TLS with this certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, help="the certificate's private key (PEM)")
    parser.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="how much to log",
    )
    return parser


def _store_url(url: str) -> str:
    if not url.startswith(("postgresql://", "postgres://")) or not _readable_url(url):
        raise argparse.ArgumentTypeError(
            f"{shown_url(url)!r}: give a postgresql://USER@HOST:PORT/DB URL"
        )
    return url


def _readable_url(url: str) -> bool:
    """Whether `url`'s host and port can be read (an unclosed [ or a port past 65535 not)."""
    try:
        port = urllib.parse.urlsplit(url).port
    except ValueError:
        return False
    return port is None or port > 0


def _chaos_spec(text: str) -> ChaosSpec:
    try:
        return ChaosSpec.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _hub_url(url: str) -> str:
    if not url.startswith(("redis://", "rediss://", "unix://")) or not _readable_url(url):
        raise argparse.ArgumentTypeError(f"{shown_url(url)!r}: give a redis://HOST:PORT URL")
    return url


def shown_url(url: str) -> str:
    """`url` with its password, if any, masked: for the log and error messages. Read as
    text, not parsed, so that a URL refused as malformed is masked too."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/@:]*:)[^/]*@", r"\1***@", url)


def tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """The server's TLS context, or None for plain TCP; exits in one line if unusable."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        fail("--tls-cert and --tls-key go together")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:  # OpenSSL's words: "[SSL] PEM lib (_ssl.c:3905)"
        why = "give a certificate and its private key, each in PEM (-----BEGIN ...)"
        if exc.reason == "KEY_VALUES_MISMATCH":
            why = "the key is not the certificate's"
        fail(f"cannot use the TLS certificate {cert} and key {key}: {why}")
    except OSError as exc:
        fail(f"cannot use the TLS certificate {cert} and key {key}: {os_reason(exc)}")
    return context


def fail(message: str) -> NoReturn:
    print(f"chatroom-server: error: {message}", file=sys.stderr)
    sys.exit(EXIT_USAGE)


async def serve(args: argparse.Namespace) -> None:
    limits = Limits(**{spec.name: getattr(args, spec.name) for spec in LIMIT_FLAGS})
    asked = limits.max_connections
    fit, fewer = connections_that_fit(asked)  # more would fail, and starve the files
    limits = replace(limits, max_connections=fit)
    tls = tls_context(args.tls_cert, args.tls_key)
    data_dir = args.data_dir or default_data_dir()
    if args.hub and not args.store:
        fail("--hub joins nodes that share one database: give --store postgresql://... too")
    try:
        trace = trace_writer(args.trace) if args.trace else None
    except OSError as exc:
        fail(f"cannot write the trace to {args.trace}: {os_reason(exc)}")
    try:
        chaos = Chaos(args.chaos) if args.chaos else None
        server = await ChatServer.open(
            data_dir, limits, args.dm_policy, args.store, args.hub, trace, chaos
        )
    except DataDirError as exc:
        fail(str(exc))
    except (OSError, sqlite3.Error, RuntimeError, asyncpg.PostgresError) as exc:
        reason = failure_reason(exc)
        if args.store:
            fail(f"cannot use the database {shown_url(args.store)}: {reason}")
        fail(f"cannot use data directory {data_dir}: {reason}")
    if not args.store and open_to_others(data_dir):
        log.warning(
            "data directory %s can be read by other users of this machine: every message "
            "and password hash is in it (chmod 700 %s)", data_dir, data_dir
        )  # fmt: skip
    try:
        await server.start(args.host, args.port, tls)
    except RedisError as exc:
        await server.shutdown()
        fail(f"cannot use the hub {shown_url(args.hub)}: {exc}")
    except NoPasswordWorker as exc:
        await server.shutdown()
        fail(str(exc))
    except OSError as exc:
        await server.shutdown()
        fail(f"cannot listen on {args.host}:{args.port}: {os_reason(exc)}")
    loop = asyncio.get_running_loop()
    # SIGHUP: the terminal it runs in has gone (an ssh session dropped): stop as cleanly.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, lambda: asyncio.ensure_future(server.shutdown()))
    log.info(
        "listening on %s:%d%s, data in %s (event loop: %s)",
        args.host,
        server.port,
        " (TLS)" if tls else "",
        f"{shown_url(args.store)}, files in {data_dir}" if args.store else data_dir,
        type(asyncio.get_running_loop()).__module__.split(".")[0],
    )
    if fewer is not None:  # a warning if the number was asked for, not the default
        log.log(logging.INFO if asked == Limits().max_connections else logging.WARNING, fewer)
    await server.wait_stopped()


def fast_event_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop, if the optional extra chatroom[fast] is installed: faster,
    and the same behaviour. None: asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return None
    new_event_loop: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return new_event_loop


GC_YOUNG_THRESHOLD = 50_000
"""Objects (allocated less freed) between collections of the youngest generation
(Python's default: 700)."""


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level, background=True)
    # Every request allocates objects (its coroutine, futures, dicts) that die within
    # milliseconds, but thousands are in flight at once under load. The collector runs
    # when the young objects alive outnumber the threshold: at the default it ran every
    # few dozen requests, at 10,000 still a few times a second under load, each time
    # scanning the ones in flight and promoting them to older generations to be scanned
    # again: about a ninth of the event loop's time storing messages
    # (docs/performance-journal.md). 50,000 young objects is a few megabytes at most
    # before a collection.
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    with asyncio.Runner(loop_factory=fast_event_loop()) as runner:
        runner.run(serve(args))
