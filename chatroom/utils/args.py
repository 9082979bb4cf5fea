"""Command-line parsing shared by the programs: errors as one line, exit code 2."""

import argparse
import os
from typing import NoReturn

EXIT_USAGE = 2
PORT_MAX = 65_535


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are a single line (argparse adds a usage block)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def os_reason(exc: OSError) -> str:
    """Why an operation failed, for such a line: the system's words for its number,
    `permission denied`, not `[Errno 13] Permission denied: '/the/path'` (asyncio's
    messages add more still). A failed name lookup's number is the resolver's, not the
    system's: its own words, then."""
    if exc.errno and exc.errno > 0:
        return os.strerror(exc.errno).lower()
    return exc.strerror.lower() if exc.strerror else str(exc)


def port(text: str) -> int:
    """An argparse type: a TCP port to connect to, 1 to 65535 (a bigger number must not
    wrap around to another port)."""
    return _port(text, 1)


def listening_port(text: str) -> int:
    """An argparse type: a TCP port to listen on, 0 (any free one) to 65535."""
    return _port(text, 0)


def _port(text: str, least: int) -> int:
    if not text.strip().isdigit() or not least <= int(text) <= PORT_MAX:
        raise argparse.ArgumentTypeError(f"must be from {least} to {PORT_MAX}, not {text}")
    return int(text)


def count(text: str) -> int:
    """An argparse type: how many of something, at least one."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1, not {text}")
    return int(text)


def more_than_zero(text: str) -> float:
    """An argparse type: a time or a rate, more than zero."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number more than 0, not {text}")
    return value
