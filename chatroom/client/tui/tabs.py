"""The conversations of the chat screen in tabs: the group's, and one per private chat,
each with its log and a count of what came while it was hidden."""

from textual.content import Content
from textual.message import Message
from textual.widgets import TabbedContent, TabPane

from chatroom.client.tui.conversation import ConversationLog
from chatroom.common.limits import LOBBY
from chatroom.common.names import username_key
from chatroom.common.visible import visible

GROUP = "room"
"""The pane id of the group conversation."""


class ConversationTabs(TabbedContent):
    class Counted(Message):
        """A tab opened or closed, or its unread count changed."""

    def __init__(self) -> None:
        super().__init__(id="conversations")
        self.logs = {GROUP: ConversationLog()}
        """Pane id -> its log, mounted or about to be."""
        self.panes = {_room_key(LOBBY): GROUP}
        """Conversation key (see `conversation_key`) -> its pane id: the lobby's is the
        group's, and each other room and private chat has its own while its tab is open."""
        self.partners: dict[str, str] = {}
        """Pane id -> the partner's username."""
        self.rooms: dict[str, str] = {}
        """Pane id -> the room's name (rooms other than the lobby)."""
        self.unread: dict[str, int] = {GROUP: 0}
        self.mentioned: set[str] = set()
        """Panes with an unread message that names the user."""
        self.used = {GROUP}
        """Every pane id given out: a closed tab's is not taken again."""
        self.shown = dict.fromkeys([GROUP])
        """The open tabs that have been on screen, in order: the one shown last at the end."""

    def shown_log(self) -> ConversationLog:
        """The log of the conversation on screen (the group's while a tab is closing)."""
        return self.logs.get(self.active, self.logs[GROUP])

    def pane_of(self, partner: str | None, room: str | None = None) -> str:
        """The pane of the private chat with `partner`, or of `room` (None or the lobby:
        the group), opening its tab if there is none."""
        if partner is not None:
            return self.private_pane(partner)
        return self.room_pane(room or LOBBY)

    def message_pane(self, sender: str, to: str | None, room: str | None, me: str) -> str:
        """The pane of a message's conversation: its room (None or the lobby: the group),
        or, sent privately, the chat with whichever of `sender` and `to` is not `me`."""
        if to is None:
            return self.pane_of(None, room)
        return self.private_pane(sender if sender != me else to)

    def open_pane(self, partner: str | None, room: str | None = None) -> str | None:
        """As `pane_of`, if that conversation's tab is open (None: it was closed)."""
        return self.panes.get(conversation_key(partner, room))

    def room_pane(self, room: str) -> str:
        """The pane id of `room`, opening a tab if there is none."""
        key = _room_key(room)
        if key not in self.panes:
            self._open(key, f"r{len(self.panes)}")  # r1 first: the group is in panes
            self.rooms[self.panes[key]] = room
            self._add(self.panes[key])
        return self.panes[key]

    def where(self) -> tuple[str | None, str | None]:
        """The conversation on screen: (partner, room); (None, None) for the group."""
        pane_id = self.active or GROUP
        return self.partners.get(pane_id), self.rooms.get(pane_id)

    def placeholder(self) -> str:
        """What the input says while empty: where a message typed goes."""
        partner, room = self.where()
        if partner is not None:
            return f"Message {visible(partner)} privately"
        if room is not None:
            return f"Message #{visible(room)}; /leave leaves it"
        return "Message the group; /help for commands"

    def private_pane(self, partner: str) -> str:
        """The pane id of the private chat with `partner`, opening a tab if there is none."""
        key = username_key(partner)
        if key not in self.panes:
            self._open(key, f"dm{len(self.panes)}")
            self.partners[self.panes[key]] = partner
            self._add(self.panes[key])
        return self.panes[key]

    def key_of(self, pane_id: str) -> str:
        """The key of a pane's conversation (see `conversation_key`)."""
        return conversation_key(self.partners.get(pane_id), self.rooms.get(pane_id))

    def _open(self, key: str, pane_id: str) -> None:
        while pane_id in self.used:
            pane_id += "x"
        self.used.add(pane_id)
        self.panes[key] = pane_id
        self.unread[pane_id] = 0
        self.logs[pane_id] = ConversationLog()

    def _add(self, pane_id: str) -> None:
        self.add_pane(TabPane(self.label(pane_id), self.logs[pane_id], id=pane_id))
        self.post_message(self.Counted())

    def close_room(self, room: str) -> None:
        """Close the tab of `room`, if it has one."""
        pane_id = self.panes.get(_room_key(room))
        if pane_id is not None:
            self.close(pane_id)

    def show(self, pane_id: str) -> None:
        """Put the tab `pane_id` on screen, if it is still open (one opened for a message
        may be closed by its refusal before it is shown)."""
        if pane_id in self.logs:
            self.active = pane_id

    def close(self, pane_id: str) -> None:
        """Close a private chat's or a room's tab (it opens again with the next message); if
        it is on screen, the tab shown before it takes its place."""
        self.shown.pop(pane_id, None)
        if self.active == pane_id:
            self.active = next(reversed(self.shown))
        key = next(key for key, pane in self.panes.items() if pane == pane_id)
        del self.panes[key], self.logs[pane_id], self.unread[pane_id]
        self.partners.pop(pane_id, None)
        self.rooms.pop(pane_id, None)
        self.mentioned.discard(pane_id)
        self.remove_pane(pane_id)
        self.post_message(self.Counted())

    def count_unread(self, pane_id: str, mention: bool = False) -> None:
        if self.active != pane_id:
            if mention:
                self.mentioned.add(pane_id)
            self.set_unread(pane_id, self.unread[pane_id] + 1)

    def set_unread(self, pane_id: str, count: int) -> None:
        self.unread[pane_id] = count
        if not count:
            self.mentioned.discard(pane_id)
        self.get_tab(pane_id).label = self.label(pane_id)
        self.post_message(self.Counted())

    def for_me(self) -> int:
        """Unread messages written to the user: in private chats, or naming them."""
        return sum(
            count
            for pane_id, count in self.unread.items()
            if pane_id in self.partners or pane_id in self.mentioned
        )

    def on_screen(self, pane_id: str) -> None:
        """The tab is on screen: nothing in it is unread, and it is the one shown last."""
        self.set_unread(pane_id, 0)
        self.shown.pop(pane_id, None)
        self.shown[pane_id] = None

    def title_of(self, pane_id: str) -> str:
        """`# group`, `#games` or `@bob`."""
        if pane_id == GROUP:
            return "# group"
        if pane_id in self.rooms:
            return f"#{visible(self.rooms[pane_id])}"
        return f"@{visible(self.partners[pane_id])}"

    def label(self, pane_id: str) -> Content:
        """`@bob (2)`: the conversation, and how many messages came while the tab was
        hidden; in bold yellow if one of them names the user. Content, not a string,
        which Textual would read as markup."""
        unread = f" ({self.unread[pane_id]})" if self.unread[pane_id] else ""
        style = "bold yellow" if pane_id in self.mentioned else ""
        return Content.styled(f"{self.title_of(pane_id)}{unread}", style)

    def switch(self, step: int) -> None:
        ids = list(self.logs)  # the group's first, then in the order they were opened
        self.active = ids[(ids.index(self.active) + step) % len(ids)]


def conversation_key(partner: str | None, room: str | None) -> str:
    """The key of the private conversation with `partner`, or of `room` (None: the
    lobby), the same however often its tab is closed and opened again."""
    return username_key(partner) if partner is not None else _room_key(room or LOBBY)


def _room_key(room: str) -> str:
    """A room's key among the panes (`#` keeps it apart from the usernames' keys)."""
    return "#" + username_key(room)
