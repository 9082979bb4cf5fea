"""`Services`: everything the server shares among its connections, built once by the app.

The store, the hub (and the statuses it shows), the file vault, password hashing, the
rate limits, the limits themselves and the clocks. Handlers receive it with each
request; nothing reaches these through a connection object or a global.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from chatroom.common.limits import Limits
from chatroom.server.auth import PasswordHasher
from chatroom.server.chaos import Chaos
from chatroom.server.files import FileVault
from chatroom.server.hub import Hub
from chatroom.server.shared_limits import SharedLimits
from chatroom.server.statuses import StatusKeeper
from chatroom.server.store import Store
from chatroom.server.throttle import AddressRate, Clock, LoginThrottle


@dataclass(slots=True, frozen=True)
class Services:
    store: Store
    hub: Hub
    statuses: StatusKeeper
    vault: FileVault
    passwords: PasswordHasher
    throttle: LoginThrottle
    registrations: AddressRate
    shared: SharedLimits
    """What counts across nodes, on top of the node's own `throttle` and `registrations`."""
    limits: Limits
    clock: Clock = time.monotonic
    """Seconds for measuring intervals (rate limits, lockouts); tests pass their own."""
    wall_clock: Callable[[], float] = field(default=time.time)
    """Unix time, for what is stored or sent (a resume token's expiry, a mute's end)."""
    dm_policy: str = "anyone"
    """Who may send private messages to whom: `anyone`, or `contacts` only."""
    trace: Callable[[str], None] | None = None
    """Where every frame in and out goes, a line each (`--trace`); None: nowhere."""
    chaos: Chaos | None = None
    """What an unreliable network would do to what the server writes (`--chaos`)."""
