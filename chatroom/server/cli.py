"""`chatroom-server`: parse the flags, open the store, serve until SIGINT or SIGTERM.

Every failure a user can cause (a bad flag, a port in use, an unusable data directory)
ends in one line on standard error and exit code 2, never a traceback.
"""

import argparse
import asyncio
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from chatroom.common.limits import (
    BCRYPT_COST_MAX,
    BCRYPT_COST_MIN,
    DEFAULT_HOST,
    DEFAULT_PORT,
    Limits,
)
from chatroom.server.app import ChatServer
from chatroom.utils.args import EXIT_USAGE, OneLineParser
from chatroom.utils.logs import setup_logging
from chatroom.utils.paths import DATA_DIR_VARIABLE, default_data_dir

log = logging.getLogger("chatroom.server")


def _positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        value = kind(text)
        if value <= 0:
            raise ValueError(text)
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its error message
    return parse


def _bcrypt_cost(text: str) -> int:
    cost = int(text)
    if not BCRYPT_COST_MIN <= cost <= BCRYPT_COST_MAX:
        raise argparse.ArgumentTypeError(
            f"must be from {BCRYPT_COST_MIN} to {BCRYPT_COST_MAX}, not {cost}"
        )
    return cost


def build_parser() -> argparse.ArgumentParser:
    defaults = Limits()
    parser = OneLineParser(
        prog="chatroom-server", description="Run the chatroom server until SIGINT or SIGTERM."
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port (0: any free)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"where the database lives (default: ${DATA_DIR_VARIABLE}, else the user data dir)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=_positive(float),
        default=defaults.idle_timeout,
        help="seconds of silence before a connection is closed",
    )
    parser.add_argument(
        "--max-frame",
        type=_positive(int),
        default=defaults.max_frame,
        help="largest frame body accepted, in bytes",
    )
    parser.add_argument(
        "--max-file-size",
        type=_positive(int),
        default=defaults.max_file_size,
        help="largest file a user may send, in bytes",
    )
    parser.add_argument(
        "--file-quota",
        type=_positive(int),
        default=defaults.file_quota,
        help="bytes of files one user may have stored, in all",
    )
    parser.add_argument(
        "--bcrypt-cost",
        type=_bcrypt_cost,
        default=defaults.bcrypt_cost,
        help=f"bcrypt work factor ({BCRYPT_COST_MIN}-{BCRYPT_COST_MAX})",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="how much to log",
    )
    return parser


def fail(message: str) -> NoReturn:
    print(f"chatroom-server: error: {message}", file=sys.stderr)
    sys.exit(EXIT_USAGE)


async def serve(args: argparse.Namespace) -> None:
    limits = Limits(
        max_frame=args.max_frame,
        idle_timeout=args.idle_timeout,
        bcrypt_cost=args.bcrypt_cost,
        max_file_size=args.max_file_size,
        file_quota=args.file_quota,
    )
    data_dir = args.data_dir or default_data_dir()
    try:
        server = await ChatServer.open(data_dir, limits)
    except (OSError, sqlite3.Error, RuntimeError) as exc:
        fail(f"cannot use data directory {data_dir}: {exc}")
    try:
        await server.start(args.host, args.port)
    except OSError as exc:
        await server.shutdown()
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        fail(f"cannot listen on {args.host}:{args.port}: {reason}")
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, lambda: asyncio.ensure_future(server.shutdown()))
    log.info("listening on %s:%d, data in %s", args.host, server.port, data_dir)
    await server.wait_stopped()


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level)
    asyncio.run(serve(args))
