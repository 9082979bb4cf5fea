"""The sidebar of the chat screen: who is online, to pick one for a private chat."""

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from chatroom.client.visible import visible


class Sidebar(Vertical):
    def __init__(self, me: str) -> None:
        super().__init__(id="sidebar")
        self.me = me

    def compose(self) -> ComposeResult:
        yield Static("Online", id="sidebar-title")
        yield OptionList(id="users")

    def show(self, online: set[str]) -> None:
        users = self.query_one("#users", OptionList)
        users.clear_options()
        users.add_options(
            Option(Content(f"{visible(name)} (you)" if name == self.me else visible(name)), id=name)
            # Alphabetical: username_key is for telling users apart, and sorts `mary` as `rnary`.
            for name in sorted(online, key=str.casefold)
        )
        self.query_one("#sidebar-title", Static).update(f"Online ({len(online)})")
