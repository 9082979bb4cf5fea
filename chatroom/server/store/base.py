"""The storage interface the handlers use, and the records it returns.

A second backend (PostgreSQL, say) implements `Store` and nothing in the handlers changes.
"""

from dataclasses import dataclass
from typing import Any, Protocol

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
    conv: int = 1
    """The conversation it was sent in (see `Room`; 1 is the lobby)."""
    room: str | None = None
    """The name of that room; None for a private file."""

    def info(self) -> FileInfo:
        """What the protocol says of this file (its `file_info` reply)."""
        return FileInfo(
            self.fid,
            self.mid,
            self.sender,
            self.recipient,
            self.name,
            self.size,
            self.sha256,
            self.room,
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
    conv: int = 1
    """The conversation it belongs to: a room (1 is the lobby) or a private pair."""
    room: str | None = None
    """The name of that room; None for a private message."""

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
                self.room,
                self.ts,
                offline,
            )
        return MessagePush(
            self.mid, self.sender, self.recipient, self.text, self.ts, offline, self.room
        )

    def as_item(self) -> dict[str, Any]:
        """The message as an entry of a `history` or `search` reply: the `data` of the
        push it came as, and that push's `type`."""
        push = self.as_push()
        return {"type": push.TYPE.value} | push.as_data()


@dataclass(slots=True, frozen=True)
class Profile:
    """What a user says of themselves, and their role on the server."""

    username: str
    display_name: str
    bio: str
    status: str
    """As chosen: `online`, `away`, `busy` or `invisible` (see `common.messages.Status`)."""
    status_text: str
    role: str
    """`user`, `moderator` or `admin`."""


@dataclass(slots=True, frozen=True)
class Room:
    conv: int
    name: str
    topic: str
    owner: str | None
    """Who created it; None for the lobby."""
    public: bool
    """Whether anyone may join, or only those invited."""


@dataclass(slots=True, frozen=True)
class ReadState:
    """How far a user has read one conversation."""

    conv: int
    room: str | None
    """The room's name; None for a private conversation."""
    with_user: str | None
    """The other user of a private conversation; None for a room."""
    read_upto: int
    """The mid of the read marker."""
    unread: int
    """Messages after it."""
    last_mid: int
    """The conversation's newest message; 0 if it has none."""

    def as_data(self) -> dict[str, Any]:
        where = {"room": self.room} if self.room is not None else {"with": self.with_user}
        return where | {
            "unread": self.unread,
            "read_upto": self.read_upto,
            "last_mid": self.last_mid,
        }


@dataclass(slots=True, frozen=True)
class Page:
    """A page of a conversation, oldest first, and whether there is more before it."""

    messages: list[StoredMessage]
    more: bool


@dataclass(slots=True, frozen=True)
class Backlog:
    """What a login replays: the mailbox's messages with `after` < mid <= `upto`."""

    after: int
    upto: int
    count: int
    """How many messages that is (at most the replay limit)."""
    skipped: int
    """Older unacknowledged messages left out (over the replay limit)."""
    all_rooms: bool = True
    """Whether it holds every room the user is in, or only the lobby (for a client that
    knows no other room)."""


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
        room: Room | None = None,
        cid: str | None = None,
        mailbox_limit: int,
    ) -> StoredMessage:
        """Store a message and commit before returning: the caller may acknowledge it.

        A message goes to `recipient` (private), or into `room` (neither: the lobby).
        With a `cid` the sender used before (within a day), nothing is stored: the
        original comes back with `duplicate` set. A private message to a recipient who
        already has `mailbox_limit` unread ones raises `ChatError(mailbox_full)`.
        """

    async def backlog(self, username: str, limit: int, all_rooms: bool = True) -> Backlog:
        """Where the user's unacknowledged messages are: the newest `limit` of them (in
        private and in every room they are in, or only the lobby if not `all_rooms`)."""

    async def backlog_page(
        self, username: str, after: int, upto: int, limit: int, all_rooms: bool = True
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
        room: Room | None = None,
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

    # -- people -------------------------------------------------------------------------

    async def profile(self, username: str) -> Profile | None:
        """The profile of the user registered as `username` (the exact name)."""

    async def set_profile(
        self, username: str, display_name: str | None, bio: str | None
    ) -> Profile:
        """Change what is given (None: leave it) of `username`'s profile."""

    async def set_status(self, username: str, status: str, text: str) -> None:
        """Keep the status `username` chose, for their next sessions too."""

    async def directory(self, query: str, after: str, limit: int) -> list[Profile]:
        """Registered users by name after `after`, those whose name or display name
        holds `query` (ASCII letters in any case), the first `limit`."""

    async def contact_add(self, username: str, other: str) -> tuple[str, bool]:
        """`username` asks `other` to be a contact: the pair's state after it
        (`requested`, or `contact` if `other` had asked already or they are contacts),
        and whether anything changed."""

    async def contact_answer(self, username: str, other: str, accept: bool) -> bool:
        """Accept (or decline) `other`'s request to `username`; whether there was one."""

    async def contact_remove(self, username: str, other: str) -> bool:
        """End the pair's contact, or take back `username`'s request; whether there
        was either."""

    async def contacts(self, username: str) -> list[tuple[str, str]]:
        """Everyone `username` is linked to, by name, with how: `contact`, `asked`
        (`username` asked them) or `asking` (they asked `username`)."""

    # -- conversations ------------------------------------------------------------------

    def find_room(self, name: str) -> Room | None:
        """The room called `name` (any case or look-alike spelling finds it)."""

    def lobby(self) -> Room: ...

    def all_rooms(self) -> list[Room]:
        """Every room, by name."""

    async def create_room(
        self, name: str, owner: str, topic: str, public: bool, *, room_limit: int, owned_limit: int
    ) -> Room:
        """Create a room owned (and joined) by `owner`: `room_taken`, `too_many_rooms`."""

    async def join_room(self, room: Room, username: str, *, room_limit: int) -> bool:
        """Make `username` a member, with nothing unread; whether they were not one yet."""

    async def leave_room(self, room: Room, username: str) -> bool:
        """Whether `username` was a member (and no longer is)."""

    async def invite(self, room: Room, username: str, by: str) -> None: ...

    async def is_invited(self, room: Room, username: str) -> bool: ...

    async def set_topic(self, room: Room, topic: str) -> Room: ...

    async def memberships(self) -> dict[int, set[str]]:
        """The members of every room but the lobby (whose members are all users)."""

    def user_count(self) -> int:
        """How many users there are (the lobby's members)."""

    async def room_members(self, room: Room, limit: int) -> list[str]:
        """The first `limit` members of the room, by name."""

    async def pair(self, a: str, b: str, create: bool = True) -> int | None:
        """The private conversation of `a` and `b` (made if new and `create`)."""

    async def history(self, conv: int, before: int, limit: int) -> Page:
        """The `limit` messages of `conv` before mid `before`, oldest first."""

    async def files(self, conv: int, before: int, limit: int) -> Page:
        """The messages that announced the `limit` files of `conv` before mid `before`."""

    async def search(
        self, username: str, text: str, conv: int | None, limit: int
    ) -> list[tuple[StoredMessage, str]]:
        """Messages with every word of `text` that `username` may read (in `conv` only,
        if given), newest first, each with a snippet."""

    async def read_states(self, username: str) -> list[ReadState]:
        """How far `username` has read each of their conversations."""

    async def mark_read(self, username: str, conv: int, upto: int) -> ReadState | None:
        """Move the read marker forward to the conversation's newest message up to mid
        `upto` (never back); None if not a member."""

    async def close(self) -> None:
        """Finish pending writes and release the database."""
