"""What a handler may know of and do to the connection it answers: the `Peer` protocol.

Handlers are typed against this, not against the connection class, the way the hub
depends only on `Recipient`: they cannot reach the socket, and a test can answer
requests with a plain object that has these few attributes.
"""

from typing import Any, Protocol

from chatroom.common.messages import ByeReason
from chatroom.server.store import FileRecord
from chatroom.server.store.base import Backlog

Reply = dict[str, Any]
"""The `data` of an `ok` reply."""


class Peer(Protocol):
    """The client on the other end of one connection."""

    address: str
    """Its address: what per-address limits count."""
    resume_token_hash: str | None
    """The resume token this connection was given or used; logout revokes it."""
    readable_files: dict[int, FileRecord] | None
    """Files it may download, remembered to spare a lookup per chunk (None: none yet)."""
    features: frozenset[str]
    """What the client asked for in `hello` (`pull`, `compress`, `rooms`, ...)."""

    @property
    def peer(self) -> str:
        """Its address and port, for the log."""

    @property
    def address_key(self) -> str:
        """The key of its address in the login throttle."""

    @property
    def user(self) -> str | None:
        """The logged-in username, or None before login."""

    @property
    def username(self) -> str:
        """The logged-in username (for requests allowed only after login)."""

    def require_logged_out(self) -> None:
        """Raise `already_logged_in` if it is logged in."""

    def spend_message(self) -> None:
        """Take one token of its message rate; `rate_limited` (with `retry_after`) if none
        is left."""

    async def log_in(self, username: str, acked_upto: int, how: str) -> Backlog:
        """Make the connection `username`'s; where their mail after mid `acked_upto`
        (what they acknowledged, read with their `Arrival`) is."""

    def send_frame(self, frame: bytes) -> None:
        """Send an encoded push to this client (as the hub does)."""

    def say_bye(self, reason: ByeReason) -> None:
        """Say `bye` with `reason` and close now (as the hub does to a kicked user)."""

    def close_after_reply(self, reason: ByeReason) -> None:
        """Say `bye` with `reason` and close once this request's reply is written."""
