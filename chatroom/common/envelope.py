"""The envelope: the msgpack map in every frame, `{type, id, data}`.

Requests and replies carry an `id`; pushes (frames the server sends on its own) do not.
"""

import secrets
from dataclasses import dataclass
from typing import Any, Self

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.messages import ReplyType


@dataclass(slots=True)
class Request:
    """A request as read off the wire: its type, optional id and data map."""

    type: str
    id: int | None
    data: dict[str, Any]

    @classmethod
    def from_envelope(cls, envelope: dict[Any, Any]) -> Self:
        """Check the envelope's own fields; raises `bad_request` (not fatal) if they are wrong."""
        request_id = envelope.get("id")
        if request_id is not None and not _is_int(request_id):
            raise ChatError(ErrorCode.BAD_REQUEST, "id must be an integer")
        kind = envelope.get("type")
        if not isinstance(kind, str):
            raise ChatError(ErrorCode.BAD_REQUEST, "type must be a string")
        data = envelope.get("data")
        if data is None:
            data = {}
        if not isinstance(data, dict) or not all(isinstance(key, str) for key in data):
            raise ChatError(ErrorCode.BAD_REQUEST, "data must be a map with string keys")
        return cls(kind, request_id, data)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def reply_id(envelope: dict[Any, Any]) -> int | None:
    """The id to echo in the reply to `envelope`: its `id` if that is an integer."""
    request_id = envelope.get("id")
    return request_id if _is_int(request_id) else None


def new_cid() -> str:
    """A fresh idempotency key for a `broadcast`, `private` or `file_put` (16 characters).

    A request sent again with the same `cid`, because its `ok` was lost with the
    connection, gets the first one's `ok` and is not delivered twice.
    """
    return secrets.token_urlsafe(12)


def request(kind: str, request_id: int | None = None, **data: Any) -> dict[str, Any]:
    """The envelope of a request."""
    envelope: dict[str, Any] = {"type": kind, "data": data}
    if request_id is not None:
        envelope["id"] = request_id
    return envelope


def ok(request_id: int | None, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The envelope of an `ok` reply."""
    return {"type": ReplyType.OK.value, "id": request_id, "data": data or {}}


def error(request_id: int | None, err: ChatError) -> dict[str, Any]:
    """The envelope of an `error` reply; `id` is nil when the frame could not be read."""
    return {"type": ReplyType.ERROR.value, "id": request_id, "data": err.as_data()}
