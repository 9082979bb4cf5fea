"""The rules of one connection that need no socket: what is written in which order, and
when the connection has waited too long. (The sans-I/O part, in the websockets style:
`connection.py` feeds these bytes and times, and does the reading and writing.)

`Outbox` keeps the order a client sees: a request's reply before the pushes that arrived
while it ran (a login's reply before the live traffic behind it). `next_wait` says how
long the next read may wait and what it means if nothing comes.
"""

from chatroom.common.limits import Limits
from chatroom.common.messages import ByeReason


class Outbox:
    """Frames waiting to be written to one client, in the order it must receive them."""

    # One per connection, thousands at once: no per-instance dict for the collector to scan.
    __slots__ = (
        "_counted",
        "_counted_bytes",
        "_held",
        "_held_bytes",
        "_queued",
        "holding",
    )

    def __init__(self) -> None:
        # None, not an empty list, while there is nothing: an empty list is 56 bytes, and
        # most of thousands of connections have nothing queued most of the time.
        self._queued: list[bytes] | None = None
        self._counted = self._counted_bytes = 0  # how many of them were measured, and their size
        self._held: list[bytes] | None = None
        self._held_bytes = 0
        self.holding = False  # a plain attribute: read once per delivery

    def hold(self) -> None:
        """Keep pushes back (until `release`) so a reply can go ahead of them."""
        self.holding = True
        if self._held is None:
            self._held = []

    def push(self, frame: bytes, most_held: int) -> bool:
        """Queue a push, or hold it back; False if that makes more than `most_held` bytes
        held back."""
        if self._held is None:  # not holding
            self.reply(frame)
            return True
        self._held.append(frame)
        self._held_bytes += len(frame)
        return self._held_bytes <= most_held

    def reply(self, frame: bytes) -> bool:
        """Queue a frame now, ahead of any held pushes; whether the queue was empty (so
        a write must be scheduled)."""
        # The hot path of every fan-out: nothing more than the append (the bytes waiting
        # are counted when asked for, which is once per request, not per delivery).
        if self._queued is None:
            self._queued = [frame]
            return True
        self._queued.append(frame)
        return False

    def release(self) -> None:
        """Queue what was held back, in the order it came."""
        held, self._held, self._held_bytes = self._held or [], None, 0
        self.holding = False
        for frame in held:
            self.reply(frame)

    def take(self) -> bytes:
        """Everything queued, as one write; the queue starts over empty."""
        if self._queued is None:
            return b""
        data = b"".join(self._queued)
        self._queued = None
        self._counted = self._counted_bytes = 0
        return data

    @property
    def queued_bytes(self) -> int:
        """Bytes queued and not yet taken (measured here, the frames not measured yet)."""
        queued = self._queued
        if queued is None:
            return 0
        if self._counted < len(queued):
            self._counted_bytes += sum(map(len, queued[self._counted :]))
            self._counted = len(queued)
        return self._counted_bytes


def next_wait(
    limits: Limits, now: float, login_by: float, frame_by: float | None
) -> tuple[float, ByeReason]:
    """How long a connection's next read may wait, and why it ends if nothing comes.

    Times are the loop's seconds (monotonic). `login_by` is when a connection that has
    not logged in is closed, however it dribbles (infinite once it has logged in);
    `frame_by` is when the frame that has begun to arrive must be complete (None if no
    frame has begun). A session keeps just these two floats, not an object: ten
    thousand idle ones would hold 80 bytes each more.
    """
    wait, reason = limits.idle_timeout, ByeReason.IDLE
    if login_by - now < wait:
        wait, reason = max(login_by - now, 0), ByeReason.LOGIN_TIMEOUT
    if frame_by is not None and frame_by - now < wait:
        # A frame once begun must arrive in full in time: dribbling a 1 MiB frame a
        # byte a second would otherwise hold its buffer for days.
        wait, reason = max(frame_by - now, 0), ByeReason.FRAME_TIMEOUT
    return wait, reason


def frame_deadline(
    limits: Limits, now: float, frame_by: float | None, buffered_before: int, buffered_after: int
) -> float | None:
    """The new `frame_by` once bytes arrived at `now`: the decoder held `buffered_before`
    bytes with them, and `buffered_after` once it had taken every complete frame out."""
    if not buffered_after:
        return None
    if frame_by is None or buffered_after < buffered_before:
        # Bytes were used up, so a frame ended and the bytes left begin a new one.
        return now + limits.frame_timeout
    return frame_by
