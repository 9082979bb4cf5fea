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
"""Most bytes of file data in one `file_chunk` or `file_get` reply."""

FILE_NAME_MAX = 120
"""Longest file name kept for display, in characters (the extension is kept)."""

INTEGER_MAX = 2**63 - 1
"""Largest integer a request field may carry. msgpack goes up to 2**64 - 1, but a fid or an
`upto` is looked up in SQLite, whose integers are signed 64-bit: a larger one would fail
inside the store, as a server error, instead of at the edge as the client's mistake."""


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
    max_write_buffer: int = setting(
        1024 * 1024,
        "bytes queued for a client that does not read before it is dropped as a slow consumer",
        minimum=1024,
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
    resume_ttl: float = setting(7 * 24 * 3600.0, "seconds a resume token stays valid", minimum=1)
    bcrypt_cost: int = setting(
        12,
        "bcrypt work factor for password hashes",
        minimum=BCRYPT_COST_MIN,
        maximum=BCRYPT_COST_MAX,
        public=False,
    )

    def as_data(self) -> dict[str, float | int]:
        """The limits a client may need to know, as sent in the `hello` reply."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.metadata["public"]}
        data |= {
            "max_chunk": MAX_CHUNK,
            "username_min": USERNAME_MIN,
            "username_max": USERNAME_MAX,
            "password_min": PASSWORD_MIN,
        }
        return data
