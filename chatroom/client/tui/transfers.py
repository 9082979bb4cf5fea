"""A progress bar for one upload or download, shown above the input line while it runs."""

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar


class TransferBar(Horizontal):
    def __init__(self, label: str, total: int) -> None:
        super().__init__(classes="transfer")
        self.label = label
        self.total = total

    def compose(self) -> ComposeResult:
        yield Label(self.label, classes="transfer-label", markup=False)
        yield ProgressBar(total=max(self.total, 1), show_eta=False)

    def advance_to(self, done: int, total: int) -> None:
        """A `Progress` callback for the client library."""
        self.query_one(ProgressBar).update(total=max(total, 1), progress=max(done, 0) or 0)
