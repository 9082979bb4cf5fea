"""A conversation's scrolling log: the group's or one private chat's.

Text from the network is appended as plain `rich.text.Text`, never parsed as markup, so a
message like `[bold]` or `[link=...]` shows exactly as typed. Characters that would act on
the terminal show as escapes in reverse video (`chatroom.client.visible`), and every row of
a message after its first starts with a gutter, so no line of a message, whether the
sender broke it or the log wrapped it, can pass for a message of its own.
"""

import re
from collections import deque
from datetime import datetime
from typing import Self, cast

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.text import Text
from textual import events
from textual.widgets import RichLog

from chatroom.client.tui.commands import ACTION
from chatroom.client.visible import message_lines, pieces
from chatroom.common.files import human_size

REFLOWED = 5000
"""Entries kept to be wrapped again when the width changes (the older ones keep the
width they were wrapped to)."""

GUTTER = "      │ "
"""In front of a message's further rows. Times start at column 0 and names at column 6,
where this has its bar: a fake `18:12 admin:` line cannot start where a real one does."""


def mentions(text: str, name: str) -> bool:
    """Whether `text` says `name` as a word of its own (any case): `bob`, `@bob`, `bob:`,
    but not `bobby` or `kebob`."""
    return re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", text, re.IGNORECASE) is not None


def shown(text: str, style: str = "") -> Text:
    """`text` on one line, acting characters as escapes in reverse video."""
    line = Text(style=style)
    for piece in pieces(text):
        line.append(piece.text, style="reverse" if piece.escaped else None)
    return line


class MessageRows:
    """A message in the log: its first line after the byline, then the other lines, and
    any part the log's width pushes onto a row of its own, each behind the GUTTER."""

    def __init__(self, first: Text, more: list[Text]) -> None:
        self.first = first
        self.more = more

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        head = self.first.wrap(console, width)[0]
        rest = self.first[len(head.plain) :]
        rest = rest[len(rest.plain) - len(rest.plain.lstrip()) :]  # the space it wrapped at
        yield head
        for line in [rest, *self.more] if rest.plain else self.more:
            for row in line.wrap(console, max(width - len(GUTTER), 1)):
                yield Text.assemble((GUTTER, "dim"), row)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        widest = max([self.first.cell_len, *(len(GUTTER) + line.cell_len for line in self.more)])
        return Measurement(min(widest, len(GUTTER) + 1), widest)


class ConversationLog(RichLog):
    """Lines of `HH:MM sender: text`, notices, and dividers.

    It never takes the keyboard: a click in it (to select text, say) leaves the focus in
    the input, so what is typed next is not lost. The screen scrolls it with the keys."""

    can_focus = False

    def __init__(self) -> None:
        super().__init__(wrap=True, markup=False, highlight=False, min_width=20)
        self.in_backlog = False
        """Whether the last line written was mail from while the user was away."""
        self.unseen = 0
        """Entries written since the view was scrolled up from the end (WeeChat's -MORE-)."""
        self._following = True
        self._entries: deque[RenderableType] = deque(maxlen=REFLOWED)
        self._width = 0
        """The width the lines were wrapped to."""

    def write(
        self,
        content: RenderableType | object,
        width: int | None = None,
        expand: bool = False,
        shrink: bool = True,
        scroll_end: bool | None = None,
        animate: bool = False,
    ) -> Self:
        """Write an entry, and keep it to wrap again when the width changes. (Before the
        log has a size, RichLog holds the entry and writes it here again once it has.)"""
        if self._size_known:
            self._entries.append(cast(RenderableType, content))
            # Follow new lines only from the end: someone reading further up stays where
            # they are, and is told how much came below.
            if not self._following:
                self.unseen += 1
                self._show_unseen()
            scroll_end = self._following if scroll_end is None else scroll_end
        return super().write(content, width, expand, shrink, scroll_end, animate)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Whether the view follows new lines is decided where it was moved to: not by
        where it is when a line comes, which is short of the end while a scroll to the
        previous line is still under way."""
        super().watch_scroll_y(old_value, new_value)
        self._following = self.is_vertical_scroll_end
        if self.unseen and self._following:
            self.unseen = 0
            self._show_unseen()

    def _show_unseen(self) -> None:
        self.border_subtitle = f"▼ {self.unseen} new below (PgDn)" if self.unseen else ""
        self.set_class(bool(self.unseen), "-more")

    def on_resize(self, event: events.Resize) -> None:
        """Wrap every kept entry again to the new width (a tab shown for the first time,
        a terminal made wider), staying at the end if the view was there."""
        width = event.size.width
        if not width or width == self._width:
            return
        if not self._width:  # the first size: RichLog writes what waited for it
            self._width = width
            return
        self._width = width
        # After the layout has caught up: the region to wrap to is not the new one yet.
        self.call_after_refresh(self._reflow, self.is_vertical_scroll_end)

    def _reflow(self, at_end: bool) -> None:
        # The width said outright: measuring goes by the console's, which can lag behind.
        width = max(self.scrollable_content_region.width, self.min_width)
        entries = list(self._entries)
        self.clear()
        for entry in entries:
            super().write(entry, width=width, scroll_end=False)
        if at_end:
            self.scroll_end(animate=False, immediate=True)

    @staticmethod
    def _byline(ts: float, sender: str, *, mine: bool, private: bool, action: bool = False) -> Text:
        """`HH:MM (private) sender`: how every line from a person starts (`* sender` for
        an action, `/me`)."""
        line = Text()
        line.append(datetime.fromtimestamp(ts).strftime("%H:%M "), style="dim")
        if private:
            line.append("(private) ", style="magenta")
        if action:
            line.append("* ", style="bold")
        line.append_text(shown(sender, style="bold green" if mine else "bold cyan"))
        return line

    def write_message(
        self, ts: float, sender: str, text: str, *, mine: bool, private: bool, mention: bool = False
    ) -> None:
        style = "magenta" if private else ""
        action = text.startswith(ACTION) and len(text) > len(ACTION)
        first, *more = message_lines(text[len(ACTION) :] if action else text)
        line = self._byline(ts, sender, mine=mine, private=private, action=action)
        if mention:  # the byline stands out: someone said your name
            line.stylize("reverse bold yellow", 6)
        line.append(" " if action else ": ")
        line.append_text(shown(first, style))
        self.write(MessageRows(line, [shown(other, style) for other in more]))

    def write_file(
        self, ts: float, sender: str, name: str, size: int, fid: int, *, mine: bool, private: bool
    ) -> None:
        line = self._byline(ts, sender, mine=mine, private=private)
        line.append(" sent the file ")
        line.append_text(shown(name, style="bold"))
        line.append(f" ({human_size(size)})")
        if not mine:
            line.append(f"  /get {fid} or Ctrl+S saves it", style="dim")
        self.write(MessageRows(line, []))

    def write_notice(self, text: str, style: str = "yellow") -> None:
        """`* text`: what the client has to say, which may quote the server or the user."""
        self.write(Text("* ", style=style).append_text(shown(text)))

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
