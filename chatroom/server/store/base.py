"""The storage interface the handlers use, and the records it returns.

A second backend (PostgreSQL, say) implements `Store` and nothing in the handlers changes.
"""

from dataclasses import dataclass
from typing import Protocol

from chatroom.common.messages import FilePush, MessagePush


@dataclass(slots=True, frozen=True)
class UserRecord:
    username: str
    """As registered (NFKC-normalised); unique when casefolded."""
    password_hash: bytes


@dataclass(slots=True, frozen=True)
class FileRecord:
    fid: int
    sender: str
    recipient: str | None
    """None for a file sent to the group."""
    name: str
    """For display only, already sanitised; the bytes are stored under the fid."""
    size: int
    sha256: str
    mid: int | None
    """The message that announced the file; None while the upload is incomplete."""

    def readable_by(self, username: str) -> bool:
        """The sender, the recipient, and for a group file everyone, once it is complete."""
        return self.mid is not None and (
            self.recipient is None or username in (self.sender, self.recipient)
        )


@dataclass(slots=True)  # not frozen: one is built per message (see common.messages)
class StoredMessage:
    mid: int
    sender: str
    recipient: str | None
    """None for a group message."""
    text: str
    ts: float
    file: FileRecord | None = None
    """Set when the message announces a file; `text` is then its name."""

    def as_push(self, offline: bool = False) -> MessagePush | FilePush:
        if self.file is not None:
            f = self.file
            return FilePush(
                f.fid,
                self.mid,
                self.sender,
                self.recipient,
                f.name,
                f.size,
                f.sha256,
                self.ts,
                offline,
            )
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

    async def find_pending_file(
        self, sender: str, recipient: str | None, size: int, sha256: str
    ) -> FileRecord | None:
        """An incomplete upload of the same content by `sender` to `recipient`, to resume."""

    async def create_file(
        self, sender: str, recipient: str | None, name: str, size: int, sha256: str
    ) -> FileRecord:
        """Record an upload that is about to start."""

    async def find_file(self, fid: int) -> FileRecord | None: ...

    async def bytes_stored_by(self, sender: str) -> int:
        """The sizes of every file `sender` has sent or is sending, added up (for the quota)."""

    async def complete_file(self, fid: int) -> StoredMessage:
        """Store the message that announces the (fully received) file, and commit."""

    async def delete_file(self, fid: int) -> None:
        """Forget an upload that failed its checksum."""

    async def add_resume_token(self, token_hash: str, username: str, expires_at: float) -> None:
        """Keep the hash of a resume token for `username` until `expires_at` (unix time)."""

    async def find_resume_token(self, token_hash: str) -> str | None:
        """The user whose unexpired token has this hash, if any."""

    async def revoke_resume_token(self, token_hash: str) -> None: ...

    async def close(self) -> None:
        """Finish pending writes and release the database."""
