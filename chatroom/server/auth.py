"""Password hashing with bcrypt, run off the event loop in a small thread pool.

bcrypt costs ~270 ms at cost 12, so hashing on the loop would stall every chat for that
long. bcrypt only reads the first 72 bytes of a password (and bcrypt 5 refuses longer
ones), so every password is first reduced to a fixed-size digest: long passwords keep all
of their strength instead of being cut.
"""

import asyncio
import base64
import hashlib
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import bcrypt

T = TypeVar("T")


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


def bcrypt_threads() -> int:
    """How many threads hash and check passwords: one core fewer than the machine has,
    so that the event loop keeps a core to itself and a flood of logins cannot slow the
    chat down."""
    return max(1, (os.cpu_count() or 2) - 1)


class PasswordHasher:
    """Hashes and checks passwords in a bounded pool of threads (bcrypt releases the GIL)."""

    def __init__(self, cost: int, workers: int | None = None) -> None:
        self.cost = cost
        self._pool = ThreadPoolExecutor(
            max_workers=workers or bcrypt_threads(),
            thread_name_prefix="bcrypt",
        )
        self._decoy: bytes | None = None
        self._new_hashes = asyncio.Semaphore(1)
        """One new-password hash in the pool at a time: a flood of registrations waits
        here, not in the pool's queue, so a login waits behind at most one of them."""
        self.running = 0
        self._running_lock = threading.Lock()
        """How many hashes are being computed right now (for tests and monitoring)."""

    async def hash(self, password: str) -> bytes:
        """A new salted bcrypt hash of `password` (for a new account)."""
        async with self._new_hashes:
            return await self._hash(password)

    async def _hash(self, password: str) -> bytes:
        return await self._run(bcrypt.hashpw, _prehash(password), bcrypt.gensalt(self.cost))

    async def verify(self, password: str, hashed: bytes | None) -> bool:
        """Whether `password` matches `hashed`.

        With no hash (no such user) it checks against a decoy hash, so an unknown username
        takes as long to refuse as a wrong password.
        """
        if hashed is None:
            if self._decoy is None:
                self._decoy = await self._hash(os.urandom(16).hex())
            await self._run(bcrypt.checkpw, _prehash(password), self._decoy)
            return False
        return await self._run(bcrypt.checkpw, _prehash(password), hashed)

    async def _run(self, function: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self._counted, function, *args
        )

    def _counted(self, function: Callable[..., T], *args: object) -> T:
        with self._running_lock:
            self.running += 1
        try:
            return function(*args)
        finally:
            with self._running_lock:
                self.running -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
