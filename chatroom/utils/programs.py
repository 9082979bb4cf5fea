"""The programs' entry points: pyproject.toml's console scripts and `python -m`.

Each program is imported only once running here, so that Ctrl+C at any moment, even
while Python is still loading it (a tenth of a second and more), ends in one line on
standard error and exit code 1, never a traceback. The programs that answer Ctrl+C
themselves (the server stops cleanly, the client leaves its screen first) still do.
"""

import sys
from functools import partial
from importlib import import_module

PROGRAMS = {
    "chatroom-server": "chatroom.server.cli",
    "chatroom": "chatroom.client.cli",
    "chatroom-bench": "chatroom.bench.cli",
    "chatroom-admin": "chatroom.server.admin.cli",
    "chatroom-conformance": "chatroom.conformance.cli",
}
"""Each program's name, and the module whose `main()` it is."""


def run(program: str) -> None:
    """Run `program`'s `main()`; what it returns is the exit code."""
    try:
        sys.exit(import_module(PROGRAMS[program]).main())
    except KeyboardInterrupt:
        sys.exit(f"{program}: interrupted")


server = partial(run, "chatroom-server")
client = partial(run, "chatroom")
bench = partial(run, "chatroom-bench")
admin = partial(run, "chatroom-admin")
conformance = partial(run, "chatroom-conformance")
