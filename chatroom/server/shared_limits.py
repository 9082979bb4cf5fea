"""The limits that count across server nodes: `SharedLimits`, which on one node counts
nothing (each node's own `throttle` and connection counts are the limits), and which
`cluster_limits.RedisLimits` keeps in Redis for every node of a cluster.

Each node checks its own limits first, as a single server does; these come on top, so a
client that spreads its connections, guesses or registrations over the nodes meets the
same limits as on one. What they count: connections per address (`max_connections_per_ip`),
failed logins per username and per address (the lockouts), and registrations per address.
"""


class SharedLimits:
    """Limits for one node alone: all of them are the node's own, so these let all pass."""

    async def connection_opened(self, address: str) -> bool:
        """Count a new connection from `address`; False (and not counted) if the other
        nodes' connections from there already fill `max_connections_per_ip`."""
        return True

    def connection_closed(self, address: str) -> None:
        """A connection counted by `connection_opened` has ended (told to the other
        nodes soon, not awaited: a connection's end never waits for Redis)."""

    async def check_lockout(self, keys: tuple[str, ...]) -> None:
        """Raise `too_many_attempts` if any of `keys` (a username's, an address's) is
        locked out after failed logins on any node."""

    async def login_failed(self, keys: tuple[str, ...]) -> None:
        """A login (or resume) with these keys failed: count it on every node."""

    async def login_succeeded(self, key: str) -> None:
        """A good password for the username `key`: forget its failures everywhere."""

    async def take_registration(self, address: str) -> None:
        """Spend one of the registrations `address` may make, or raise `rate_limited`."""
