"""What the other nodes say of their users: `RemotePresence`, kept by `cluster.RedisHub`.

A user may have sessions on several nodes. Each node tells the others what others see of
its users there (their status and its text); the user is shown as the first node's that
has them, and offline when no node has them.
"""

from collections.abc import KeysView

from chatroom.server.hub import OFFLINE, Shown


class RemotePresence:
    """What others see of each user with a session on another node, by node."""

    def __init__(self) -> None:
        self._by_user: dict[str, dict[str, Shown]] = {}

    def shown(self, username: str) -> Shown:
        return next(iter(self._by_user.get(username, {}).values()), OFFLINE)

    def users(self) -> KeysView[str]:
        """The users with a session on some other node."""
        return self._by_user.keys()

    def nodes_of(self, username: str) -> int:
        """On how many other nodes `username` has sessions."""
        return len(self._by_user.get(username, {}))

    def nodes(self) -> set[str]:
        """The nodes that have users."""
        return {node for there in self._by_user.values() for node in there}

    def put(self, node: str, username: str, shown: Shown) -> None:
        """`node` says what others see of `username` there now (OFFLINE: not there)."""
        there = self._by_user.setdefault(username, {})
        if shown == OFFLINE:
            there.pop(node, None)
            if not there:
                del self._by_user[username]
        else:
            there[node] = shown

    def replace(self, node: str, users: dict[str, Shown]) -> set[str]:
        """`node` says these are all its users (none: it is gone); whose news changed."""
        changed = {u for u, there in self._by_user.items() if node in there} | users.keys()
        for username in changed:
            self.put(node, username, users.get(username, OFFLINE))
        return changed
