"""The protocol's error codes and the one exception type that carries them.

A `ChatError` holds the snake_case code that goes on the wire; the server's connection
loop is the only place that turns it into an `error` frame, and the client library raises
it when an `error` reply arrives.
"""

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    BAD_REQUEST = "bad_request"
    UNKNOWN_TYPE = "unknown_type"
    UNSUPPORTED_VERSION = "unsupported_version"
    NOT_LOGGED_IN = "not_logged_in"
    ALREADY_LOGGED_IN = "already_logged_in"
    INVALID_USERNAME = "invalid_username"
    WEAK_PASSWORD = "weak_password"
    USERNAME_TAKEN = "username_taken"
    BAD_CREDENTIALS = "bad_credentials"
    NO_SUCH_USER = "no_such_user"
    EMPTY_TEXT = "empty_text"
    TEXT_TOO_LONG = "text_too_long"
    FRAME_TOO_LARGE = "frame_too_large"
    RATE_LIMITED = "rate_limited"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    NO_SUCH_FILE = "no_such_file"
    FILE_TOO_LARGE = "file_too_large"
    QUOTA_EXCEEDED = "quota_exceeded"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    FORBIDDEN = "forbidden"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    INVALID_TOKEN = "invalid_token"
    MAILBOX_FULL = "mailbox_full"
    TOO_MANY_UPLOADS = "too_many_uploads"
    STORAGE_FULL = "storage_full"
    NO_SUCH_ROOM = "no_such_room"
    INVALID_ROOM = "invalid_room"
    ROOM_TAKEN = "room_taken"
    TOO_MANY_ROOMS = "too_many_rooms"
    NO_SUCH_REQUEST = "no_such_request"
    NO_SUCH_MESSAGE = "no_such_message"
    MUTED = "muted"
    BANNED = "banned"
    SERVER_ERROR = "server_error"


FATAL_CODES = frozenset({ErrorCode.FRAME_TOO_LARGE, ErrorCode.TOO_MANY_CONNECTIONS})
"""Codes after which the server closes the connection: the byte stream cannot be trusted."""


class ChatError(Exception):
    """An error with its protocol code, a human message and optional extra fields."""

    def __init__(self, code: str, message: str, *, fatal: bool = False, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fatal = fatal or code in FATAL_CODES
        self.extra = extra

    def as_data(self) -> dict[str, Any]:
        """The `data` map of the `error` frame that reports this error."""
        return {"code": str(self.code), "message": self.message, **self.extra}

    def __repr__(self) -> str:
        return f"ChatError({self.code!r}, {self.message!r})"
