"""The storage interface the handlers use, and the records it returns.

A second backend (PostgreSQL, say) implements `Store` and nothing in the handlers changes.
"""

from dataclasses import dataclass
from typing import Protocol

from chatroom.common.messages import FileInfo, FilePush, MessagePush


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

    def info(self) -> FileInfo:
        """What the protocol says of this file (its `file_info` reply)."""
        return FileInfo(
            self.fid, self.mid, self.sender, self.recipient, self.name, self.size, self.sha256
        )

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
    duplicate: bool = False
    """True when the request was a repeat (same `cid`, or an upload already complete):
    this is what was stored the first time, and nothing new was stored or is to be sent."""

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


@dataclass(slots=True, frozen=True)
class Backlog:
    """What a login replays: the mailbox's messages with `after` < mid <= `upto`."""

    after: int
    upto: int
    count: int
    """How many messages that is (at most the replay limit)."""
    skipped: int
    """Older unacknowledged messages left out (over the replay limit)."""


class Store(Protocol):
    async def create_user(self, username: str, password_hash: bytes) -> None:
        """Add a user whose mailbox starts after every message stored so far.

        Raises `ChatError(username_taken)` if the casefolded name exists already.
        """

    async def find_user(self, username: str) -> UserRecord | None:
        """The user whose name matches `username` casefolded, if any."""

    async def add_message(
        self,
        sender: str,
        recipient: str | None,
        text: str,
        *,
        cid: str | None = None,
        mailbox_limit: int,
    ) -> StoredMessage:
        """Store a message and commit before returning: the caller may acknowledge it.

        With a `cid` the sender used before (within a day), nothing is stored: the
        original comes back with `duplicate` set. A private message to a recipient who
        already has `mailbox_limit` unread ones raises `ChatError(mailbox_full)`.
        """

    async def backlog(self, username: str, limit: int) -> Backlog:
        """Where the user's unacknowledged messages are: the newest `limit` of them."""

    async def backlog_page(
        self, username: str, after: int, upto: int, limit: int
    ) -> list[StoredMessage]:
        """The user's mailbox messages with `after` < mid <= `upto`, the first `limit` in
        mid order."""

    async def ack(self, username: str, upto: int) -> None:
        """Mark every message up to mid `upto` as seen by the user (never moves back)."""

    async def create_file(
        self,
        sender: str,
        recipient: str | None,
        name: str,
        size: int,
        sha256: str,
        *,
        cid: str | None,
        quota: int,
        max_uploads: int,
        mailbox_limit: int,
    ) -> FileRecord:
        """Record an upload about to start, or find the one it repeats or resumes.

        The same `cid` as before, or the same content still incomplete, gives that
        file back (complete or not). A new upload first reserves its size against the
        sender's `quota` and one of their `max_uploads` unfinished uploads, atomically:
        `quota_exceeded`, `too_many_uploads`, or `mailbox_full` for the recipient.
        """

    async def find_file(self, fid: int) -> FileRecord | None: ...

    async def complete_file(self, fid: int) -> StoredMessage:
        """Store the message that announces the (fully received) file, and commit.

        Idempotent: for a file already complete, that message with `duplicate` set.
        Raises `no_such_file` if the upload expired meanwhile.
        """

    async def delete_file(self, fid: int) -> None:
        """Forget an unfinished upload (failed checksum, or expired); frees its quota."""

    async def stale_uploads(self, before: float) -> list[FileRecord]:
        """Unfinished uploads announced before `before` (unix time)."""

    async def forget_request_ids(self, before: float) -> None:
        """Forget the `cid`s of requests made before `before` (unix time)."""

    async def add_resume_token(self, token_hash: str, username: str, expires_at: float) -> None:
        """Keep the hash of a resume token for `username` until `expires_at` (unix time)."""

    async def find_resume_token(self, token_hash: str) -> str | None:
        """The user whose unexpired token has this hash, if any."""

    async def revoke_resume_token(self, token_hash: str) -> None: ...

    async def close(self) -> None:
        """Finish pending writes and release the database."""
