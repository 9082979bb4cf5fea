"""Password hashing with bcrypt, run off the event loop in a few worker processes.

bcrypt costs ~270 ms at cost 12, so hashing on the loop would stall every chat for that
long. bcrypt only reads the first 72 bytes of a password (and bcrypt 5 refuses longer
ones), so every password is first reduced to a fixed-size digest: long passwords keep all
of their strength instead of being cut.
"""

import asyncio
import base64
import hashlib
import logging
import os
import secrets
import sys
from typing import Any

import bcrypt

from chatroom.server.password_worker import PasswordWorker, WorkerGone
from chatroom.utils.args import os_reason

log = logging.getLogger("chatroom.server")


def new_resume_token() -> tuple[str, str]:
    """A fresh resume token and the hash of it that the store keeps (never the token)."""
    token = secrets.token_urlsafe(32)
    return token, resume_token_hash(token)


def resume_token_hash(token: str) -> str:
    # The token is 256 random bits, so a plain SHA-256 (no salt, no bcrypt) is enough:
    # nobody can guess a preimage, and a lookup by hash stays one indexed read.
    return hashlib.sha256(token.encode()).hexdigest()


def _prehash(password: str) -> bytes:
    # base64 of SHA-256 is 44 ASCII bytes: under bcrypt's 72-byte limit and free of NUL.
    return base64.b64encode(hashlib.sha256(password.encode()).digest())


AHEAD = 16
"""Requests a worker is given at once; the rest wait here, where one given up (a session
aborted at shutdown) is dropped unhashed. A worker's answers are read once a turn of the
event loop, so it must hold enough to stay busy through a busy turn: 10,000 logins at
cost 4 took 10.99-11.8 s with 2, 9.56-10.26 with 8, 9.04-9.63 with 16 (8.77-9.60 with
no bound). At cost 12, 16 is 4.3 s of work for a worker at most."""
MOST_WORKERS = 8
"""Password workers at most, whatever the cores: each holds 12 MB of its own (an
interpreter), and 8 check 30 passwords a second at cost 12, a class of 40 in 1.4 s."""


def bcrypt_workers() -> int:
    """How many processes hash and check passwords: one a core, up to `MOST_WORKERS`.
    bcrypt is all CPU, so a storm of logins then uses every core the chat leaves idle.
    The scheduler shares a core between the event loop and a worker when both are busy:
    a flood of logins at cost 12 moves private latency's p99 from 4 or 5 ms to 9 to 14
    (docs/performance-journal.md). Workers at a lower priority (nice 19, or SCHED_IDLE)
    kept the chat at 6 to 7 ms, but gave the logins of a storm only what the loop left,
    and a storm went little faster than with one worker."""
    return min(os.cpu_count() or 1, MOST_WORKERS)


class NoPasswordWorker(Exception):
    """A worker process could not be started (the interpreter gone, no processes or file
    descriptors left): logins and registrations cannot be checked."""


class PasswordHasher:
    """Hashes and checks passwords in a few worker processes (`password_worker`), started
    with the server (or when first needed) and again if one dies."""

    def __init__(self, cost: int, workers: int | None = None, new_at_once: int = 1) -> None:
        self.cost = cost
        self._size = workers or bcrypt_workers()
        self._workers: list[PasswordWorker] = []
        self._starting = asyncio.Lock()
        self._decoy: bytes | None = None
        self._new_hashes = asyncio.Semaphore(new_at_once)
        """New-password hashes with the workers at once (in the server, one: a flood of
        registrations waits here, not in a worker's queue, so a login waits behind at
        most one of them)."""
        self._handing = asyncio.Semaphore(self._size * AHEAD)
        self.running = 0
        """How many hashes are asked for now, waiting or with a worker (for tests and
        monitoring)."""
        self.handed = 0
        """How many requests were given to a worker, ever (for tests and monitoring)."""

    @property
    def pids(self) -> list[int]:
        """The worker processes running now (for tests and monitoring)."""
        return [worker.pid for worker in self._workers if worker.alive]

    async def hash(self, password: str) -> bytes:
        """A new salted bcrypt hash of `password` (for a new account)."""
        async with self._new_hashes:
            return await self._hash(password)

    async def _hash(self, password: str) -> bytes:
        hashed: bytes = await self._ask("hash", _prehash(password), bcrypt.gensalt(self.cost))
        return hashed

    async def verify(self, password: str, hashed: bytes | None) -> bool:
        """Whether `password` matches `hashed`.

        With no hash (no such user) it checks against a decoy hash, so an unknown username
        takes as long to refuse as a wrong password.
        """
        if hashed is None:
            if self._decoy is None:
                self._decoy = await self._hash(os.urandom(16).hex())
            await self._ask("check", _prehash(password), self._decoy)
            return False
        matches: bool = await self._ask("check", _prehash(password), hashed)
        return matches

    async def _ask(self, *request: object) -> Any:
        self.running += 1
        try:
            # Each try that fails had a worker of its own die, and that one is replaced: a
            # worker killed before its end was read may still be the least busy, so a try
            # for each worker, then one with all of them new.
            async with self._handing:
                for _ in range(self._size):
                    try:
                        return await self._hand(request)
                    except WorkerGone:
                        log.error("a password worker exited; starting another")
                return await self._hand(request)
        finally:
            self.running -= 1

    async def _hand(self, request: tuple[object, ...]) -> Any:
        worker = await self._least_busy()
        self.handed += 1
        return await worker.ask(*request)

    async def start(self) -> None:
        """Start the workers not running: all of them at first, then any that died."""
        async with self._starting:
            self._workers = [worker for worker in self._workers if worker.alive]
            while len(self._workers) < self._size:
                try:
                    self._workers.append(await PasswordWorker.start())
                except OSError as exc:
                    raise NoPasswordWorker(
                        f"cannot start a password worker ({sys.executable}): {os_reason(exc)}"
                    ) from exc

    async def _least_busy(self) -> PasswordWorker:
        """The worker with the fewest requests waiting, once all of them are running."""
        if len(self._workers) < self._size or not all(w.alive for w in self._workers):
            await self.start()
        return min(self._workers, key=lambda worker: worker.load)

    async def close(self) -> None:
        """Let the workers answer what they were asked, and exit."""
        workers, self._workers = self._workers, []
        await asyncio.gather(*(worker.close() for worker in workers))
