"""A conversation's scrolling log: the group's or one private chat's.

Text from the network is appended as plain `rich.text.Text`, never parsed as markup, so a
message like `[bold]` or `[link=...]` shows exactly as typed.
"""

from datetime import datetime

from rich.text import Text
from textual.widgets import RichLog


class ConversationLog(RichLog):
    """Lines of `HH:MM sender: text`, notices, and dividers."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(wrap=True, markup=False, highlight=False, id=id, min_width=20)
        self.away_divider_shown = False

    def write_message(
        self, ts: float, sender: str, text: str, *, mine: bool, private: bool
    ) -> None:
        line = Text()
        line.append(datetime.fromtimestamp(ts).strftime("%H:%M "), style="dim")
        if private:
            line.append("(private) ", style="magenta")
        line.append(sender, style="bold green" if mine else "bold cyan")
        line.append(": ")
        line.append(text, style="magenta" if private else "")
        self.write(line)

    def write_notice(self, text: str, style: str = "yellow") -> None:
        self.write(Text(f"* {text}", style=style))

    def write_divider(self, label: str) -> None:
        self.write(Text(f"── {label} ──", style="bold yellow"))
