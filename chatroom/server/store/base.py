"""The storage interface the handlers use, and the records it returns.

A second backend (PostgreSQL, say) implements `Store` and nothing in the handlers changes.
"""

from dataclasses import dataclass
from typing import Protocol

from chatroom.common.messages import MessagePush


@dataclass(slots=True, frozen=True)
class UserRecord:
    username: str
    """As registered (NFKC-normalised); unique when casefolded."""
    password_hash: bytes


@dataclass(slots=True, frozen=True)
class StoredMessage:
    mid: int
    sender: str
    recipient: str | None
    """None for a group message."""
    text: str
    ts: float

    def as_push(self, offline: bool = False) -> MessagePush:
        return MessagePush(self.mid, self.sender, self.recipient, self.text, self.ts, offline)


class Store(Protocol):
    async def create_user(self, username: str, password_hash: bytes) -> None:
        """Add a user whose mailbox starts after every message stored so far.

        Raises `ChatError(username_taken)` if the casefolded name exists already.
        """

    async def find_user(self, username: str) -> UserRecord | None:
        """The user whose name matches `username` casefolded, if any."""

    async def add_message(self, sender: str, recipient: str | None, text: str) -> StoredMessage:
        """Store a message and commit before returning: the caller may acknowledge it."""

    async def backlog(self, username: str, limit: int) -> tuple[list[StoredMessage], int]:
        """The user's unacknowledged messages, newest `limit` in mid order, and how many
        older ones were left out."""

    async def ack(self, username: str, upto: int) -> None:
        """Mark every message up to mid `upto` as seen by the user (never moves back)."""

    async def close(self) -> None:
        """Finish pending writes and release the database."""
