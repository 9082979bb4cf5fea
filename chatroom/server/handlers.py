"""One function per request type, registered in one table by `@handles`.

A handler gets the session and the request's checked fields, and returns the `data` of
its `ok` reply. It signals failure by raising `ChatError`; the connection loop turns that
into the `error` reply, so no handler builds frames for errors.
"""

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import chatroom
from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.limits import PASSWORD_MIN, PROTOCOL_VERSION
from chatroom.common.messages import ByeReason, RequestType
from chatroom.common.names import username_key
from chatroom.server.auth import new_resume_token, resume_token_hash
from chatroom.server.fields import Fields
from chatroom.server.store import StoredMessage

if TYPE_CHECKING:
    from chatroom.server.connection import Session

Reply = dict[str, Any]
HandlerFunction = Callable[["Session", Fields], Awaitable[Reply]]


@dataclass(slots=True, frozen=True)
class Handler:
    function: HandlerFunction
    before_login: bool
    """Whether the request is allowed before the session has logged in."""
    rate_limited: bool
    """Whether each request spends a token of the session's message rate."""
    pipelined: bool
    """Whether it may run alongside its neighbours (its reply still comes in order)."""


HANDLERS: dict[str, Handler] = {}


def handles(
    kind: RequestType,
    *,
    before_login: bool = False,
    rate_limited: bool = False,
    pipelined: bool = False,
) -> Callable[[HandlerFunction], HandlerFunction]:
    """Register the decorated function as the handler of requests of type `kind`."""

    def register(function: HandlerFunction) -> HandlerFunction:
        HANDLERS[kind.value] = Handler(function, before_login, rate_limited, pipelined)
        return function

    return register


async def registered_name(session: "Session", username: str) -> str:
    """The name `username` was registered under (any case finds it), or `no_such_user`."""
    user = await session.store.find_user(username)
    if user is None:
        raise ChatError(ErrorCode.NO_SUCH_USER, f"there is no user {username!r}")
    return user.username


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
    session.registrations.take(session.address, "registrations from your address")
    await session.store.create_user(username, await session.passwords.hash(password))
    session.log.info("register %s from %s", username, session.peer)
    return {"username": username}


@handles(RequestType.LOGIN, before_login=True)
async def login(session: "Session", data: Fields) -> Reply:
    session.require_logged_out()
    username = data.string("username")
    password = data.string("password")
    name_key, address_key = f"user:{username_key(username)}", session.address_key
    # Counted from here, before bcrypt: a lockout, or too many attempts at once, costs
    # nothing.
    with session.throttle.attempt(name_key, address_key) as attempt:
        user = await session.store.find_user(username)
        hashed = user.password_hash if user else None
        if not await session.passwords.verify(password, hashed) or user is None:
            attempt.failed()
            raise ChatError(ErrorCode.BAD_CREDENTIALS, "wrong username or password")
        attempt.succeeded(name_key)
    token, token_hash = new_resume_token()
    expires = time.time() + session.limits.resume_ttl
    await session.store.add_resume_token(token_hash, user.username, expires)
    session.resume_token_hash = token_hash
    return await _enter(session, user.username) | {
        "resume_token": token,
        "resume_expires": expires,
    }


@handles(RequestType.RESUME, before_login=True)
async def resume(session: "Session", data: Fields) -> Reply:
    """Log in again with the token of an earlier login: no password, no bcrypt."""
    session.require_logged_out()
    token_hash = resume_token_hash(data.string("token"))
    with session.throttle.attempt(None, session.address_key) as attempt:
        username = await session.store.find_resume_token(token_hash)
        if username is None:
            attempt.failed()
            raise ChatError(ErrorCode.INVALID_TOKEN, "the resume token is unknown or expired")
    session.resume_token_hash = token_hash
    return await _enter(session, username, "resume")


async def _enter(session: "Session", username: str, how: str = "login") -> Reply:
    """The rest of a login or resume: join, queue the mailbox, describe the room."""
    backlog = await session.log_in(username, how)
    return {
        "username": username,
        "online": session.hub.online(),
        "offline": backlog.count,
        "skipped": backlog.skipped,
    }


@handles(RequestType.USERS, pipelined=True)
async def users(session: "Session", data: Fields) -> Reply:
    return {"online": session.hub.online()}


@handles(RequestType.BROADCAST, rate_limited=True, pipelined=True)
async def broadcast(session: "Session", data: Fields) -> Reply:
    return await _send(session, None, data)


@handles(RequestType.PRIVATE, rate_limited=True, pipelined=True)
async def private(session: "Session", data: Fields) -> Reply:
    to = await registered_name(session, data.username("to"))
    return await _send(session, to, data)


async def _send(session: "Session", to: str | None, data: Fields) -> Reply:
    """Store a message from the session's user to `to` (None: the group), then route it.

    A repeat of an earlier request (the same `cid`) is answered as the first one was,
    and nothing is stored or sent again. A private message's reply says whether the
    recipient was online to receive it now.
    """
    text = data.text("text")
    cid = data.optional_cid()
    limit = session.limits.mailbox_limit
    message = await session.store.add_message(session.user, to, text, cid=cid, mailbox_limit=limit)
    return {"ts": message.ts} | route_once(session, message)


def route_once(session: "Session", message: StoredMessage) -> Reply:
    """Send a just-stored message to its recipients, unless it is a repeat (sent when
    first stored); the reply's `mid`, and `duplicate` or a private one's `delivered`."""
    reply: Reply = {"mid": message.mid}
    if message.duplicate:
        reply["duplicate"] = True
        delivered = False
    else:
        delivered = session.hub.route(message.as_push(), message.recipient, message.sender)
    if message.recipient is not None:
        reply["delivered"] = delivered
    return reply


@handles(RequestType.ACK, pipelined=True)
async def ack(session: "Session", data: Fields) -> Reply:
    await session.store.ack(session.user, data.integer("upto"))
    return {}


@handles(RequestType.PING, before_login=True, pipelined=True)
async def ping(session: "Session", data: Fields) -> Reply:
    return {}


@handles(RequestType.LOGOUT)
async def logout(session: "Session", data: Fields) -> Reply:
    if session.resume_token_hash is not None:
        await session.store.revoke_resume_token(session.resume_token_hash)
    session.close_after_reply(ByeReason.LOGOUT)
    return {}
