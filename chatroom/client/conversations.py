"""Rooms and conversations as `ChatClient` methods: rooms, history, search, read markers.

`ConversationRequests` is mixed into `ChatClient`, which supplies `request`; every method
here is one request (or, for `history` and `files`, one request per page) and parses its
reply into the dataclasses of `replies`. A conversation is named by `room` or, for the
private one with a user, `with_user` (`with` on the wire, a Python keyword).
"""

from collections.abc import AsyncGenerator
from typing import Any

from chatroom.client.replies import (
    ConversationState,
    Found,
    Member,
    Members,
    RoomInfo,
    conversation_item,
)
from chatroom.common.messages import FilePush, MessagePush, RequestType
from chatroom.common.readable import read, reading


def where(room: str | None, with_user: str | None) -> dict[str, str]:
    """The `room`/`with` fields naming a conversation; the server refuses both or neither
    where one is required, so that rule lives in one place."""
    named = {}
    if room is not None:
        named["room"] = room
    if with_user is not None:
        named["with"] = with_user
    return named


def _options(**values: int | None) -> dict[str, int]:
    """The optional fields that were given; the server's defaults stand for the rest."""
    return {key: value for key, value in values.items() if value is not None}


class ConversationRequests:
    """The requests about rooms and conversations; `ChatClient` provides `request`."""

    async def request(self, kind: str, **data: Any) -> dict[str, Any]:
        raise NotImplementedError

    # -- rooms ------------------------------------------------------------------------

    async def room_create(self, room: str, topic: str = "", public: bool = True) -> RoomInfo:
        """Create a room and join it as its owner (`room_taken` if the name is taken)."""
        reply = await self.request(RequestType.ROOM_CREATE, room=room, topic=topic, public=public)
        return read(RoomInfo, reply, "the room_create reply")

    async def room_join(self, room: str) -> RoomInfo:
        """Join a public room, or one you were invited to; `joined` is False if you were
        in it already."""
        reply = await self.request(RequestType.ROOM_JOIN, room=room)
        return read(RoomInfo, reply, "the room_join reply")

    async def room_leave(self, room: str) -> bool:
        """Leave a room; whether you were in it."""
        reply = await self.request(RequestType.ROOM_LEAVE, room=room)
        with reading("the room_leave reply"):
            return bool(reply["left"])

    async def room_invite(self, room: str, username: str) -> bool:
        """Invite `username` into a room you are in; False if they are a member already."""
        reply = await self.request(RequestType.ROOM_INVITE, room=room, username=username)
        with reading("the room_invite reply"):
            return not reply["member"]

    async def room_topic(self, room: str, topic: str) -> RoomInfo:
        """Set the topic of a room you own."""
        reply = await self.request(RequestType.ROOM_TOPIC, room=room, topic=topic)
        return read(RoomInfo, reply, "the room_topic reply")

    async def rooms(self) -> list[RoomInfo]:
        """The rooms you are in and every public room, with member and unread counts
        (asked for a page at a time, as many as fit in a frame, until there are no more)."""
        listed: list[RoomInfo] = []
        after: dict[str, str] = {}
        while True:
            reply = await self.request(RequestType.ROOMS, **after)
            with reading("the rooms reply"):
                page = reply["rooms"]
                listed += [read(RoomInfo, entry, "a room in the rooms reply") for entry in page]
            if not reply.get("more") or not page:
                return listed
            after = {"after": listed[-1].room}

    async def room_members(self, room: str) -> Members:
        """Who is in a room (public, or one you are in) and whether each is online."""
        reply = await self.request(RequestType.ROOM_MEMBERS, room=room)
        with reading("the room_members reply"):
            members = [read(Member, m, "a member in the reply") for m in reply["members"]]
            return Members(reply["room"], members, bool(reply["more"]))

    # -- reading ----------------------------------------------------------------------

    async def history(
        self,
        room: str | None = None,
        *,
        with_user: str | None = None,
        before: int | None = None,
        limit: int | None = None,
    ) -> AsyncGenerator[list[MessagePush | FilePush], None]:
        """The conversation's messages, a page at a time from the newest back to the
        first; each page oldest first. `limit` is the page size (the server's default
        and maximum apply), `before` a mid to start below.

        Stop iterating whenever you have read enough: a page is fetched only when asked for.
        """
        async for page in self._pages(
            RequestType.HISTORY, "messages", room, with_user, before, limit
        ):
            yield [conversation_item(item) for item in page]

    async def files(
        self,
        room: str | None = None,
        *,
        with_user: str | None = None,
        before: int | None = None,
        limit: int | None = None,
    ) -> AsyncGenerator[list[FilePush], None]:
        """The files sent in the conversation, a page at a time like `history`."""
        async for page in self._pages(RequestType.FILES, "files", room, with_user, before, limit):
            yield [read(FilePush, item, "a file in the files reply") for item in page]

    async def _pages(
        self,
        kind: str,
        key: str,
        room: str | None,
        with_user: str | None,
        before: int | None,
        limit: int | None,
    ) -> AsyncGenerator[list[dict[str, Any]], None]:
        """The `key` lists of successive pages, each asked for below the previous one's
        first mid, until the server says there is no `more`."""
        named = where(room, with_user)
        while True:
            reply = await self.request(kind, **named, **_options(before=before, limit=limit))
            with reading(f"the {kind} reply"):
                page, more = list(reply[key]), reply["more"]
                if page:
                    before = page[0]["mid"]
            if page:
                yield page
            # An empty page that claims more could only repeat itself: stop rather than loop.
            if not more or not page:
                return

    async def search(
        self,
        query: str,
        room: str | None = None,
        *,
        with_user: str | None = None,
        limit: int | None = None,
    ) -> list[Found]:
        """Messages with every word of `query`, newest first: in one conversation, or
        (naming none) in all of yours."""
        reply = await self.request(
            RequestType.SEARCH, query=query, **where(room, with_user), **_options(limit=limit)
        )
        with reading("the search reply"):
            return [Found(conversation_item(item), item["snippet"]) for item in reply["messages"]]

    async def read(
        self, room: str | None = None, *, with_user: str | None = None, upto: int
    ) -> ConversationState:
        """Mark a conversation read up to mid `upto` (a marker never moves back); your
        other sessions get a `read` push."""
        reply = await self.request(RequestType.READ, upto=upto, **where(room, with_user))
        return read(ConversationState, reply, "the read reply")
