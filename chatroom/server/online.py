"""Who is online, as a login or `users` reply gives it (`OnlineList`): a sorted list of
names that stays cheap to send while it changes, and the statuses that are not plain.

Every login reply carries the whole list, so a login storm would pack every name online
once per login (10,000 logins with 5,000 online on average: 50 million names). Here the
names are held in blocks of a few hundred, each keeping its names packed once asked for:
an arrival or a departure changes one block, and the whole list packed is a join of the
blocks' bytes, which are packed again only where something changed.
"""

import bisect
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from chatroom.common.codec import Packed, array_header, pack_items
from chatroom.common.kinds import Status

BLOCK = 256
"""Names a block starts with when a full one is split; it is split at twice this."""


class SortedNames:
    """Distinct names in code-point order, which can be handed out packed (`packed`)."""

    __slots__ = ("_blocks", "_count", "_lasts", "_packed")

    def __init__(self) -> None:
        self._blocks: list[list[str]] = []
        self._lasts: list[str] = []
        """The last name of each block: the block a name belongs in is the first whose
        last name is not before it."""
        self._packed: list[bytes | None] = []
        """Each block's names packed one after another (None: changed since)."""
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        return itertools.chain.from_iterable(self._blocks)

    def __contains__(self, name: str) -> bool:
        return self._find(name) is not None

    def add(self, name: str) -> None:
        if not self._blocks:
            self._blocks, self._lasts, self._packed = [[]], [name], [None]
        number, at = self._place(name)
        block = self._blocks[number]
        if at < len(block) and block[at] == name:
            return
        block.insert(at, name)
        self._count += 1
        self._lasts[number], self._packed[number] = block[-1], None
        if len(block) >= 2 * BLOCK:
            halves = [block[:BLOCK], block[BLOCK:]]
            self._blocks[number : number + 1] = halves
            self._lasts[number : number + 1] = [half[-1] for half in halves]
            self._packed[number : number + 1] = [None, None]

    def discard(self, name: str) -> None:
        found = self._find(name)
        if found is None:
            return
        number, at = found
        block = self._blocks[number]
        del block[at]
        self._count -= 1
        if block:
            self._lasts[number], self._packed[number] = block[-1], None
        else:
            del self._blocks[number], self._lasts[number], self._packed[number]

    def packed(self) -> Packed:
        """The names as one msgpack array."""
        for number, packed in enumerate(self._packed):
            if packed is None:
                self._packed[number] = pack_items(self._blocks[number])
        return Packed(array_header(self._count) + b"".join(self._packed))  # type: ignore[arg-type]

    def _find(self, name: str) -> tuple[int, int] | None:
        """Which block `name` is in and where in it; None if it is not here."""
        if not self._blocks:
            return None
        number, at = self._place(name)
        block = self._blocks[number]
        return (number, at) if at < len(block) and block[at] == name else None

    def _place(self, name: str) -> tuple[int, int]:
        """Which block `name` is in or belongs in (the last, for a name after them all),
        and where in it. There is at least one block."""
        number = min(bisect.bisect_left(self._lasts, name), len(self._blocks) - 1)
        return number, bisect.bisect_left(self._blocks[number], name)


class OnlineList:
    """Who others see online: their names, sorted and kept packed, and the status of
    each whose status is not plain `online` (`away` or `busy`, or with a text)."""

    __slots__ = ("names", "statuses")

    def __init__(self) -> None:
        self.names = SortedNames()
        self.statuses: dict[str, tuple[str, str]] = {}

    def put(self, name: str, status: str, text: str) -> None:
        """What others see of `name` now (`offline`: they are not listed)."""
        if status == Status.OFFLINE:
            self.names.discard(name)
        else:
            self.names.add(name)
        if status in (Status.OFFLINE, Status.ONLINE) and not text:
            self.statuses.pop(name, None)
        else:
            self.statuses[name] = (status, text)

    def reply(self) -> dict[str, Any]:
        """The `online` and `statuses` fields of a reply."""
        return {"online": self.names.packed(), "statuses": status_entries(self.statuses.items())}


def status_entries(shown: Iterable[tuple[str, tuple[str, str]]]) -> dict[str, dict[str, str]]:
    """`statuses` as a reply or a `presence_batch` gives them: each name given, with
    `{status, status_text}`."""
    return {name: {"status": status, "status_text": text} for name, (status, text) in shown}
