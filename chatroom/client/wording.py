"""What the client tells a person, in plain words, shared by the command line and the
TUI: why a connection failed or the server refused. (How many of a thing there are is
said by `amount`, in chatroom/common/amounts.py: the server's tools say it too.)"""

import math
import ssl
import time
from typing import TypeGuard

from chatroom.common.errors import ChatError
from chatroom.utils.args import os_reason


def describe_os_error(error: BaseException) -> str:
    """A short reason for a connection failure, without Python's decorations."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({error.verify_message})"
    if isinstance(error, ssl.SSLError):
        return f"TLS failed ({error.reason or error})"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, OSError) and error.strerror:
        return os_reason(error)
    return str(error) or type(error).__name__


def explained(error: ChatError) -> str:
    """The server's message, and when what it refuses ends if the error says: a mute's or
    a ban's `until` (local time), a rate limit's or a lockout's `retry_after`."""
    until, wait = error.extra.get("until"), error.extra.get("retry_after")
    if _is_number(until):
        day = "%H:%M" if until - time.time() < 20 * 3600 else "%Y-%m-%d %H:%M"
        return f"{error.message} (until {time.strftime(day, time.localtime(until))})"
    if _is_number(wait):
        return f"{error.message} (try again in {max(1, math.ceil(wait))} s)"
    return error.message


def why_failed(error: ChatError | OSError) -> str:
    """Why a request failed, for a person: the server's refusal (`explained`), or what
    went wrong with a file or the connection (`describe_os_error`)."""
    return explained(error) if isinstance(error, ChatError) else describe_os_error(error)


def _is_number(value: object) -> TypeGuard[float]:
    """A number of seconds a server could mean (a hostile one may send anything)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1e11
