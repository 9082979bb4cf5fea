"""Every limit and default of the protocol and the server, in one place.

The server's command line, the `hello` reply and docs/protocol.md all read from here.
"""

from dataclasses import dataclass, field, fields
from typing import Any

PROTOCOL_VERSION = 1
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8888

USERNAME_MIN = 3
USERNAME_MAX = 32
USERNAME_PUNCTUATION = "_-."
PASSWORD_MIN = 8

HEADER_SIZE = 4
"""Bytes of the big-endian length prefix in front of every frame."""

MAX_CHUNK = 64 * 1024
"""Most bytes of file data in one `file_chunk` or `file_get` reply, if the frame allows."""

CHUNK_ENVELOPE = 128
"""Bytes a `file_chunk` frame may spend around its data, so that `max_chunk` bytes of data
always fit in `max_frame`. With msgpack's smallest forms the envelope takes at most 74:
    map of 3 (1) + "type" (5) + "file_chunk" (11) + "id" (3) + int 64 (9)
    + "data" (5) + map of 3 (1) + "fid" (4) + int 64 (9) + "offset" (7) + int 64 (9)
    + "data" (5) + bin 32 header (5) = 74,
and 110 if an encoder widens all 7 strings to str 32 (+4 each) and both maps to map 32
(+4 each). The `file_get` reply around the same data takes at most 58."""

CID_MAX = 64
"""Longest client id (`cid`) of a request, in characters."""

FILE_NAME_MAX = 120
"""Longest file name kept for display, in characters (the extension is kept)."""

INTEGER_MAX = 2**63 - 1
"""Largest integer a request field may carry. msgpack goes up to 2**64 - 1, but a fid or an
`upto` is looked up in SQLite, whose integers are signed 64-bit: a larger one would fail
inside the store, as a server error, instead of at the edge as the client's mistake."""


LOBBY = "lobby"
"""The room every user is in: the group of protocol version 1."""

TOPIC_MAX = 200
"""Longest room topic, in characters."""

PAGE_DEFAULT = 50
"""Messages (or files) in a `history` or `files` page when the request gives no `limit`."""
PAGE_MAX = 200
"""Most messages (or files) in one `history` or `files` page."""
SEARCH_DEFAULT = 20
SEARCH_MAX = 100
"""Most results of one `search`."""
QUERY_MAX = 200
"""Longest search query, in characters."""

DISPLAY_NAME_MAX = 64
"""Longest display name, in characters."""
BIO_MAX = 500
"""Longest profile bio, in characters."""
STATUS_TEXT_MAX = 100
"""Longest status text (`status_set`), in characters."""
USERS_DEFAULT = 50
USERS_MAX = 200
"""Most users in one page of the directory (`users` with `limit`)."""

SANCTION_MAX = 366 * 24 * 3600
"""Longest mute or timed ban, in seconds (a year); a ban without `seconds` has no end."""
REASON_MAX = 200
"""Longest reason given for a kick, mute or ban, in characters."""
AUDIT_DEFAULT = 50
AUDIT_MAX = 200
"""Most entries of the audit log in one `audit` reply."""

COMPRESS_MIN = 1024
"""Smallest `data` (encoded, in bytes) the server compresses for a client that asked."""

BCRYPT_COST_MIN = 4
BCRYPT_COST_MAX = 31


def setting(
    default: float,
    description: str,
    *,
    flag: bool = True,
    minimum: float | None = None,
    maximum: float | None = None,
    public: bool = True,
) -> Any:
    """A field of `Limits`: its default, what it means, and whether the server's command
    line has a flag for it (`--max-frame` for `max_frame`) and `hello` reports it."""
    return field(
        default=default,
        metadata={
            "description": description,
            "flag": flag,
            "minimum": minimum,
            "maximum": maximum,
            "public": public,
        },
    )


