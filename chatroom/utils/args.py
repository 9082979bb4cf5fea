"""Command-line parsing shared by the programs: errors as one line, exit code 2."""

import argparse
import os
from collections.abc import Callable
from typing import NoReturn

from chatroom.common.limits import INTEGER_MAX

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


def failure_reason(exc: BaseException) -> str:
    """`os_reason` for an OSError; any other exception's own message."""
    return os_reason(exc) if isinstance(exc, OSError) else str(exc)


def read_whole_number(text: str, least: int = 1, most: int = INTEGER_MAX) -> int | None:
    """`text` as a whole number from `least` to `most` (by default, how many of something:
    from 1 to the largest the protocol and SQLite carry), or None if it is not one."""
    text = text.strip()
    return int(text) if text.isdecimal() and least <= int(text) <= most else None


def is_utf8(value: str) -> bool:
    """Whether `value` is UTF-8 text. (Bytes that are not, in an argument, the environment
    or a terminal's input, are kept by Python as lone surrogates, which no message and no
    database row can hold.)"""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def utf8_text(value: str) -> str:
    """An argparse type: a name or words to send or store, as given, if `is_utf8`."""
    if not is_utf8(value):
        raise argparse.ArgumentTypeError(f"not UTF-8 text: {value!a}")
    return value


def whole_number(least: int = 1, most: int = INTEGER_MAX) -> Callable[[str], int]:
    """An argparse type: `read_whole_number` from `least` to `most`."""

    def whole(text: str) -> int:
        value = read_whole_number(text, least, most)
        if value is None:
            raise argparse.ArgumentTypeError(
                f"must be a whole number from {least} to {most}, not {text}"
            )
        return value

    return whole


count = whole_number()
"""An argparse type: how many of something, from 1."""
port = whole_number(1, PORT_MAX)
"""An argparse type: a TCP port to connect to (a bigger number must not wrap around)."""
listening_port = whole_number(0, PORT_MAX)
"""An argparse type: a TCP port to listen on, 0 for any free one."""


def more_than_zero(text: str) -> float:
    """An argparse type: a time or a rate, more than zero."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number more than 0, not {text}")
    return value
