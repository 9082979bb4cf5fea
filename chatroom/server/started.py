"""A request's coroutine run at once up to where it first waits, without a task.

A client may pipeline a hundred messages, and each must reach the store's writer before
the first is committed, so that one group commit carries them all. A task per request
does that, at the price of creating it and scheduling its steps onto the event loop:
about a quarter of the loop's profile samples per stored message. Instead the
connection starts each request's coroutine at once, runs it to the point where it waits
(for its commit, almost always), and later, in order, resumes it until it is done
(`result`); once one is done, those after it whose commit is done too are resumed at
once (`carry_on`), as their tasks would all have run in the same turn. This is what a
task does for a coroutine, less the scheduling: the coroutine runs on the connection's
own task, which waits for whatever the request waits for. A stored message costs about
15% less server CPU for it (docs/performance-journal.md).

The price: a request after the first runs again only once those before it are done. So
what it waits for must come without it running: a commit, a task's result. Not a lock's
or a pool's turn, which is handed to a waiter that must run to take it; the read pool on
PostgreSQL runs each call in a task of its own for that reason (postgres.ReadPool).
"""

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Started(Generic[T]):
    """A coroutine, run until it first waits; `result()` runs the rest."""

    __slots__ = ("_coroutine", "_done", "_result", "_waiting_for")

    def __init__(self, coroutine: Coroutine[Any, Any, T]) -> None:
        self._coroutine = coroutine
        self._done = False
        self._result: T
        self._waiting_for: asyncio.Future[Any] | None = None
        self._advance()

    def _advance(self) -> None:
        """Run the coroutine until it waits again (for the future it yields) or returns."""
        try:
            waiting_for = self._coroutine.send(None)
        except StopIteration as returned:
            self._done = True
            self._result = returned.value
            return
        if waiting_for is not None:
            # `await` marks the future it yields as taken by the caller's task, and the
            # task clears the mark once it has it; while the mark stays, nobody else may
            # await that future (asyncio's own rule). This object is the task here.
            waiting_for._asyncio_future_blocking = False
        self._waiting_for = waiting_for

    def carry_on(self) -> bool:
        """Resume it, if what it waits for is done, as far as it goes without waiting
        again; whether it has finished."""
        while not self._done and self._waiting_for is not None and self._waiting_for.done():
            self._advance()
        return self._done

    async def result(self) -> T:
        """What the coroutine returns; it is resumed each time what it waits for is done."""
        while not self._done:
            if self._waiting_for is None:  # a bare yield (asyncio.sleep(0)): a turn
                await asyncio.sleep(0)
            elif not self._waiting_for.done():
                # Its outcome is the coroutine's: it takes it when resumed. (Cancelling
                # this wait cancels what it waits for, as for a task.)
                with contextlib.suppress(Exception):
                    await self._waiting_for
            self._advance()
        return self._result
