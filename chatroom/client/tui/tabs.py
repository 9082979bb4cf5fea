"""The conversations of the chat screen in tabs: the group's, and one per private chat,
each with its log and a count of what came while it was hidden."""

from textual.content import Content
from textual.widgets import TabbedContent, TabPane

from chatroom.client.tui.conversation import ConversationLog
from chatroom.client.visible import visible
from chatroom.common.names import username_key

GROUP = "room"
"""The pane id of the group conversation."""


class ConversationTabs(TabbedContent):
    def __init__(self) -> None:
        super().__init__(id="conversations")
        self.logs = {GROUP: ConversationLog()}
        """Pane id -> its log, mounted or about to be."""
        self.panes: dict[str, str] = {}
        """Username key -> pane id of the private chat."""
        self.partners: dict[str, str] = {}
        """Pane id -> the partner's username."""
        self.unread: dict[str, int] = {GROUP: 0}

    def shown_log(self) -> ConversationLog:
        """The log of the conversation on screen."""
        return self.logs[self.active or GROUP]

    def pane_of(self, partner: str | None) -> str:
        """The pane of the group (None) or of the private chat with `partner`."""
        return GROUP if partner is None else self.private_pane(partner)

    def private_pane(self, partner: str) -> str:
        """The pane id of the private chat with `partner`, opening a tab if there is none."""
        key = username_key(partner)
        if key not in self.panes:
            pane_id = f"dm{len(self.panes) + 1}"
            while pane_id in self.logs:  # a closed tab's id may be taken again only once free
                pane_id += "x"
            self.panes[key] = pane_id
            self.partners[pane_id] = partner
            self.unread[pane_id] = 0
            self.logs[pane_id] = ConversationLog()
            self.add_pane(TabPane(self.label(pane_id), self.logs[pane_id], id=pane_id))
        return self.panes[key]

    def close(self, pane_id: str) -> None:
        """Close a private chat's tab (it opens again with the next message)."""
        partner = self.partners.pop(pane_id)
        del self.panes[username_key(partner)], self.logs[pane_id], self.unread[pane_id]
        self.remove_pane(pane_id)

    def count_unread(self, pane_id: str) -> None:
        if self.active != pane_id:
            self.unread[pane_id] += 1
            self.get_tab(pane_id).label = self.label(pane_id)

    def read(self, pane_id: str) -> None:
        """The tab is on screen: nothing in it is unread."""
        self.unread[pane_id] = 0
        self.get_tab(pane_id).label = self.label(pane_id)

    def label(self, pane_id: str) -> Content:
        """`@bob (2)`: the partner (or `# group`), and how many messages came while the
        tab was hidden. Content, not a string, which Textual would read as markup."""
        unread = f" ({self.unread[pane_id]})" if self.unread[pane_id] else ""
        name = "# group" if pane_id == GROUP else f"@{visible(self.partners[pane_id])}"
        return Content(f"{name}{unread}")

    def switch(self, step: int) -> None:
        ids = [GROUP, *self.partners]
        self.active = ids[(ids.index(self.active) + step) % len(ids)]
