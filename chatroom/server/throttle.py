"""Rate limits: token buckets for messages and registrations, and growing lockouts after
failed logins.

Each is checked before any real work (a commit, a bcrypt hash) is done, so a client that
floods or guesses costs the server almost nothing. Time comes from a `clock` passed in
(monotonic seconds), so tests can move it instead of sleeping.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from chatroom.common.errors import ChatError, ErrorCode

Clock = Callable[[], float]


class TokenBucket:
    """`rate` actions a second on average, with bursts of up to `burst` at once."""

    __slots__ = ("_clock", "_tokens", "_updated", "burst", "rate")  # one per connection

    def __init__(self, rate: float, burst: float, clock: Clock = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._updated = clock()

    def take(self, what: str = "messages") -> None:
        """Spend one token, or raise `rate_limited` saying when the next one comes."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens < 1:
            wait = (1 - self._tokens) / self.rate
            raise ChatError(
                ErrorCode.RATE_LIMITED,
                f"too many {what}; wait {wait:.1f} s",
                retry_after=round(wait, 3),
            )
        self._tokens -= 1

    def state(self) -> tuple[float, float]:
        """Its tokens, and when they were counted: to keep it elsewhere (in Redis)."""
        return self._tokens, self._updated

    def restore(self, tokens: float, updated: float) -> None:
        self._tokens, self._updated = tokens, updated

    def full(self) -> bool:
        """Whether the bucket has refilled (and so need not be remembered)."""
        return self._tokens + (self._clock() - self._updated) * self.rate >= self.burst


class AddressRate:
    """A token bucket per address: how often one address may register an account."""

    PRUNE_AT = 10_000

    def __init__(self, rate: float, burst: float, clock: Clock = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, address: str, what: str) -> None:
        bucket = self._buckets.get(address)
        if bucket is None:
            if len(self._buckets) >= self.PRUNE_AT:
                self._buckets = {a: b for a, b in self._buckets.items() if not b.full()}
            bucket = self._buckets[address] = TokenBucket(self.rate, self.burst, self._clock)
        bucket.take(what)


@dataclass(slots=True)
class _Attempts:
    failures: int = 0
    checking: int = 0
    """Attempts whose password is being checked right now."""
    last: float = 0.0
    locked_until: float = 0.0


class Attempt:
    """One login attempt in progress, counted against its keys until it ends."""

    def __init__(self, throttle: "LoginThrottle", keys: tuple[str, ...]) -> None:
        self._throttle = throttle
        self._keys = keys

    def failed(self) -> None:
        self._throttle._failed(self._keys)

    def succeeded(self, key: str) -> None:
        """A good password: forget the failures of `key` (the username's, not the address's:
        one good account must not reset an attacker's count)."""
        self._throttle._failures.pop(key, None)


class LoginThrottle:
    """Counts login attempts per username and per address.

    The first `free` failures cost nothing; past them each failure locks that name or
    address out for twice as long as the last (1 s, 2 s, 4 s, ..., up to `longest`).
    An attempt on a username counts from the moment it starts, not when bcrypt has
    judged it: at most `free` may be in flight at once, and once the free failures are
    spent, one at a time — so a hundred guesses sent together cannot all be checked
    before the first lockout. Addresses are not limited that way (a classroom behind one
    NAT logs in all at once); their failures count when they are known.
    Failures are forgotten after `forget` quiet seconds.
    """

    PRUNE_AT = 10_000
    BUSY_WAIT = 1.0
    """The `retry_after` for an attempt refused because others are still being checked."""

    def __init__(
        self, free: int, longest: float, forget: float = 900.0, clock: Clock = time.monotonic
    ) -> None:
        self.free = free
        self.longest = longest
        self.forget = forget
        self._clock = clock
        self._failures: dict[str, _Attempts] = {}

    @contextmanager
    def attempt(self, name: str | None, address: str) -> Iterator[Attempt]:
        """Start an attempt on the keys of a username (None for a resume) and an address,
        or raise `too_many_attempts`; the attempt ends with the `with` block."""
        now = self._clock()
        keys = (address,) if name is None else (name, address)
        entries = [self._current(key, now) for key in keys]
        wait = max((entry.locked_until - now for entry in entries), default=0)
        on_name = entries[0] if name is not None else None
        if (
            wait <= 0
            and on_name is not None
            and on_name.failures + on_name.checking >= max(self.free, on_name.failures + 1)
        ):
            wait = self.BUSY_WAIT
        if wait > 0:
            raise self.refusal(wait)
        for key, entry in zip(keys, entries, strict=True):
            entry.checking += 1
            entry.last = now
            self._failures[key] = entry
        try:
            yield Attempt(self, keys)
        finally:
            for key in keys:
                if (ending := self._failures.get(key)) is not None:
                    ending.checking -= 1
            if len(self._failures) > self.PRUNE_AT:
                self._prune(self._clock())

    def failures(self, key: str) -> int:
        """Failed attempts counted against `key` now (for tests and monitoring)."""
        entry = self._failures.get(key)
        return entry.failures if entry is not None else 0

    def _failed(self, keys: tuple[str, ...]) -> None:
        now = self._clock()
        for key in keys:
            entry = self._failures.setdefault(key, _Attempts())
            entry.failures += 1
            entry.last = now
            entry.locked_until = now + self.lockout(entry.failures)

    def lockout(self, failures: int) -> float:
        """Seconds locked out after `failures` failed attempts (0 within the free ones)."""
        if failures <= self.free:
            return 0.0
        return min(2.0 ** (failures - self.free - 1), self.longest)

    @staticmethod
    def refusal(wait: float) -> ChatError:
        return ChatError(
            ErrorCode.TOO_MANY_ATTEMPTS,
            f"too many login attempts; try again in {wait:.0f} s",
            retry_after=round(wait, 3),
        )

    def _current(self, key: str, now: float) -> _Attempts:
        entry = self._failures.get(key)
        if entry is None or (not entry.checking and now - entry.last > self.forget):
            self._failures.pop(key, None)
            return _Attempts()
        return entry

    def _prune(self, now: float) -> None:
        for key in [
            k for k, e in self._failures.items() if not e.checking and now - e.last > self.forget
        ]:
            del self._failures[key]
