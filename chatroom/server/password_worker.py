"""A process of its own that hashes and checks passwords for the server (`auth`).

bcrypt is all CPU. In a thread it lets go of the interpreter lock while it hashes, but it
has to take the lock back from the event loop to hand each result over and to take the
next password; in a login storm that wait was about a quarter of a millisecond a check,
a quarter of a whole check at the benchmarks' cost. A process has an interpreter of its
own, and the event loop reads its answers like any other pipe.

The server writes requests to the worker's standard input and reads the answers from
its standard output, both as a stream of msgpack arrays, answered one at a time in the
order asked (so an answer needs no number):

    ["check", password, hashed]  ->  [true, matches]      (bcrypt.checkpw)
    ["hash", password, salt]     ->  [true, hashed]       (bcrypt.hashpw)
    either, with a bad hash      ->  [false, "why"]

The worker exits when its standard input ends: when the server closes it, or dies.
"""

import asyncio
import os
import signal
import sys
from collections import deque
from typing import Any

import bcrypt
import msgpack

READ_SIZE = 64 * 1024


class WorkerGone(Exception):
    """The worker exited before it answered (killed, out of memory)."""


class PasswordWorker:
    """The server's side of one worker process: requests go out, answers come back in
    order, each to the future of the request it answers."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self._waiting: deque[asyncio.Future[Any]] = deque()
        """The answer each request not answered yet will be given to, in order."""
        self._reading = asyncio.get_running_loop().create_task(self._read_answers())

    @classmethod
    async def start(cls) -> "PasswordWorker":
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", __name__, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(process)

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return not self._reading.done()

    @property
    def load(self) -> int:
        """Requests waiting for their answer."""
        return len(self._waiting)

    async def ask(self, *request: object) -> Any:
        """Send `request` and wait for its answer; raises `WorkerGone` if the worker exits
        first, and ValueError for a hash bcrypt cannot read."""
        if not self.alive:
            raise WorkerGone()
        assert self._process.stdin is not None
        answer = asyncio.get_running_loop().create_future()
        self._waiting.append(answer)
        self._process.stdin.write(msgpack.packb(request))
        return await answer  # if cancelled, the answer still comes and is dropped

    async def _read_answers(self) -> None:
        assert self._process.stdout is not None
        answers = msgpack.Unpacker()
        try:
            while data := await self._process.stdout.read(READ_SIZE):
                answers.feed(data)
                for ok, value in answers:
                    waiting = self._waiting.popleft()
                    if waiting.done():
                        continue  # its request was given up
                    if ok:
                        waiting.set_result(value)
                    else:
                        waiting.set_exception(ValueError(value))
        finally:
            while self._waiting:
                waiting = self._waiting.popleft()
                if not waiting.done():
                    waiting.set_exception(WorkerGone())

    async def close(self) -> None:
        """End its input, and wait for it to answer what it was asked and exit."""
        assert self._process.stdin is not None
        self._process.stdin.close()
        await self._reading
        await self._process.wait()


def serve() -> None:
    """The worker: answer each request from standard input, until it ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the server: it stops us
    requests = msgpack.Unpacker()
    out = sys.stdout.buffer
    while data := os.read(sys.stdin.fileno(), READ_SIZE):
        requests.feed(data)
        for kind, password, other in requests:
            answer: list[object]
            try:
                if kind == "check":
                    answer = [True, bcrypt.checkpw(password, other)]
                else:
                    answer = [True, bcrypt.hashpw(password, other)]
            except ValueError as exc:  # a stored hash bcrypt cannot read
                answer = [False, str(exc)]
            out.write(msgpack.packb(answer))
            out.flush()


if __name__ == "__main__":
    serve()
