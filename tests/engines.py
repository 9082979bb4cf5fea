"""Real PostgreSQL and Redis servers for the tests (`chatroom.utils.engines`).

No fakes: what the multi-node back ends are tested against is what they run on. Where a
binary is missing, the tests that need it skip and say so, unless CHATROOM_ENGINES=required
(as `.ci/run` sets, having installed them), where they fail instead.
"""

import os

import pytest

from chatroom.utils.engines import Postgres, Redis, free_port, postgres_bin

__all__ = ["Postgres", "Redis", "free_port", "missing", "postgres_bin"]

REQUIRED = os.environ.get("CHATROOM_ENGINES") == "required"


def missing(
    what: str, packages: str = "postgresql redis-server", *, install: str | None = None
) -> None:
    """Skip the test for lack of `what`, or fail it where the engines are required.
    `install` says how to get it, where that is not Debian's `packages`."""
    how = install or f"Debian: apt-get install {packages}"
    message = f"{what} is not installed ({how})"
    if REQUIRED:
        pytest.fail(message)
    pytest.skip(message)
