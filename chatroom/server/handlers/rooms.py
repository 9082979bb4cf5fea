"""Rooms: create, join, leave, invite, topic, and the lists of rooms and of members.

The store keeps rooms and membership; the hub is told of every change once it is
committed, so that a room's messages reach exactly its members. What happens in a room
(a join, a leave, a new topic) is pushed to its members online.
"""

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.limits import TOPIC_MAX
from chatroom.common.messages import Framed, InvitedPush, JoinedPush, LeftPush, TopicPush
from chatroom.server.fields import Fields
from chatroom.server.handlers.chat import find_room, member_room, registered_name
from chatroom.server.handlers.peer import Peer, Reply
from chatroom.server.handlers.permissions import check_not_banned, check_not_muted
from chatroom.server.hub import ROOMS, Recipient
from chatroom.server.services import Services
from chatroom.server.store import Room

MEMBERS_MAX = 1000
"""Most members listed by `room_members` (the lobby holds every user)."""


def describe(room: Room) -> Reply:
    return {"room": room.name, "topic": room.topic, "owner": room.owner, "public": room.public}


async def room_create(server: Services, peer: Peer, data: Fields) -> Reply:
    name = data.room("room")
    topic = data.short_text("topic", TOPIC_MAX, default="")
    public = data.optional_bool("public", True)
    check_not_muted(server, peer.username, None)  # its name and topic are shown to everyone
    limits = server.limits
    room = await server.store.create_room(
        name,
        peer.username,
        topic,
        public,
        room_limit=limits.room_limit,
        owned_limit=limits.owned_room_limit,
    )
    server.hub.add_member(room.conv, peer.username)
    return describe(room)


async def room_join(server: Services, peer: Peer, data: Fields) -> Reply:
    room = find_room(server, data.room("room"))
    me = peer.username
    if server.hub.is_member(room.conv, me):
        return describe(room) | {"joined": False}
    check_not_banned(server, me, room)
    if not room.public and me != room.owner and not await server.store.is_invited(room, me):
        raise ChatError(ErrorCode.FORBIDDEN, f"{room.name} is invite-only: ask a member")
    # Checked again where the join is written: this node may not have heard of a ban yet.
    limit, now = server.limits.room_limit, server.wall_clock()
    joined = await server.store.join_room(room, me, room_limit=limit, now=now)
    if joined:
        server.hub.add_member(room.conv, me)
        server.hub.to_room(room.conv, JoinedPush(room.name, me), skip=peer)
    return describe(room) | {"joined": joined}


async def room_leave(server: Services, peer: Peer, data: Fields) -> Reply:
    room = find_room(server, data.room("room"))
    me = peer.username
    if room.conv == server.store.lobby().conv:
        raise ChatError(ErrorCode.FORBIDDEN, f"everyone is in {room.name}; it cannot be left")
    left = await remove_member(server, room, me, skip=peer)
    return {"room": room.name, "left": left}


async def remove_member(
    server: Services, room: Room, username: str, skip: Recipient | None = None
) -> bool:
    """Take `username` out of `room` (they left, or were kicked or banned) and tell its
    members and `username`'s sessions but `skip`; whether they were a member."""
    left = await server.store.leave_room(room, username)
    if left:
        server.hub.remove_member(room.conv, username)
        push = Framed(LeftPush(room.name, username))  # to the room and to them: encoded once
        server.hub.to_room(room.conv, push)
        server.hub.to_users([username], push, skip=skip, feature=ROOMS)
    return left


async def room_invite(server: Services, peer: Peer, data: Fields) -> Reply:
    name, invited = data.room("room"), data.username("username")  # their own mistakes first
    room = member_room(server, peer, name)
    username = await registered_name(server, invited)
    check_not_muted(server, peer.username, room)  # an invitation is said to them
    if server.hub.is_member(room.conv, username):
        return {"room": room.name, "username": username, "member": True}
    # If `username` has blocked them, dropped and not said so (the write reads it too).
    blocked = server.store.is_blocked(peer.username, by=username)
    if not blocked and await server.store.invite(room, username, peer.username):
        server.hub.to_users([username], InvitedPush(room.name, peer.username), feature=ROOMS)
    return {"room": room.name, "username": username, "member": False}


async def room_topic(server: Services, peer: Peer, data: Fields) -> Reply:
    name, topic = data.room("room"), data.short_text("topic", TOPIC_MAX)
    room = member_room(server, peer, name)
    if room.owner is not None and peer.username != room.owner:
        raise ChatError(ErrorCode.FORBIDDEN, f"only {room.owner} may set the topic of {room.name}")
    if room.owner is None:
        raise ChatError(ErrorCode.FORBIDDEN, f"the topic of {room.name} is set by the server")
    check_not_muted(server, peer.username, room)  # a topic is said to every member too
    room = await server.store.set_topic(room, topic)
    server.hub.to_room(room.conv, TopicPush(room.name, topic, peer.username), skip=peer)
    return describe(room)


async def rooms(server: Services, peer: Peer, data: Fields) -> Reply:
    """The rooms the user is in, and every public room, by name, after the name `after`
    if given: as many as fit in half a frame (`more` says whether there are others)."""
    after = data.optional_room("after")
    me = peer.username
    reads = {s.conv: s for s in await server.store.read_states(me) if s.room is not None}
    hub = server.hub
    lobby = server.store.lobby().conv
    budget = server.limits.max_frame // 2
    listed: list[Reply] = []
    for room in server.store.all_rooms():
        state = reads.get(room.conv)
        if (state is None and not room.public) or (after is not None and room.name <= after):
            continue
        budget -= _most_bytes(room)
        if budget < 0:
            return {"rooms": listed, "more": True}
        members = server.store.user_count() if room.conv == lobby else hub.member_count(room.conv)
        entry = describe(room)
        entry["members"] = members
        entry["joined"] = state is not None
        if state is not None:
            entry["unread"] = state.unread
            entry["read_upto"] = state.read_upto
            entry["last_mid"] = state.last_mid
        listed.append(entry)
    return {"rooms": listed, "more": False}


def _most_bytes(room: Room) -> int:
    """The most a room's entry in `rooms` can take in msgpack: its strings at 4 bytes a
    character, and 128 for the keys, numbers and string headers (109 at most, measured)."""
    return 128 + 4 * (len(room.name) + len(room.topic) + len(room.owner or ""))


async def room_members(server: Services, peer: Peer, data: Fields) -> Reply:
    room = find_room(server, data.room("room"))
    if not room.public and not server.hub.is_member(room.conv, peer.username):
        raise ChatError(ErrorCode.FORBIDDEN, f"{room.name} is invite-only; you are not in it")
    names = await server.store.room_members(room, MEMBERS_MAX + 1)
    is_online = server.hub.is_online
    return {
        "room": room.name,
        "members": [{"username": u, "online": is_online(u)} for u in names[:MEMBERS_MAX]],
        "more": len(names) > MEMBERS_MAX,
    }
