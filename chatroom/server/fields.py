"""Checked access to a request's `data` map: each getter validates one field or raises.

Handlers read their fields through this, so every wrong type or missing field becomes a
`bad_request` (or a more precise code) with a message naming the field.
"""

from typing import Any, TypeVar

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.limits import CID_MAX, INTEGER_MAX, PASSWORD_MIN
from chatroom.common.names import normalize_room, normalize_username

T = TypeVar("T")


class Fields:
    """The `data` of one request."""

    def __init__(self, data: dict[str, Any], max_text: int) -> None:
        self._data = data
        self._max_text = max_text

    def _get(self, name: str, kind: type[T], kind_name: str) -> T:
        value = self._data.get(name)
        if value is None:
            raise ChatError(ErrorCode.BAD_REQUEST, f"missing field {name!r}")
        # bool is a subclass of int, but true is not a number on the wire.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ChatError(ErrorCode.BAD_REQUEST, f"field {name!r} must be {kind_name}")
        return value

    def strings(self, name: str) -> list[str]:
        """An optional array of strings (empty when absent)."""
        value = self._data.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ChatError(ErrorCode.BAD_REQUEST, f"field {name!r} must be an array of strings")
        return value

    def has(self, name: str) -> bool:
        """Whether the field is there (and not nil)."""
        return self._data.get(name) is not None

    def string(self, name: str) -> str:
        return self._get(name, str, "a string")

    def integer(self, name: str, minimum: int = 0, maximum: int = INTEGER_MAX) -> int:
        """An integer from `minimum` to `maximum` (at most `INTEGER_MAX`, the most the
        store can hold)."""
        value = self._get(name, int, "an integer")
        if value < minimum:
            raise ChatError(ErrorCode.BAD_REQUEST, f"field {name!r} must be at least {minimum}")
        if value > maximum:
            raise ChatError(ErrorCode.BAD_REQUEST, f"field {name!r} must be at most {maximum}")
        return value

    def optional_username(self, name: str) -> str | None:
        """A username field that may be nil (meaning the group)."""
        return None if self._data.get(name) is None else self.username(name)

    def optional_room(self, name: str) -> str | None:
        """A room name field that may be absent or nil; `invalid_room` if it is not one."""
        return None if self._data.get(name) is None else normalize_room(self.string(name))

    def room(self, name: str) -> str:
        return normalize_room(self.string(name))

    def optional_integer(
        self, name: str, default: int, minimum: int = 0, maximum: int = INTEGER_MAX
    ) -> int:
        if self._data.get(name) is None:
            return default
        return self.integer(name, minimum, maximum)

    def limit(self, name: str, default: int, most: int) -> int:
        """A page size: 1 to `most`, `default` when absent."""
        return self.optional_integer(name, default, minimum=1, maximum=most)

    def optional_bool(self, name: str, default: bool) -> bool:
        value = self._data.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ChatError(ErrorCode.BAD_REQUEST, f"field {name!r} must be true or false")
        return value

    def short_text(self, name: str, most: int, default: str | None = None) -> str:
        """A string of at most `most` characters (`default` when absent, if given)."""
        if default is not None and self._data.get(name) is None:
            return default
        value = self.string(name)
        if len(value) > most:
            raise ChatError(
                ErrorCode.TEXT_TOO_LONG,
                f"field {name!r} has {len(value)} characters; the limit is {most}",
                limit=most,
            )
        return value

    def optional_cid(self, name: str = "cid") -> str | None:
        """A client's id for its request (1 to CID_MAX characters), if it gave one."""
        value = self._data.get(name)
        if value is None:
            return None
        if not isinstance(value, str) or not 1 <= len(value) <= CID_MAX:
            raise ChatError(
                ErrorCode.BAD_REQUEST,
                f"field {name!r} must be a string of 1 to {CID_MAX} characters",
            )
        return value

    def binary(self, name: str, most: int) -> bytes:
        value = self._get(name, bytes, "binary (msgpack bin)")
        if len(value) > most:
            raise ChatError(ErrorCode.BAD_REQUEST, f"field {name!r} is over {most} bytes")
        return value

    def sha256(self, name: str) -> str:
        """A SHA-256 digest as 64 hex digits, returned in lower case."""
        value = self.string(name).lower()
        if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
            raise ChatError(ErrorCode.BAD_REQUEST, f"field {name!r} must be 64 hex digits")
        return value

    def username(self, name: str) -> str:
        """A username field, NFKC-normalised; `invalid_username` if it breaks the rules."""
        return normalize_username(self.string(name))

    def new_password(self, name: str) -> str:
        """A password to be set (`register`, `password_set`): `weak_password` if it has
        fewer than PASSWORD_MIN characters."""
        password = self.string(name)
        if len(password) < PASSWORD_MIN:
            raise ChatError(
                ErrorCode.WEAK_PASSWORD, f"a password has at least {PASSWORD_MIN} characters"
            )
        return password

    def text(self, name: str) -> str:
        """A message text: not blank, at most the server's `max_text` characters."""
        text = self.string(name)
        if not text.strip():
            raise ChatError(ErrorCode.EMPTY_TEXT, "the message is empty")
        if len(text) > self._max_text:
            raise ChatError(
                ErrorCode.TEXT_TOO_LONG,
                f"the message has {len(text)} characters; the limit is {self._max_text}",
            )
        return text
