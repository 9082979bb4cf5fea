"""Rate limits: a token bucket for messages, and growing lockouts after failed logins.

Both are checked before any real work (a commit, a bcrypt hash) is done, so a client that
floods or guesses costs the server almost nothing.
"""

import time
from dataclasses import dataclass

from chatroom.common.errors import ChatError, ErrorCode


class TokenBucket:
    """`rate` actions a second on average, with bursts of up to `burst` at once."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._updated = time.monotonic()

    def take(self) -> None:
        """Spend one token, or raise `rate_limited` saying when the next one comes."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens < 1:
            wait = (1 - self._tokens) / self.rate
            raise ChatError(
                ErrorCode.RATE_LIMITED,
                f"too many messages; wait {wait:.1f} s",
                retry_after=round(wait, 3),
            )
        self._tokens -= 1


@dataclass(slots=True)
class _Failures:
    count: int = 0
    last: float = 0.0
    locked_until: float = 0.0


class LoginThrottle:
    """Counts failed logins per username and per address; past `free` failures each one
    locks that name or address out for twice as long as the last (1 s, 2 s, 4 s, ...,
    up to `longest`). Failures are forgotten after `forget` quiet seconds; a successful
    login forgets the username's (not the address's: one good account must not reset an
    attacker's count)."""

    PRUNE_AT = 10_000

    def __init__(self, free: int, longest: float, forget: float = 900.0) -> None:
        self.free = free
        self.longest = longest
        self.forget = forget
        self._failures: dict[str, _Failures] = {}

    def check(self, *keys: str) -> None:
        """Raise `too_many_attempts` if any of `keys` is locked out now."""
        now = time.monotonic()
        wait = max((self._current(key, now).locked_until - now for key in keys), default=0)
        if wait > 0:
            raise ChatError(
                ErrorCode.TOO_MANY_ATTEMPTS,
                f"too many failed logins; try again in {wait:.0f} s",
                retry_after=round(wait, 3),
            )

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            entry = self._failures.setdefault(key, self._current(key, now))
            entry.count += 1
            entry.last = now
            if entry.count > self.free:
                entry.locked_until = now + min(2.0 ** (entry.count - self.free - 1), self.longest)
        if len(self._failures) > self.PRUNE_AT:
            self._prune(now)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)

    def _current(self, key: str, now: float) -> _Failures:
        entry = self._failures.get(key)
        if entry is None or now - entry.last > self.forget:
            self._failures.pop(key, None)
            return _Failures()
        return entry

    def _prune(self, now: float) -> None:
        for key in [k for k, e in self._failures.items() if now - e.last > self.forget]:
            del self._failures[key]
