"""What the client library's requests return: small dataclasses read from reply data.

They live apart from the connection so that `connection` stays about frames and
futures, and each new request adds a value here rather than parsing inline.
"""

from dataclasses import dataclass, field, fields
from typing import Any

from chatroom.common.kinds import FIRST_VERSION
from chatroom.common.limits import MAX_CHUNK, Limits
from chatroom.common.messages import FilePush, MessagePush
from chatroom.common.readable import Unreadable, read, shown

DEFAULTS = Limits()


def offered_features(hello: dict[str, Any]) -> frozenset[str]:
    """What a server offers beyond the protocol's first version, from its `hello` reply:
    nothing, for a server of that first version, which lists no `features`."""
    features = hello.get("features")
    if features is None:
        return frozenset()
    if not isinstance(features, list):  # a careless server's
        raise Unreadable(f"the hello reply's features is {shown(features)}, not a list")
    return frozenset(feature for feature in features if isinstance(feature, str))


def beyond_first_version(kind: str, data: dict[str, Any]) -> str | None:
    """Why a server of the protocol's first version must not be sent this request, if it
    must not: it knows only the requests of sections 4 to 6, and it would ignore a `room`,
    taking a room's message or file as one for the whole group."""
    if kind not in FIRST_VERSION:
        return f"the server speaks the protocol's first version: no request '{kind}'"
    if "room" in data:  # it would send the room's message to everyone
        return f"the server speaks the protocol's first version: no rooms ({kind})"
    return None


@dataclass(slots=True, frozen=True)
class ConversationState:
    """Where the user is in one conversation: a `room`, or the private one `with_user`."""

    room: str | None
    with_user: str | None
    unread: int
    read_upto: int
    last_mid: int | None = None
    """The conversation's newest message (0 if none); not in a `read` reply."""

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "ConversationState":
        """From a login's `conversations` entry, or a `read` reply (`upto` there)."""
        upto = data.get("read_upto", data.get("upto", 0))
        return cls(data.get("room"), data.get("with"), data["unread"], upto, data.get("last_mid"))


@dataclass(slots=True, frozen=True)
class LoginReply:
    username: str
    """The name as registered (the server's spelling, whatever case was typed)."""
    online: list[str]
    offline: int
    """How many unacknowledged messages follow as pushes with `offline: true`."""
    skipped: int
    """How many older unacknowledged messages were left out (over the replay limit)."""
    resume_token: str | None = None
    """From `login` (not `resume`): logs this user in again without the password."""
    conversations: list[ConversationState] = field(default_factory=list)
    """Each room the user is in and each private conversation, with its unread count."""
    status: str = "online"
    """The status the user chose (it outlives their sessions): see `status_set`."""
    status_text: str = ""
    statuses: dict[str, dict[str, str]] | None = None
    """`{status, status_text}` of those in `online` whose status is not plain `online`
    (as in `presence_batch`); None from a server from before it."""

    @classmethod
    def from_data(cls, reply: dict[str, Any]) -> "LoginReply":
        return cls(
            reply["username"],
            reply["online"],
            reply.get("offline", 0),
            reply.get("skipped", 0),
            reply.get("resume_token"),
            [ConversationState.from_data(c) for c in reply.get("conversations", [])],
            reply.get("status", "online"),
            reply.get("status_text", ""),
            reply.get("statuses"),
        )


@dataclass(slots=True, frozen=True)
class Sent:
    mid: int
    ts: float
    delivered: bool = True
    """For a private message: whether the recipient was online to receive it now."""

    @classmethod
    def from_data(cls, reply: dict[str, Any]) -> "Sent":
        return cls(reply["mid"], reply["ts"], reply.get("delivered", True))


@dataclass(slots=True, frozen=True)
class ServerLimits:
    """The limits from the server's `hello` that this library and its programs use."""

    idle_timeout: float = DEFAULTS.idle_timeout
    max_frame: int = DEFAULTS.max_frame
    max_chunk: int = MAX_CHUNK
    max_text: int = DEFAULTS.max_text
    max_file_size: int | None = None
    """The largest file the server takes (None: it does not say)."""

    @classmethod
    def from_data(cls, limits: dict[str, Any]) -> "ServerLimits":
        return cls(**{f.name: limits[f.name] for f in fields(cls) if f.name in limits})


@dataclass(slots=True, frozen=True)
class RoomInfo:
    """A room as `rooms`, `room_create`, `room_join` and `room_topic` describe it."""

    room: str
    topic: str
    owner: str | None
    """Who created it; None for the lobby."""
    public: bool
    joined: bool | None = None
    """From `rooms`: whether the user is in it; from `room_join`: whether this request
    joined (False if already a member). None where the reply does not say."""
    members: int | None = None
    """From `rooms` only."""
    unread: int | None = None
    """From `rooms`, for rooms the user is in."""
    read_upto: int | None = None
    last_mid: int | None = None

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "RoomInfo":
        return cls(
            data["room"],
            data.get("topic", ""),
            data.get("owner"),
            bool(data.get("public", True)),
            data.get("joined"),
            data.get("members"),
            data.get("unread"),
            data.get("read_upto"),
            data.get("last_mid"),
        )


@dataclass(slots=True, frozen=True)
class Member:
    username: str
    online: bool

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "Member":
        return cls(data["username"], data["online"])


@dataclass(slots=True, frozen=True)
class Members:
    """A room's members, by name; `more` when the server listed only the first ones."""

    room: str
    members: list[Member]
    more: bool


@dataclass(slots=True, frozen=True)
class Found:
    """A search result: the message as it was pushed, and a `snippet` of its text with
    the words found marked « »."""

    push: MessagePush | FilePush
    snippet: str


def conversation_item(item: dict[str, Any]) -> MessagePush | FilePush:
    """One entry of a `history` or `search` reply (a push's data plus its `type`), as the
    push it came as."""
    if item.get("type") == "file":
        return read(FilePush, item, "a file in the reply")
    return read(MessagePush, item, "a message in the reply")
