"""Where `--trace` writes its lines (see `chatroom.common.trace`): standard error, or a file."""

import sys
from collections.abc import Callable

TO_STDERR = "-"


def trace_writer(where: str) -> Callable[[str], None]:
    """A function that writes one trace line to `where`: "-" for standard error, else the
    file of that name (appended to, a line at a time). Raises OSError if it cannot be
    opened."""
    if where == TO_STDERR:
        return lambda line: print(line, file=sys.stderr, flush=True)
    stream = open(where, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - open while serving
    return lambda line: print(line, file=stream)
