"""The records the store returns (its interface, `Store`, is in `interface`)."""

from dataclasses import dataclass
from typing import Any

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
    deleted: bool = False
    """Deleted since: no text and no file are left of it."""
    announcement: bool = False

    def as_push(self, offline: bool = False) -> MessagePush | FilePush:
        if self.file is not None and not self.deleted:
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
            self.mid,
            self.sender,
            self.recipient,
            "" if self.deleted else self.text,
            self.ts,
            offline,
            self.room,
            self.deleted,
            self.announcement,
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
class Arrival:
    """What a login needs to know of a user, read at once: their profile, whether they
    are banned from the server (and until when), who asked to be their contact, and
    where their mail is acknowledged up to."""

    profile: Profile
    banned: bool
    banned_until: float | None
    """None: until lifted (when `banned`)."""
    waiting: list[str]
    """Who asked to be their contact and waits for an answer."""
    acked_upto: int
    """The newest mid they acknowledged (it only moves forward: if it moves while they
    log in, their backlog starts a little early, and loses nothing)."""


@dataclass(slots=True, frozen=True)
class Standing:
    """What a login or resume looks at again once its session is in: the user's password
    now, whether the session's resume token is still good, and whether they are banned."""

    password_hash: bytes
    token_valid: bool
    banned: bool
    banned_until: float | None


@dataclass(slots=True, frozen=True)
class AuditEntry:
    """One moderation action, as the audit log keeps it."""

    id: int
    ts: float
    actor: str
    action: str
    target: str
    room: str
    detail: str

    def as_data(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": self.ts,
            "by": self.actor,
            "action": self.action,
            "username": self.target,
            "room": self.room,
            "detail": self.detail,
        }


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
