"""The pushes as small dataclasses (their type names are in `kinds`, the envelope around
every frame is in `envelope`).
"""

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Self

from chatroom.common.codec import decode_body, encode
from chatroom.common.kinds import (
    CHOSEN_STATUSES,
    ByeReason,
    PushType,
    ReplyType,
    RequestType,
    Status,
)
from chatroom.common.limits import HEADER_SIZE

__all__ = [  # the names on the wire, for those who import them from here
    "CHOSEN_STATUSES",
    "ByeReason",
    "PushType",
    "ReplyType",
    "RequestType",
    "Status",
]


# The request and the message pushes are built for every message that passes through
# the server, so they are not frozen: a frozen dataclass sets each field through
# object.__setattr__, which makes building one about four times slower (1.0 vs 0.23 us).


class Push:
    """Base of the frames the server sends on its own; each knows its wire form."""

    __slots__ = ()
    TYPE: ClassVar[PushType]

    def as_data(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Self:
        raise NotImplementedError

    def envelope(self) -> dict[str, Any]:
        return {"type": self.TYPE.value, "data": self.as_data()}

    def frame(self) -> bytes:
        """Its frame on the wire, made anew each time (`Framed` makes it once)."""
        return encode(self.envelope())

    def message_mid(self) -> int | None:
        """The mid of the chat message it is, if it is one."""
        return None


class Framed(Push):
    """`push`, encoded once however many sessions and nodes it goes to."""

    __slots__ = ("_frame", "push")

    def __init__(self, push: Push) -> None:
        self.push = push
        self._frame = b""

    def envelope(self) -> dict[str, Any]:
        return self.push.envelope()

    def frame(self) -> bytes:
        if not self._frame:
            self._frame = self.push.frame()
        return self._frame

    def message_mid(self) -> int | None:
        return self.push.message_mid()


class Relayed(Push):
    """A push as another node (of a cluster) framed it: its frame, as it goes to every session."""

    __slots__ = ("_frame", "_mid")

    def __init__(self, frame: bytes, mid: int | None = None) -> None:
        self._frame = frame
        self._mid = mid

    def envelope(self) -> dict[str, Any]:
        return decode_body(self._frame[HEADER_SIZE:])

    def frame(self) -> bytes:
        return self._frame

    def message_mid(self) -> int | None:
        return self._mid


@dataclass(slots=True)
class MessagePush(Push):
    """A chat message: to a room (`room` is its name, `to` is None), or private (`to` is
    the recipient's username, `room` is None)."""

    TYPE: ClassVar[PushType] = PushType.MESSAGE
    mid: int
    sender: str
    to: str | None
    text: str
    ts: float
    offline: bool = False
    room: str | None = None
    deleted: bool = False
    """Deleted by its author or a moderator: `text` is empty (sent only when true)."""
    announcement: bool = False
    """A moderator's announcement to everyone (sent only when true)."""

    def as_data(self) -> dict[str, Any]:
        data = {
            "mid": self.mid,
            "from": self.sender,
            "to": self.to,
            "room": self.room,
            "text": self.text,
            "ts": self.ts,
            "offline": self.offline,
        }
        if self.deleted:
            data["deleted"] = True
        if self.announcement:
            data["announcement"] = True
        return data

    def message_mid(self) -> int | None:
        return self.mid

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Self:
        return cls(
            mid=data["mid"],
            sender=data["from"],
            to=data.get("to"),
            text=data["text"],
            ts=data["ts"],
            offline=bool(data.get("offline", False)),
            room=data.get("room"),
            deleted=bool(data.get("deleted", False)),
            announcement=bool(data.get("announcement", False)),
        )


@dataclass(slots=True)
class FileInfo:
    """What a file is: the `file_info` reply, and the heart of every `file` push."""

    fid: int
    mid: int | None
    """The message that announced it; None while it is still being uploaded."""
    sender: str
    to: str | None
    name: str
    size: int
    sha256: str
    room: str | None = None
    """The room it was sent to; None for a private file."""

    def as_data(self) -> dict[str, Any]:
        return {
            "fid": self.fid,
            "mid": self.mid,
            "from": self.sender,
            "to": self.to,
            "room": self.room,
            "name": self.name,
            "size": self.size,
            "sha256": self.sha256,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Self:
        return cls(
            data["fid"],
            data["mid"],
            data["from"],
            data.get("to"),
            data["name"],
            data["size"],
            data["sha256"],
            data.get("room"),
        )


@dataclass(slots=True)
class FilePush(FileInfo, Push):
    """A file was sent: fetch it with `file_get`. `to` is None for the group."""

    TYPE: ClassVar[PushType] = PushType.FILE
    ts: float = 0.0
    offline: bool = False

    def as_data(self) -> dict[str, Any]:
        return FileInfo.as_data(self) | {"ts": self.ts, "offline": self.offline}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Self:
        f = FileInfo.from_data(data)
        offline = bool(data.get("offline", False))
        return cls(
            f.fid, f.mid, f.sender, f.to, f.name, f.size, f.sha256, f.room, data["ts"], offline
        )


@dataclass(slots=True, frozen=True)
class PresencePush(Push):
    """A user came online (their first session), went offline (their last one ended, or
    they went invisible), or changed their status while online."""

    TYPE: ClassVar[PushType] = PushType.PRESENCE
    username: str
    online: bool
    status: str = Status.ONLINE
    """`online`, `away` or `busy` while online; `offline` when not."""
    status_text: str = ""
    """What they said with their status (`status_set`)."""

    def as_data(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "online": self.online,
            "status": self.status,
            "status_text": self.status_text,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Self:
        online = bool(data["online"])
        status = data.get("status") or (Status.ONLINE if online else Status.OFFLINE)
        return cls(data["username"], online, status, data.get("status_text") or "")


@dataclass(slots=True, frozen=True)
class PresenceBatchPush(Push):
    """Several users came online or went offline at about the same time (a login storm,
    a restart): one frame instead of one `presence` each."""

    TYPE: ClassVar[PushType] = PushType.PRESENCE_BATCH
    online: list[str]
    offline: list[str]
    statuses: dict[str, dict[str, str]] = field(default_factory=dict)
    """`{status, status_text}` of those in `online` whose status is not plain `online`."""

    def as_data(self) -> dict[str, Any]:
        return {"online": self.online, "offline": self.offline, "statuses": self.statuses}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Self:
        return cls(data["online"], data["offline"], data.get("statuses") or {})


@dataclass(slots=True, frozen=True)
class ByePush(Push):
    """The server is about to close this connection, and why."""

    TYPE: ClassVar[PushType] = PushType.BYE
    reason: str

    def as_data(self) -> dict[str, Any]:
        return {"reason": self.reason}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Self:
        return cls(reason=data["reason"])


@dataclass(slots=True, frozen=True)
class FieldsPush(Push):
    """Base of a push whose fields are its data: what happens in a room, to a contact."""

    def as_data(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Self:
        return cls(**{f.name: data.get(f.name) for f in fields(cls)})


@dataclass(slots=True, frozen=True)
class JoinedPush(FieldsPush):
    """`username` joined `room`."""

    TYPE: ClassVar[PushType] = PushType.JOINED
    room: str
    username: str


@dataclass(slots=True, frozen=True)
class LeftPush(FieldsPush):
    """`username` left `room`."""

    TYPE: ClassVar[PushType] = PushType.LEFT
    room: str
    username: str


@dataclass(slots=True, frozen=True)
class TopicPush(FieldsPush):
    """`by` set the topic of `room`."""

    TYPE: ClassVar[PushType] = PushType.TOPIC
    room: str
    topic: str
    by: str


@dataclass(slots=True, frozen=True)
class InvitedPush(FieldsPush):
    """`by` invited you to `room` (sent to the invited user)."""

    TYPE: ClassVar[PushType] = PushType.INVITED
    room: str
    by: str


@dataclass(slots=True, frozen=True)
class ReadPush(Push):
    """You read a conversation (a `room`, or the private one `with` a user) up to mid
    `upto` on another session: `unread` messages are left after it."""

    TYPE: ClassVar[PushType] = PushType.READ
    room: str | None
    with_user: str | None
    upto: int
    unread: int

    def as_data(self) -> dict[str, Any]:
        where = {"room": self.room} if self.room is not None else {"with": self.with_user}
        return where | {"upto": self.upto, "unread": self.unread}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Self:
        return cls(data.get("room"), data.get("with"), data["upto"], data["unread"])


@dataclass(slots=True, frozen=True)
class ContactPush(FieldsPush):
    """`username` asked you to be a contact (`event`: `request`), or accepted, declined
    or ended it (`accepted`, `declined`, `removed`)."""

    TYPE: ClassVar[PushType] = PushType.CONTACT
    username: str
    event: str


@dataclass(slots=True, frozen=True)
class ModeratedPush(FieldsPush):
    """A moderator (`by`) acted on you: `action` is `kick`, `mute`, `unmute`, `ban` or
    `unban`, in `room` (None: the whole server), until a unix time (`until`, None: until
    lifted), with a `reason` (may be empty)."""

    TYPE: ClassVar[PushType] = PushType.MODERATED
    action: str
    by: str
    room: str | None
    until: float | None
    reason: str


@dataclass(slots=True, frozen=True)
class DeletedPush(FieldsPush):
    """Message `mid` (written by `author` in `room`, or privately `to`) was deleted by `by`."""

    TYPE: ClassVar[PushType] = PushType.DELETED
    mid: int
    author: str
    room: str | None
    to: str | None
    by: str


PUSH_TYPES: dict[str, type[Push]] = {
    push.TYPE.value: push
    for push in (
        MessagePush,
        FilePush,
        PresencePush,
        PresenceBatchPush,
        ByePush,
        JoinedPush,
        LeftPush,
        TopicPush,
        InvitedPush,
        ReadPush,
        ContactPush,
        ModeratedPush,
        DeletedPush,
    )
}
