"""A conversation's scrolling log: the group's or one private chat's.

Text from the network is appended as plain `rich.text.Text`, never parsed as markup, so a
message like `[bold]` or `[link=...]` shows exactly as typed.
"""

from datetime import datetime

from rich.text import Text
from textual.widgets import RichLog

from chatroom.common.files import human_size


class ConversationLog(RichLog):
    """Lines of `HH:MM sender: text`, notices, and dividers."""

    def __init__(self) -> None:
        super().__init__(wrap=True, markup=False, highlight=False, min_width=20)
        self.in_backlog = False
        """Whether the last line written was mail from while the user was away."""

    @staticmethod
    def _byline(ts: float, sender: str, *, mine: bool, private: bool) -> Text:
        """`HH:MM (private) sender`: how every line from a person starts."""
        line = Text()
        line.append(datetime.fromtimestamp(ts).strftime("%H:%M "), style="dim")
        if private:
            line.append("(private) ", style="magenta")
        line.append(sender, style="bold green" if mine else "bold cyan")
        return line

    def write_message(
        self, ts: float, sender: str, text: str, *, mine: bool, private: bool
    ) -> None:
        line = self._byline(ts, sender, mine=mine, private=private)
        line.append(": ")
        line.append(text, style="magenta" if private else "")
        self.write(line)

    def write_file(
        self, ts: float, sender: str, name: str, size: int, fid: int, *, mine: bool, private: bool
    ) -> None:
        line = self._byline(ts, sender, mine=mine, private=private)
        line.append(" sent the file ")
        line.append(name, style="bold")
        line.append(f" ({human_size(size)})")
        if not mine:
            line.append(f"  /get {fid} or Ctrl+S saves it", style="dim")
        self.write(line)

    def write_notice(self, text: str, style: str = "yellow") -> None:
        self.write(Text(f"* {text}", style=style))

    def begin_delivery(self, offline: bool) -> None:
        """Before a line from the network: mail from while the user was away goes under a
        divider, and another divider marks where live traffic starts again."""
        if offline and not self.in_backlog:
            self.write_divider("while you were away")
        elif not offline and self.in_backlog:
            self.write_divider("new")
        self.in_backlog = offline

    def write_divider(self, label: str) -> None:
        self.write(Text(f"── {label} ──", style="bold yellow"))