@dataclass(slots=True, frozen=True)
class Limits:
    """The tunable limits of one server; `hello` sends the public ones to the client."""

    max_frame: int = setting(1024 * 1024, "largest frame body accepted, in bytes", minimum=1024)
    max_text: int = setting(4096, "longest text of a message, in characters", flag=False, minimum=1)
    idle_timeout: float = setting(
        90.0, "seconds of silence before a connection gets bye {reason: idle}", minimum=0.01
    )
    replay_limit: int = setting(
        1000, "most unacknowledged messages replayed at login", flag=False, minimum=1
    )
    max_file_size: int = setting(
        100 * 1024 * 1024, "largest file a user may send, in bytes", minimum=0
    )
    file_quota: int = setting(
        1024 * 1024 * 1024, "bytes of files one user may have stored", minimum=0
    )
    login_timeout: float = setting(
        30.0, "seconds a connection may take to log in before it is closed", minimum=0.01
    )
    frame_timeout: float = setting(
        30.0,
        "seconds a frame may take to arrive in full once its first byte has come",
        minimum=0.01,
    )
    max_write_buffer: int = setting(
        1024 * 1024,
        "bytes queued for a client that does not read before it is dropped as a slow consumer",
        # The server stops reading a client's requests at half of this, so the rest is
        # room for the replies and pushes already on their way (a file chunk is 64 KiB).
        minimum=64 * 1024,
        public=False,
    )
    max_connections: int = setting(
        20_000, "connections the server accepts at once", minimum=1, public=False
    )
    max_connections_per_ip: int = setting(
        1000, "connections accepted at once from one address", minimum=1, public=False
    )
    message_rate: float = setting(
        20.0, "messages (and files) a connection may send per second, on average", minimum=0.01
    )
    message_burst: int = setting(
        40, "messages a connection may send at once before the rate applies", minimum=1
    )
    login_attempts: int = setting(
        5,
        "failed logins per username or address before each further one locks it out "
        "for twice as long (1 s, 2 s, 4 s, ...)",
        minimum=1,
        public=False,
    )
    login_lockout_max: float = setting(
        300.0, "longest lockout after failed logins, in seconds", minimum=1, public=False
    )
    register_rate: float = setting(
        0.1,
        "accounts one address may register per second, on average (0.1: one every 10 s)",
        minimum=0.0001,
        public=False,
    )
    register_burst: int = setting(
        20,
        "accounts one address may register at once before the rate applies",
        minimum=1,
        public=False,
    )
    mailbox_limit: int = setting(
        10_000,
        "unread private messages (and files) one user may have; past it, senders get mailbox_full",
        minimum=1,
    )
    room_limit: int = setting(
        500, "rooms one user may be in at once (the lobby included)", minimum=1
    )
    owned_room_limit: int = setting(50, "rooms one user may create", minimum=0)
    max_uploads: int = setting(8, "unfinished uploads one user may have at once", minimum=1)
    upload_ttl: float = setting(
        24 * 3600.0,
        "seconds an unfinished upload is kept after its last chunk before it is deleted "
        "(freeing its quota)",
        minimum=1,
    )
    cid_window: float = setting(
        24 * 3600.0,
        "seconds the server remembers a request's cid, to answer a repeat with the original",
        flag=False,
        minimum=1,
    )
    resume_ttl: float = setting(7 * 24 * 3600.0, "seconds a resume token stays valid", minimum=1)
    bcrypt_cost: int = setting(
        12,
        "bcrypt work factor for password hashes",
        minimum=BCRYPT_COST_MIN,
        maximum=BCRYPT_COST_MAX,
        public=False,
    )

    @property
    def max_chunk(self) -> int:
        """Most bytes of file data in one `file_chunk` or `file_get` reply: 64 KiB, or less
        when a small `max_frame` could not hold that much and its envelope."""
        return min(MAX_CHUNK, self.max_frame - CHUNK_ENVELOPE)

    def as_data(self) -> dict[str, float | int]:
        """The limits a client may need to know, as sent in the `hello` reply."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.metadata["public"]}
        data |= {
            "max_chunk": self.max_chunk,
            "username_min": USERNAME_MIN,
            "username_max": USERNAME_MAX,
            "password_min": PASSWORD_MIN,
            "topic_max": TOPIC_MAX,
            "page_max": PAGE_MAX,
            "search_max": SEARCH_MAX,
            "query_max": QUERY_MAX,
            "display_name_max": DISPLAY_NAME_MAX,
            "bio_max": BIO_MAX,
            "status_text_max": STATUS_TEXT_MAX,
            "users_max": USERS_MAX,
            "reason_max": REASON_MAX,
            "sanction_max": SANCTION_MAX,
            "audit_max": AUDIT_MAX,
        }
        return data
