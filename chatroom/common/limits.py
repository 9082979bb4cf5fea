"""Every limit and default of the protocol and the server, in one place.

The server's command line, the `hello` reply and docs/protocol.md all read from here.
"""

from dataclasses import asdict, dataclass

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


@dataclass(slots=True, frozen=True)
class Limits:
    """The tunable limits of one server; `hello` sends them to the client as a map."""

    max_frame: int = 1024 * 1024
    """Largest frame body accepted, in bytes."""
    max_text: int = 4096
    """Longest `text` of a broadcast or private message, in characters."""
    idle_timeout: float = 90.0
    """Seconds a connection may stay silent before the server says `bye {reason: idle}`."""
    replay_limit: int = 1000
    """Most unacknowledged messages replayed at login; older ones are left out."""
    bcrypt_cost: int = 12
    """bcrypt work factor for password hashes (minimum 4)."""
    max_file_size: int = 100 * 1024 * 1024
    """Largest file a user may send, in bytes."""
    file_quota: int = 1024 * 1024 * 1024
    """Bytes of files one user may have stored on the server, in all."""

    def as_data(self) -> dict[str, float | int]:
        """The limits a client may need to know, as sent in the `hello` reply."""
        data = asdict(self)
        del data["bcrypt_cost"]
        data |= {
            "max_chunk": MAX_CHUNK,
            "username_min": USERNAME_MIN,
            "username_max": USERNAME_MAX,
            "password_min": PASSWORD_MIN,
        }
        return data


BCRYPT_COST_MIN = 4
BCRYPT_COST_MAX = 31
