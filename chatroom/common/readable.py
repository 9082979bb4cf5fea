"""What the server sent, read into the dataclasses that describe it, and checked.

A frame the client cannot take apart ends the connection (`connection`), but one that
decodes may still be wrong: a student's server written in an afternoon may send a
`message` push with no `ts`, or a number where the text belongs. Read with `read`, such
a reply or push becomes one line saying what is wrong (`Unreadable`, a `ChatError`), not
a traceback where the value is first used. Every field is checked against its type
annotation, so a dataclass states once what the protocol promises, and nothing else
repeats it.
"""

import contextlib
import dataclasses
import types
import typing
from collections.abc import Iterator
from typing import Any, TypeVar

from chatroom.common.errors import ChatError
from chatroom.common.messages import PUSH_TYPES, Push

T = TypeVar("T")

UNREADABLE = "unreadable"
"""The code of `Unreadable`: the client's, never sent by a server."""


class Unreadable(ChatError):
    """A reply or push from the server without a field the protocol gives it, or with a
    value of the wrong type: the server's mistake, said in one line."""

    def __init__(self, message: str) -> None:
        super().__init__(UNREADABLE, message)


@contextlib.contextmanager
def reading(what: str) -> Iterator[None]:
    """Turn what goes wrong reading a reply's fields inside the block (a key missing, a
    number where a list belongs) into `Unreadable`, naming `what` ("the rooms reply")."""
    try:
        yield
    except KeyError as missing:
        raise Unreadable(f"{what} has no {shown(missing.args[0])}") from None
    except (TypeError, ValueError, AttributeError, IndexError) as exc:
        raise Unreadable(f"{what} cannot be read: {exc}") from None


def read(cls: type[T], data: object, what: str) -> T:
    """`cls.from_data(data)`, each field checked against `cls`'s annotations; raises
    `Unreadable` naming `what` ("the login reply") and the field at fault."""
    if not isinstance(data, dict):
        raise Unreadable(f"{what} is {shown(data)}, not a map")
    with reading(what):
        value: T = cls.from_data(data)  # type: ignore[attr-defined]
    wrong = _wrong_field(value)
    if wrong is not None:
        raise Unreadable(f"{what} has {wrong}")
    return value


@dataclasses.dataclass(slots=True, frozen=True)
class UnreadablePush(Push):
    """A push of a type this client knows that it could not read (`read`). Not one the
    server sends: the client library hands it on in the push's place, so that a program
    can say so; the frame was whole, so the pushes after it are read as ever."""

    kind: str
    reason: str


def parse_push(envelope: dict[str, Any]) -> Push | None:
    """The push in `envelope`; None for a push type this version does not know, and an
    `UnreadablePush` for one it knows whose fields are wrong."""
    kind = envelope.get("type", "")
    push_type = PUSH_TYPES.get(kind) if isinstance(kind, str) else None
    if push_type is None:
        return None
    data = envelope.get("data")
    try:
        return read(push_type, {} if data is None else data, f"a {kind} push")
    except Unreadable as unreadable:
        return UnreadablePush(kind, unreadable.message)


def _wrong_field(value: object) -> str | None:
    """The first field of the dataclass `value` whose value its annotation does not
    allow, described ("'text' 7, not str"), looking into dataclasses within it."""
    for name, hint in _hints(type(value)):
        field_value = getattr(value, name)
        if not _fits(field_value, hint):
            return f"{name!r} {shown(field_value)}, not {_type_name(hint)}"
        for inner in _dataclasses_in(field_value):
            wrong = _wrong_field(inner)
            if wrong is not None:
                return f"in {name!r} {wrong}"
    return None


_HINTS: dict[type, list[tuple[str, Any]]] = {}
"""Each dataclass's fields and their annotations, looked up once."""


def _hints(cls: type) -> list[tuple[str, Any]]:
    if cls not in _HINTS:
        hints = typing.get_type_hints(cls)
        _HINTS[cls] = [(f.name, hints[f.name]) for f in dataclasses.fields(cls)]
    return _HINTS[cls]


def _fits(value: object, hint: Any) -> bool:
    """Whether `value` is of the type `hint` (the few kinds messages use)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        return any(_fits(value, arm) for arm in args)
    if origin is list:
        return isinstance(value, list) and all(_fits(item, args[0]) for item in value)
    if origin is dict:
        return isinstance(value, dict) and all(
            _fits(key, args[0]) and _fits(item, args[1]) for key, item in value.items()
        )
    if hint is Any:
        return True
    if isinstance(value, bool):  # msgpack keeps true apart from 1: so does the check
        return hint is bool
    if hint is float:  # a whole number of seconds is a time too
        return isinstance(value, int | float)
    return isinstance(value, hint)


def _dataclasses_in(value: object) -> list[object]:
    if dataclasses.is_dataclass(value):
        return [value]
    if isinstance(value, list):
        return [item for item in value if dataclasses.is_dataclass(item)]
    return []


def _type_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint)


def shown(value: object) -> str:
    """`value` as a line can show it: its repr, at most 40 characters of it."""
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"
