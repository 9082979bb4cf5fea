"""Garbage collection while the user is idle, not while they press keys.

A full collection walks every object the process has, and a log's rows are many: Textual
keeps some 50 objects a row (a Strip, its segments, the caches each Strip carries). With
a window of history loaded, one walk takes 100 ms and more, and a key pressed meanwhile
waits for it: PageDown's p99 was 143 ms with 3,000 entries loaded, typing's 15 ms.

So Python's own full walks are made rare (the third threshold, `WALK_AFTER`, instead
of 10), and `IdleCollector` makes them instead when Python would have (`WALK_EVERY`
collections of the middle generation), but only once the keyboard and mouse have been
still for `IDLE` seconds. Young objects are still collected as usual, each collection
of them a millisecond or less, and a user who never stops typing still gets Python's
full walks, rarely. (Walking at every idle second instead, whenever anything was new,
cost a client in a room with 5 messages a second a third of its CPU: the app is busy
drawing messages while its user only reads.)
"""

import gc
import time

from textual import events

IDLE = 1.0
"""Seconds without a key or mouse event before a full walk."""

WALK_AFTER = 200
"""Collections of the middle generation after which Python walks everything itself."""

WALK_EVERY = 10
"""Collections of the middle generation after which a full walk is due, made once the
user is idle (Python's own default)."""


class IdleCollector:
    def __init__(self) -> None:
        self.last_input = time.monotonic()
        self.thresholds = gc.get_threshold()
        """Python's own, given back at the end."""

    def start(self) -> None:
        young, middle, _ = self.thresholds
        gc.set_threshold(young, middle, WALK_AFTER)

    def stop(self) -> None:
        gc.set_threshold(*self.thresholds)

    def seen(self, event: events.Event) -> None:
        """Called with every event the app gets: keys and the mouse are the user's."""
        if isinstance(event, events.InputEvent):
            self.last_input = time.monotonic()

    def tick(self) -> None:
        """Walk everything now if a walk is due and the user is idle."""
        if gc.get_count()[2] >= WALK_EVERY and time.monotonic() - self.last_input >= IDLE:
            gc.collect()
