"""`chatroom-server --chaos SPEC`: an unreliable network, for practice.

A student's client must cope with what TCP allows: a frame that arrives in pieces, late,
or not at all because the connection dropped. On loopback none of that happens, so the
server can do it on purpose, to everything it writes:

    --chaos split=0.5,delay=0.05,drop=0.01,seed=7

- `split=P`: with probability P, a write is cut into pieces of 1 to 7 bytes, each sent
  a millisecond after the one before (so they arrive as separate reads);
- `delay=S`: every write waits up to S seconds (uniformly), in order;
- `drop=P`: with probability P, a write is the connection's last: it is cut (reset)
  instead;
- `seed=N`: the same choices every run.

Not for a real server: the delays bypass the slow-consumer limits.
"""

import asyncio
import math
import random
from collections import deque
from dataclasses import dataclass
from typing import Any

PIECE_GAP = 0.001
"""Seconds between the pieces of a split write."""
KNOBS = {"split": float, "delay": float, "drop": float, "seed": int}


@dataclass(frozen=True, slots=True)
class ChaosSpec:
    split: float = 0.0
    delay: float = 0.0
    drop: float = 0.0
    seed: int | None = None

    @classmethod
    def parse(cls, text: str) -> "ChaosSpec":
        """`split=0.5,delay=0.05,...`; ValueError says what is wrong."""
        values: dict[str, float | int] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, equals, value = item.partition("=")
            if name not in KNOBS or not equals:
                raise ValueError(f"{item!r}: give split=P, delay=SECONDS, drop=P or seed=N")
            try:
                values[name] = KNOBS[name](value)
            except ValueError:
                raise ValueError(f"{item!r}: {value!r} is not a number") from None
        spec = cls(**values)  # type: ignore[arg-type]
        for name in ("split", "drop"):
            if not 0 <= getattr(spec, name) <= 1:
                raise ValueError(f"{name} is a probability, from 0 to 1")
        if not 0 <= spec.delay < math.inf:  # not nan either
            raise ValueError("delay is at least 0 seconds, and finite")
        return spec


class Chaos:
    """The chaos of one server: a `Mischief` for each of its connections."""

    def __init__(self, spec: ChaosSpec) -> None:
        self.spec = spec
        self._random = random.Random(spec.seed)

    def for_connection(self) -> "Mischief":
        return Mischief(self.spec, random.Random(self._random.random()))


class Mischief:
    """Writes to one connection as an unreliable network would deliver them, in order."""

    def __init__(self, spec: ChaosSpec, chance: random.Random) -> None:
        self._spec = spec
        self._chance = chance
        self._loop = asyncio.get_running_loop()
        self._free_at = 0.0
        """Loop time after which the next piece may go (earlier ones are still due)."""
        self._due: deque[tuple[float, asyncio.BaseTransport, Any, tuple[Any, ...]]] = deque()
        """What is to be written or done to the connection, in order, each with its time."""
        self._timer: asyncio.TimerHandle | None = None

    def write(self, transport: asyncio.WriteTransport, data: bytes) -> None:
        spec, chance = self._spec, self._chance
        if spec.drop and chance.random() < spec.drop:
            self._at(self._free_at, transport, transport.abort)
            return
        start = max(self._free_at, self._loop.time()) + chance.uniform(0, spec.delay)
        pieces = [data]
        if spec.split and chance.random() < spec.split:
            pieces, rest = [], data
            while rest:
                size = chance.randint(1, 7)
                pieces.append(rest[:size])
                rest = rest[size:]
        for number, piece in enumerate(pieces):
            self._at(start + number * PIECE_GAP, transport, transport.write, piece)
        self._free_at = start + len(pieces) * PIECE_GAP

    def close(self, transport: asyncio.BaseTransport) -> None:
        """Close once what is on its way has been written (as TCP would deliver it)."""
        self._at(self._free_at, transport, transport.close)

    def _at(self, when: float, transport: asyncio.BaseTransport, action: Any, *args: Any) -> None:
        """Do `action` at loop time `when` (unless the connection is closing by then),
        after everything queued before it. In that order whatever order the loop's timers
        fire in: uvloop's, counted in whole milliseconds, may swap two pieces a
        millisecond apart, and the client would read the bytes out of order."""
        self._due.append((when, transport, action, args))
        if self._timer is None:
            self._timer = self._loop.call_at(when, self._act)

    def _act(self) -> None:
        """The first action queued, and those after it whose time has come too."""
        self._timer = None
        now = self._loop.time()
        while True:
            _, transport, action, args = self._due.popleft()
            if not transport.is_closing():
                action(*args)
            if not self._due or self._due[0][0] > now:
                break
        if self._due:
            self._timer = self._loop.call_at(self._due[0][0], self._act)
