"""What a push that is not a message says, and in which tab: news of rooms, contacts,
moderation and the connection, and of a push the client could not read, as one line each.

`notice` is a plain function of the push and what the screen knows (the tabs, the
people), so the chat screen only writes what it returns.
"""

from datetime import datetime

from chatroom.client.tui.people import People
from chatroom.client.tui.rooms import room_news
from chatroom.client.tui.tabs import GROUP, ConversationTabs
from chatroom.common.messages import (
    ByePush,
    ContactPush,
    DeletedPush,
    InvitedPush,
    JoinedPush,
    LeftPush,
    ModeratedPush,
    Push,
    TopicPush,
)
from chatroom.common.readable import UnreadablePush
from chatroom.common.visible import visible

SHOWN = None
"""The tab on screen, as the place of a notice."""

Notice = tuple[str | None, str, str]
"""Where (a tab's pane id, or SHOWN), the line (empty: nothing to write), its style."""

BYE_NEWS = {
    "shutdown": "The server is shutting down.",
    "kicked": "A moderator sent you away.",
    "banned": "A moderator banned you.",
}


def notice(push: Push, tabs: ConversationTabs, people: People) -> Notice | None:
    """The line a push is shown as, and where; None for pushes that are not news."""
    if isinstance(push, JoinedPush | LeftPush | TopicPush):
        return tabs.room_pane(push.room), room_news(push), ""
    if isinstance(push, InvitedPush):
        return SHOWN, f"{push.by} invited you to #{push.room}: /join {push.room}", ""
    if isinstance(push, ContactPush):
        return SHOWN, people.contact_news(push.username, push.event), ""
    if isinstance(push, ModeratedPush):
        return SHOWN, moderated_news(push), "bold red"
    if isinstance(push, DeletedPush):
        where = tabs.message_pane(push.author, push.to, push.room, people.me)
        return where, "" if push.by == people.me else deleted_news(push), "dim"
    if isinstance(push, ByePush) and push.reason in BYE_NEWS:
        return GROUP, BYE_NEWS[push.reason], "red"
    if isinstance(push, UnreadablePush):  # the server's mistake, not the user's
        return SHOWN, f"Left out what the server sent: {visible(push.reason)}.", "red"
    return None


def _until(until: float | None) -> str:
    if until is None:
        return ""
    return " until " + datetime.fromtimestamp(until).strftime("%H:%M")


def moderated_news(push: ModeratedPush) -> str:
    """How a moderator's action on the user reads."""
    where = f" in #{visible(push.room)}" if push.room else ""
    done = {
        "kick": "removed you" if push.room else "sent you away",
        "mute": "muted you",
        "unmute": "unmuted you",
        "ban": "banned you",
        "unban": "lifted your ban",
    }.get(push.action, push.action)
    until = _until(push.until) if push.action in ("mute", "ban") else ""
    reason = f": {visible(push.reason)}" if push.reason else ""
    return f"{visible(push.by)} {done}{where}{until}{reason}."


def deleted_news(push: DeletedPush) -> str:
    whose = "their" if push.by == push.author else f"{visible(push.author)}'s"
    return f"{visible(push.by)} deleted {whose} message {push.mid}."
