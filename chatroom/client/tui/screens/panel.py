"""A panel over the chat: a list to pick from (search results, a conversation's files).

Enter picks the highlighted row and the panel is dismissed with its index; Esc closes
it with None. The rows are `Content`, never markup, as they quote other people.
"""

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static


class Panel(ModalScreen[int | None]):
    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, title: str, rows: list[Content]) -> None:
        super().__init__()
        self.title_text = title
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical(id="panel"):
            yield Static(self.title_text, id="panel-title", markup=False)
            yield OptionList(*self.rows, id="panel-rows")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option_index)

    def action_close(self) -> None:
        self.dismiss(None)
