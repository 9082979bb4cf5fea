"""Where `--trace` writes its lines (see `chatroom.common.trace`): standard error, or a file."""

import os
import sys
from collections.abc import Callable

TO_STDERR = "-"


def trace_writer(where: str) -> Callable[[str], None]:
    """A function that writes one trace line to `where`: "-" for standard error, else the
    file of that name (appended to, a line at a time). Raises OSError if it cannot be
    opened."""
    if where == TO_STDERR:
        return lambda line: print(line, file=sys.stderr, flush=True)
    # Made for its owner's eyes only: it holds every message, private ones too.
    fd = os.open(where, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    stream = open(fd, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - open while serving
    return lambda line: print(line, file=stream)
