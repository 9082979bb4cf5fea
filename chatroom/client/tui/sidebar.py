"""The sidebar of the chat screen: the conversations open in tabs, with their unread
counts (in bold yellow where someone named you), who is online with their status, to
pick one for a private chat, and your contacts with the requests waiting for you."""

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from chatroom.client.tui.people import People


class Sidebar(Vertical):
    def __init__(self, me: str) -> None:
        super().__init__(id="sidebar")
        self.me = me

    def compose(self) -> ComposeResult:
        yield Static("Conversations", id="places-title")
        yield OptionList(id="places")
        yield Static("Online", id="sidebar-title")
        yield OptionList(id="users")
        yield Static("Contacts", id="contacts-title")
        yield OptionList(id="contacts")

    def show_places(self, labels: dict[str, Content]) -> None:
        """The tabs' labels, by pane id, in tab order."""
        places = self.query_one("#places", OptionList)
        highlighted = places.highlighted
        places.clear_options()
        places.add_options(Option(label, id=pane_id) for pane_id, label in labels.items())
        if highlighted is not None and highlighted < places.option_count:
            places.highlighted = highlighted

    def show(self, people: People) -> None:
        """Who is online, with their status (picking yourself opens your profile), and
        your contacts, requests waiting for your answer first (none on a server that
        keeps no contacts)."""
        if not self.query("#users"):
            return  # the screen is closing and its widgets are gone (news came meanwhile)
        users = self.query_one("#users", OptionList)
        users.clear_options()
        users.add_options(
            Option(people.label(name), id=name)
            # Alphabetical: username_key is for telling users apart, and sorts `mary` as `rnary`.
            for name in sorted(people.online, key=str.casefold)
        )
        self.query_one("#sidebar-title", Static).update(f"Online ({len(people.online)})")
        contacts = self.query_one("#contacts", OptionList)
        title = self.query_one("#contacts-title", Static)
        contacts.display = title.display = people.contacts_kept
        contacts.clear_options()
        rows = people.contact_labels()
        contacts.add_options(Option(label, id=name) for name, label in rows)
        title.update(f"Contacts ({len(rows)})")
