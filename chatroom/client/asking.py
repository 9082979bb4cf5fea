"""Asking for the username and password that a command of `chatroom` was not given.

Prompts go to the terminal (standard error for the username), never to standard output,
which may be a file: `chatroom history > talk.txt` would otherwise write "Username: " into
the file and wait, silent. Where there is no terminal to ask (cron, a service), the answer
is read from standard input without a prompt. Input that ends before the answer raises
`Unanswered`, which says what to give instead.
"""

import getpass
import os
import sys


class Unanswered(Exception):
    """Standard input ended where an answer was asked; the text says what to give instead."""


def username() -> str:
    """A username typed at a prompt, or read from standard input that is not a terminal."""
    if sys.stdin.isatty():
        print("Username: ", end="", file=sys.stderr, flush=True)
    return _line_or(Unanswered("no username: give --user (or set $CHATROOM_USER)"))


def password(user: str) -> str:
    """A password typed without echo, or read from standard input if nobody can type it."""
    missing = Unanswered(
        f"no password for {user}: set $CHATROOM_PASSWORD, or type it at a terminal"
    )
    if not _terminal():
        return _line_or(missing)
    try:
        return getpass.getpass(f"Password for {user}: ")
    except EOFError:  # Ctrl+D
        _end_prompt()
        raise missing from None


def _terminal() -> bool:
    """Whether a person can be asked: getpass would otherwise warn that the password may
    be echoed, then read standard input."""
    if os.name == "nt" or sys.stdin.isatty():
        return True
    try:
        os.close(os.open("/dev/tty", os.O_RDWR))
    except OSError:
        return False
    return True


def _line_or(missing: Unanswered) -> str:
    """The next line of standard input, without its line break; `missing` if there is none."""
    if line := sys.stdin.readline():
        return line.removesuffix("\n")
    _end_prompt()
    raise missing


def _end_prompt() -> None:
    """End the prompt's line, so that what is said next starts a line of its own."""
    if sys.stderr.isatty():
        print(file=sys.stderr)
