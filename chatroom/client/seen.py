"""Which messages a client has been given already, across its reconnections."""

from collections import OrderedDict


class SeenMids:
    """The mids of recent messages, to drop one delivered twice (delivery is at least once).

    Bounded: only the newest `capacity` are remembered. Share one between the clients of
    successive reconnections so a message replayed at re-login is not shown again.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._mids: OrderedDict[int, None] = OrderedDict()

    def add(self, mid: int) -> bool:
        """Remember `mid`; whether it is new."""
        if mid in self._mids:
            return False
        self._mids[mid] = None
        if len(self._mids) > self.capacity:
            self._mids.popitem(last=False)
        return True
