"""Reading conversations: history, the file list, search, and read markers.

Each request names one conversation: `room` (one the user is in) or `with` (the private
conversation with that user). Nobody reads a conversation they are not part of.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import msgpack

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.limits import (
    INTEGER_MAX,
    PAGE_DEFAULT,
    PAGE_MAX,
    QUERY_MAX,
    SEARCH_DEFAULT,
    SEARCH_MAX,
)
from chatroom.common.messages import ReadPush
from chatroom.server.fields import Fields
from chatroom.server.handlers.chat import member_room, registered_name
from chatroom.server.handlers.peer import Peer, Reply
from chatroom.server.services import Services
from chatroom.server.store.base import Page, StoredMessage
from chatroom.server.store.search import fts_query


@dataclass(slots=True, frozen=True)
class Conversation:
    conv: int | None
    """None for two users who have never written to each other: nothing to read."""
    room: str | None
    with_user: str | None

    def where(self) -> Reply:
        return {"room": self.room} if self.room is not None else {"with": self.with_user}


async def conversation(
    server: Services, peer: Peer, data: Fields, required: bool = True
) -> Conversation | None:
    """The conversation the request names with `room` or `with` (one of them; neither
    is allowed when not `required`, meaning all the user's conversations)."""
    has_room, has_with = data.has("room"), data.has("with")
    if has_room and has_with:
        raise ChatError(ErrorCode.BAD_REQUEST, "give 'room' or 'with', not both")
    if has_room:
        room = member_room(server, peer, data.room("room"))
        return Conversation(room.conv, room.name, None)
    if has_with:
        other = await registered_name(server, data.username("with"))
        conv = await server.store.pair(peer.username, other, create=False)
        return Conversation(conv, None, other)
    if required:
        raise ChatError(ErrorCode.BAD_REQUEST, "missing field 'room' or 'with'")
    return None


REPLY_SHARE = 2
"""A reply of items fills at most 1/REPLY_SHARE of `max_frame`: 200 messages of 4,096
four-byte characters would be 3 MiB, over the frame limit of the client reading it."""


def _fit(items: list[Reply], budget: int) -> list[Reply]:
    """The first items (in the order given) whose encoding fits in `budget` bytes."""
    kept = []
    for item in items:
        budget -= len(msgpack.packb(item))
        if budget < 0:
            break
        kept.append(item)
    return kept


def _page_reply(server: Services, page: Page, key: str, items: list[Reply]) -> Reply:
    """A page of `items` (oldest first), its newest kept when it is too large for one
    frame (`more` then says so, and the next page starts where this one does)."""
    kept = _fit(items[::-1], server.limits.max_frame // REPLY_SHARE)
    kept.reverse()
    return {key: kept, "more": page.more or len(kept) < len(items)}


async def history(server: Services, peer: Peer, data: Fields) -> Reply:
    """A page of the conversation: the `limit` messages before mid `before`, oldest first."""
    return await _paged(server, peer, data, "messages", server.store.history, _message_entry)


async def files(server: Services, peer: Peer, data: Fields) -> Reply:
    """The files sent in the conversation, a page at a time, like `history`."""
    return await _paged(server, peer, data, "files", server.store.files, _file_entry)


def _message_entry(message: StoredMessage) -> Reply:
    return message.as_item()


def _file_entry(message: StoredMessage) -> Reply:
    assert message.file is not None
    return message.file.info().as_data() | {"ts": message.ts}


async def _paged(
    server: Services,
    peer: Peer,
    data: Fields,
    key: str,
    fetch: Callable[[int, int, int], Awaitable[Page]],
    entry: Callable[[StoredMessage], Reply],
) -> Reply:
    """A page of the conversation the request names, as `fetch` finds it, each message
    an `entry` under `key`."""
    where = await conversation(server, peer, data)
    assert where is not None
    before = data.optional_integer("before", INTEGER_MAX, minimum=1)
    limit = data.limit("limit", PAGE_DEFAULT, PAGE_MAX)
    if where.conv is None:
        return where.where() | {key: [], "more": False}
    page = await fetch(where.conv, before, limit)
    entries = [entry(message) for message in page.messages]
    return where.where() | _page_reply(server, page, key, entries)


async def search(server: Services, peer: Peer, data: Fields) -> Reply:
    """Messages with every word of `query`, newest first: in one conversation, or in all
    the user's."""
    query = data.short_text("query", QUERY_MAX)
    if not fts_query(query):  # blank, or only control characters
        raise ChatError(ErrorCode.EMPTY_TEXT, "the search is empty")
    where = await conversation(server, peer, data, required=False)
    limit = data.limit("limit", SEARCH_DEFAULT, SEARCH_MAX)
    if where is not None and where.conv is None:
        return {"messages": []}
    conv = where.conv if where is not None else None
    found = await server.store.search(peer.username, query, conv, limit)
    items = [message.as_item() | {"snippet": snippet} for message, snippet in found]
    return {"messages": _fit(items, server.limits.max_frame // REPLY_SHARE)}


async def read(server: Services, peer: Peer, data: Fields) -> Reply:
    """Move the read marker of a conversation; the user's other sessions are told."""
    where = await conversation(server, peer, data)
    assert where is not None
    upto = data.integer("upto")
    if where.conv is None:
        return where.where() | {"upto": 0, "unread": 0}
    state = await server.store.mark_read(peer.username, where.conv, upto)
    if state is None:  # left the room meanwhile
        raise ChatError(ErrorCode.FORBIDDEN, "you are not in that conversation")
    push = ReadPush(where.room, where.with_user, state.read_upto, state.unread)
    server.hub.to_users([peer.username], push, skip=peer, feature="read")
    return where.where() | {"upto": state.read_upto, "unread": state.unread}
