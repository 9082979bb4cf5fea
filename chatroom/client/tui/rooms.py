"""What the room commands of the chat screen do: `/join`, `/leave`, `/create`, `/topic`,
`/invite`, `/members`, as requests on the session, and what the screen shows of each."""

from chatroom.client.api import amount
from chatroom.client.replies import Members, RoomInfo
from chatroom.client.tui.commands import RoomCommand
from chatroom.client.tui.session import ChatSession
from chatroom.client.tui.tabs import ConversationTabs
from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.limits import LOBBY
from chatroom.common.messages import JoinedPush, LeftPush, TopicPush


def room_news(push: JoinedPush | LeftPush | TopicPush) -> str:
    """What happened in a room, in a line for its tab."""
    if isinstance(push, JoinedPush):
        return f"{push.username} joined #{push.room}."
    if isinstance(push, LeftPush):
        return f"{push.username} left #{push.room}."
    return f"{push.by} set the topic of #{push.room}: {push.topic}"


def describe(room: RoomInfo) -> str:
    """`#games (4 members, 2 unread, yours: in it): chess on Fridays` for `/rooms`."""
    facts = [
        amount(room.members, "member") if room.members is not None else "",
        "private" * (not room.public),
    ]
    if room.joined:
        facts.append(f"{room.unread} unread" if room.unread else "in it")
    topic = f": {room.topic}" if room.topic else ""
    return f"#{room.room} ({', '.join(fact for fact in facts if fact)}){topic}"


def members_line(listed: Members) -> str:
    """`#games: 3 members; online: alice, bob; offline: carol` for `/members`."""
    online = [member.username for member in listed.members if member.online]
    offline = [member.username for member in listed.members if not member.online]
    counted = amount(len(listed.members), "member") + (", and more" if listed.more else "")
    return (
        f"#{listed.room}: {counted}; online: {', '.join(online) or 'none'}; "
        f"offline: {', '.join(offline) or 'none'}"
    )


async def run(command: RoomCommand, session: ChatSession, tabs: ConversationTabs) -> str:
    """Do `command`; what to say of it (a `ChatError` says why it failed). A room joined
    or made gets a tab, on screen; a room left loses its tab. Without a room named, it is
    the tab's (`/members` in the group's: the lobby's)."""
    _, shown_room = tabs.where()
    room = command.room or shown_room
    if room is None and command.kind == "room_members":
        room = LOBBY  # the group's tab is the lobby's
    if room is None:
        raise ChatError("usage", f"{command.kind.replace('room_', '/')} works in a room's tab")
    match command.kind:
        case "room_members":
            return members_line(await session.connected().room_members(room))
        case "room_join" | "room_create":
            fields: dict[str, object] = {"topic": command.text} if command.text else {}
            if not command.public:
                fields["public"] = False
            try:
                reply = await session.request(command.kind, room=room, **fields)
            except ChatError as error:
                if error.code != ErrorCode.NO_SUCH_ROOM:
                    raise
                hint = f"{error.message}: /create {room} makes it"
                raise ChatError(error.code, hint, **error.extra) from error
            tabs.active = tabs.room_pane(reply["room"])
            topic = f": {reply['topic']}" if reply.get("topic") else ""
            invited = reply.get("public") is False
            closed = " (invite-only: /invite NAME lets someone in)" if invited else ""
            return f"You are in #{reply['room']}{topic}{closed}"
        case "room_leave":
            reply = await session.request("room_leave", room=room)
            tabs.close_room(reply["room"])
            return f"You left #{reply['room']}."
        case "room_topic":
            await session.request("room_topic", room=room, topic=command.text)
            return f"The topic of #{room} is now: {command.text}"
        case _:
            reply = await session.request("room_invite", room=room, username=command.text)
            if reply["member"]:
                return f"{reply['username']} is in #{room} already."
            return f"Invited {reply['username']} to #{room}."
