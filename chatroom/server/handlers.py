"""One function per request type, registered in one table by `@handles`.

A handler gets the session and the request's checked fields, and returns the `data` of
its `ok` reply. It signals failure by raising `ChatError`; the connection loop turns that
into the `error` reply, so no handler builds frames for errors.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import chatroom
from chatroom.common.codec import encode
from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.limits import PASSWORD_MIN, PROTOCOL_VERSION
from chatroom.common.messages import ByeReason, RequestType
from chatroom.server.fields import Fields

if TYPE_CHECKING:
    from chatroom.server.connection import Session

Reply = dict[str, Any]
HandlerFunction = Callable[["Session", Fields], Awaitable[Reply]]


@dataclass(slots=True, frozen=True)
class Handler:
    function: HandlerFunction
    before_login: bool
    """Whether the request is allowed before the session has logged in."""


HANDLERS: dict[str, Handler] = {}


def handles(
    kind: RequestType, *, before_login: bool = False
) -> Callable[[HandlerFunction], HandlerFunction]:
    """Register the decorated function as the handler of requests of type `kind`."""

    def register(function: HandlerFunction) -> HandlerFunction:
        HANDLERS[kind.value] = Handler(function, before_login)
        return function

    return register


@handles(RequestType.HELLO, before_login=True)
async def hello(session: "Session", data: Fields) -> Reply:
    version = data.integer("version")
    if version != PROTOCOL_VERSION:
        raise ChatError(
            ErrorCode.UNSUPPORTED_VERSION,
            f"this server speaks protocol version {PROTOCOL_VERSION}, not {version}",
        )
    return {
        "version": PROTOCOL_VERSION,
        "server": f"chatroom/{chatroom.__version__}",
        "limits": session.limits.as_data(),
    }


@handles(RequestType.REGISTER, before_login=True)
async def register(session: "Session", data: Fields) -> Reply:
    session.require_logged_out()
    username = data.username("username")
    password = data.string("password")
    if len(password) < PASSWORD_MIN:
        raise ChatError(
            ErrorCode.WEAK_PASSWORD, f"a password has at least {PASSWORD_MIN} characters"
        )
    # Checked before hashing so a taken name costs no bcrypt time; create_user checks again.
    if await session.store.find_user(username) is not None:
        raise ChatError(ErrorCode.USERNAME_TAKEN, f"{username!r} is taken")
    await session.store.create_user(username, await session.passwords.hash(password))
    session.log.info("register %s from %s", username, session.peer)
    return {"username": username}


@handles(RequestType.LOGIN, before_login=True)
async def login(session: "Session", data: Fields) -> Reply:
    session.require_logged_out()
    username = data.string("username")
    password = data.string("password")
    user = await session.store.find_user(username)
    hashed = user.password_hash if user else None
    if not await session.passwords.verify(password, hashed) or user is None:
        raise ChatError(ErrorCode.BAD_CREDENTIALS, "wrong username or password")
    replayed, skipped = await session.log_in(user.username)
    return {
        "username": user.username,
        "online": session.hub.online(),
        "offline": replayed,
        "skipped": skipped,
    }


@handles(RequestType.USERS)
async def users(session: "Session", data: Fields) -> Reply:
    return {"online": session.hub.online()}


@handles(RequestType.BROADCAST)
async def broadcast(session: "Session", data: Fields) -> Reply:
    text = data.text("text")
    message = await session.store.add_message(session.user, None, text)
    session.hub.broadcast(encode(message.as_push().envelope()), exclude=session.user)
    return {"mid": message.mid, "ts": message.ts}


@handles(RequestType.PRIVATE)
async def private(session: "Session", data: Fields) -> Reply:
    to = data.username("to")
    text = data.text("text")
    recipient = await session.store.find_user(to)
    if recipient is None:
        raise ChatError(ErrorCode.NO_SUCH_USER, f"there is no user {to!r}")
    message = await session.store.add_message(session.user, recipient.username, text)
    delivered = session.hub.deliver(recipient.username, encode(message.as_push().envelope()))
    return {"mid": message.mid, "ts": message.ts, "delivered": delivered}


@handles(RequestType.ACK)
async def ack(session: "Session", data: Fields) -> Reply:
    await session.store.ack(session.user, data.integer("upto"))
    return {}


@handles(RequestType.PING, before_login=True)
async def ping(session: "Session", data: Fields) -> Reply:
    return {}


@handles(RequestType.LOGOUT)
async def logout(session: "Session", data: Fields) -> Reply:
    session.close_after_reply(ByeReason.LOGOUT)
    return {}
