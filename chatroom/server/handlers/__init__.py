"""One function per request type, and the table that says which answers which.

A handler gets the server's `Services`, the `Peer` that asked and the request's checked
`Fields`, and returns the `data` of its `ok` reply. It signals failure by raising
`ChatError`; `reply_to` turns that into the `error` reply, so no handler builds frames
for errors. The table is written out here, whole: nothing registers itself by being
imported.
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from chatroom.common.codec import compress
from chatroom.common.envelope import Request, error, ok, reply_id
from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.limits import COMPRESS_MIN
from chatroom.common.messages import RequestType
from chatroom.server.fields import Fields
from chatroom.server.handlers import (
    accounts,
    chat,
    contacts,
    conversations,
    files,
    moderation,
    people,
    rooms,
)
from chatroom.server.handlers.peer import Peer, Reply
from chatroom.server.services import Services

HandlerFunction = Callable[[Services, Peer, Fields], Awaitable[Reply]]


@dataclass(slots=True, frozen=True)
class Handler:
    function: HandlerFunction
    before_login: bool = False
    """Whether the request is allowed before the connection has logged in."""
    rate_limited: bool = False
    """Whether each request spends a token of the connection's message rate."""
    pipelined: bool = False
    """Whether it may run alongside its neighbours (its reply still comes in order)."""
    compressible: bool = False
    """Whether its reply is compressed for a client that asked (it can be large)."""


HANDLERS: dict[str, Handler] = {
    RequestType.HELLO: Handler(accounts.hello, before_login=True),
    RequestType.REGISTER: Handler(accounts.register, before_login=True),
    RequestType.LOGIN: Handler(accounts.login, before_login=True),
    RequestType.RESUME: Handler(accounts.resume, before_login=True),
    RequestType.LOGOUT: Handler(accounts.logout),
    RequestType.USERS: Handler(people.users, pipelined=True, compressible=True),
    RequestType.BROADCAST: Handler(chat.broadcast, rate_limited=True, pipelined=True),
    RequestType.PRIVATE: Handler(chat.private, rate_limited=True, pipelined=True),
    RequestType.ACK: Handler(chat.ack, pipelined=True),
    RequestType.PING: Handler(chat.ping, before_login=True, pipelined=True),
    RequestType.FILE_PUT: Handler(files.file_put, rate_limited=True),
    RequestType.FILE_CHUNK: Handler(files.file_chunk),
    # Not pipelined: each reply can be 64 KiB, so they are made one at a time, and the
    # connection stops reading requests while the replies wait to be read.
    RequestType.FILE_GET: Handler(files.file_get),
    RequestType.FILE_INFO: Handler(files.file_info),
    RequestType.ROOM_CREATE: Handler(rooms.room_create, rate_limited=True),
    RequestType.ROOM_JOIN: Handler(rooms.room_join),
    RequestType.ROOM_LEAVE: Handler(rooms.room_leave),
    RequestType.ROOM_INVITE: Handler(rooms.room_invite, rate_limited=True),
    RequestType.ROOM_TOPIC: Handler(rooms.room_topic, rate_limited=True),
    RequestType.ROOMS: Handler(rooms.rooms, compressible=True),
    RequestType.ROOM_MEMBERS: Handler(rooms.room_members, compressible=True),
    RequestType.HISTORY: Handler(conversations.history, compressible=True),
    RequestType.SEARCH: Handler(conversations.search, compressible=True),
    RequestType.FILES: Handler(conversations.files, compressible=True),
    RequestType.READ: Handler(conversations.read, pipelined=True),
    RequestType.PROFILE_SET: Handler(people.profile_set, rate_limited=True),
    RequestType.PASSWORD_SET: Handler(accounts.password_set),
    RequestType.PROFILE_GET: Handler(people.profile_get),
    RequestType.STATUS_SET: Handler(people.status_set, rate_limited=True),
    RequestType.CONTACT_ADD: Handler(contacts.contact_add, rate_limited=True),
    RequestType.CONTACT_ACCEPT: Handler(contacts.contact_accept),
    RequestType.CONTACT_DECLINE: Handler(contacts.contact_decline),
    RequestType.CONTACT_REMOVE: Handler(contacts.contact_remove),
    RequestType.CONTACTS: Handler(contacts.contacts, compressible=True),
    RequestType.BLOCK: Handler(moderation.block),
    RequestType.UNBLOCK: Handler(moderation.unblock),
    RequestType.BLOCKS: Handler(moderation.blocks),
    RequestType.KICK: Handler(moderation.kick),
    RequestType.MUTE: Handler(moderation.mute),
    RequestType.UNMUTE: Handler(moderation.unmute),
    RequestType.BAN: Handler(moderation.ban),
    RequestType.UNBAN: Handler(moderation.unban),
    RequestType.DELETE: Handler(moderation.delete),
    RequestType.ANNOUNCE: Handler(moderation.announce, rate_limited=True),
    RequestType.AUDIT: Handler(moderation.audit, compressible=True),
    RequestType.ROOM_ROLE: Handler(moderation.room_role),
}
"""Every request type the server answers, by its wire name."""

log = logging.getLogger("chatroom.server")


async def reply_to(server: Services, peer: Peer, envelope: dict[Any, Any]) -> dict[str, Any]:
    """The reply to one request: `ok` with its handler's data, or `error`. The one place
    that turns a `ChatError` into an `error` frame, and anything unexpected into
    `server_error` with one logged traceback."""
    request_id = reply_id(envelope)
    try:
        request = Request.from_envelope(envelope)
        handler = HANDLERS.get(request.type)
        if handler is None:
            raise ChatError(ErrorCode.UNKNOWN_TYPE, f"unknown request type {request.type!r}")
        if peer.user is None and not handler.before_login:
            raise ChatError(ErrorCode.NOT_LOGGED_IN, f"log in before {request.type!r}")
        if handler.rate_limited:
            peer.spend_message()
        fields = Fields(request.data, server.limits.max_text)
        reply = ok(request_id, await handler.function(server, peer, fields))
        if handler.compressible and "compress" in peer.features:
            return compress(reply, least=COMPRESS_MIN)
        return reply
    except ChatError as err:
        return error(request_id, err)
    except Exception:
        log.exception("request %r from %s failed", envelope.get("type"), peer.peer)
        return error(request_id, ChatError(ErrorCode.SERVER_ERROR, "internal server error"))


__all__ = ["HANDLERS", "Handler", "Peer", "Reply", "reply_to"]
