"""A conversation's scrolling log: the group's, a room's or one private chat's.

It keeps the entries it shows (see `entries`: messages, files, notices, dividers), a
window of the conversation, to wrap them again when its width changes and to know
which messages it shows, by mid.
"""

import asyncio
from typing import Self, cast

from rich.console import RenderableType
from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.message import Message
from textual.widgets import RichLog

from chatroom.client.tui.entries import (
    Item,
    MessageRows,
    divider,
    item_entry,
    message_entry,
    shown,
)

WINDOW = 3000
"""Entries a log holds at most, a window on the conversation: past it, the oldest go as
new ones come (scrolling up brings them back from the server), and the newest go when
older pages are loaded (scrolling back to the end brings them back). A row on screen
costs Textual about 2.5 KB, so a tab holds some 10 MB, however long the conversation."""

TRIM = WINDOW // 10
"""Entries past the window that are let in before the oldest are dropped, all at once."""

REFLOW_CHUNK = 100
"""Entries wrapped again at a time when the width changes, newest first (some 0.3 ms
each): between chunks the app handles keys, so a resize never holds up typing."""

REFLOW_GAP = 0.01
"""Seconds between two chunks of a reflow."""


class ConversationLog(RichLog):
    """Lines of `HH:MM sender: text`, notices, and dividers.

    It never takes the keyboard: a click in it (to select text, say) leaves the focus in
    the input, so what is typed next is not lost. The screen scrolls it with the keys.
    It knows which messages it shows (by mid), so a message that comes both live and in
    a page of history is shown once, and history pages go above what is there."""

    can_focus = False

    class OlderWanted(Message):
        """The view was scrolled to the top of a log with older history on the server."""

        def __init__(self, log: "ConversationLog") -> None:
            super().__init__()
            self.log = log

    class NewerWanted(Message):
        """The view reached the end of a log whose newest messages were let go."""

        def __init__(self, log: "ConversationLog") -> None:
            super().__init__()
            self.log = log

    class CaughtUp(Message):
        """The view reached the end of the log: what it shows has been read."""

        def __init__(self, log: "ConversationLog") -> None:
            super().__init__()
            self.log = log

    def __init__(self) -> None:
        super().__init__(wrap=True, markup=False, highlight=False, min_width=20)
        self.unseen = 0
        """Entries written since the view was scrolled up from the end (WeeChat's -MORE-)."""
        self.loaded = False
        """Whether the conversation's recent history has been fetched into the log."""
        self.more_before = False
        """Whether the server has messages older than the oldest shown."""
        self.detached = False
        """Whether the newest messages were let go to make room for older ones."""
        self._keeping_place = False
        self._following = True
        self._entries: list[RenderableType] = []
        self._starts: list[int] = []
        """The first line of each entry."""
        self._widths: list[int] = []
        """The width each entry was wrapped to."""
        self._mids: set[int] = set()
        self.newest_mid = 0
        self.oldest_mid = 0
        """The mids of the newest and oldest messages shown (0: none)."""
        self._width = 0
        """The width the log last had on screen."""
        self._reflowing = False
        self._wrap_to = 0
        """The width of the text when the log was last on screen."""
        self.laid_out = asyncio.Event()
        """Set once the log has a size and has written the entries that waited for it."""

    def shows(self, mid: int) -> bool:
        return mid in self._mids

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
        log has a size, RichLog holds the entry and writes it here again once it has; its
        message counts as shown from now.)"""
        if self._size_known:
            if self.scrollable_content_region.width:
                self._wrap_to = self.scrollable_content_region.width
            elif width is None and self._wrap_to:  # a hidden tab wraps as when last shown
                width = self._wrap_to
            wrapped = self._wrap_width() if width is None else width
            self._keep(cast(RenderableType, content), len(self._entries), len(self.lines), wrapped)
            # Follow new lines only from the end: someone reading further up stays where
            # they are, and is told how much came below.
            if not self._following:
                self.unseen += 1
                self._show_unseen()
            elif getattr(content, "mid", 0):
                self.post_message(self.CaughtUp(self))  # a message in view is read
            if scroll_end is None:
                # Follow once the line is laid out, if the reader is still at the end
                # then: a PageUp pressed meanwhile is not undone by a line that came
                # before it.
                scroll_end = False
                if self._following:
                    self.call_after_refresh(self._follow)
        else:  # shown once laid out: not to be written again meanwhile
            self._count(_mid_of(cast(RenderableType, content)))
        super().write(content, width, expand, shrink, scroll_end, animate)
        if len(self._entries) > WINDOW + TRIM:
            self._let_go_oldest(len(self._entries) - WINDOW)
        return self

    def _follow(self) -> None:
        if self._following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def _let_go_oldest(self, count: int) -> None:
        cut = self._starts[count]
        self._forget(self._entries[:count])
        del self._entries[:count], self._starts[:count], self._widths[:count], self.lines[:cut]
        self._starts = [start - cut for start in self._starts]
        self.oldest_mid = min((mid for mid in map(_mid_of, self._entries) if mid), default=0)
        self.more_before = True
        self._lines_changed(self.scroll_y - cut)

    def _let_go_newest(self) -> None:
        cut = self._starts[WINDOW]
        self._forget(self._entries[WINDOW:])
        del self._entries[WINDOW:], self._starts[WINDOW:], self._widths[WINDOW:], self.lines[cut:]
        self.newest_mid = max(map(_mid_of, self._entries), default=0)
        self.detached = True

    def _forget(self, entries: list[RenderableType]) -> None:
        self._mids.difference_update(map(_mid_of, entries))

    def _lines_changed(self, y: float) -> None:
        self._line_cache.clear()
        self.virtual_size = Size(self._widest_line_width, len(self.lines))
        if not self._following:
            self._keeping_place = True  # not the reader's move: nothing to fetch for it
            self.scroll_to(y=max(y, 0), animate=False, immediate=True)
            self._keeping_place = False

    def missed(self) -> None:
        """A message came that a detached log does not show: it is counted below."""
        self.unseen += 1
        self._show_unseen()

    def _keep(self, entry: RenderableType, index: int, start: int, width: int) -> None:
        self._entries.insert(index, entry)
        self._starts.insert(index, start)
        self._widths.insert(index, width)
        self._count(_mid_of(entry))

    def _count(self, mid: int) -> None:
        """Message `mid` (0: not a message) is shown."""
        if mid:
            self._mids.add(mid)
            self.newest_mid = max(self.newest_mid, mid)
            self.oldest_mid = min(self.oldest_mid or mid, mid)

    def write_item(self, item: Item, me: str) -> bool:
        """Write a message or file unless it is shown already; whether it was written."""
        if item.mid is not None and item.mid in self._mids:
            return False
        self.write(item_entry(item, me))
        return True

    def write_older(self, entries: list[RenderableType]) -> None:
        """Put entries of older history above what is shown, the view staying on the
        lines it showed."""
        if not entries or not self._size_known:
            for entry in entries:
                self.write(entry)
            return
        newer, y = self.lines, self.scroll_y
        self.lines = []
        width = self._wrap_width()
        for index, entry in enumerate(entries):
            self._keep(entry, index, len(self.lines), width)
            super().write(entry, width=width, scroll_end=False)
        added = len(self.lines)
        self._starts[len(entries) :] = [start + added for start in self._starts[len(entries) :]]
        self.lines.extend(newer)
        if len(self._entries) > WINDOW:
            self._let_go_newest()
        self._following = False  # reading back: new lines do not pull the view down
        self._lines_changed(y + added)

    def line_of(self, mid: int) -> int | None:
        """The first line of message `mid`, if it is shown (and the log laid out)."""
        for index, entry in enumerate(self._entries):
            if _mid_of(entry) == mid:
                return self._starts[index]
        return None

    def clear(self) -> Self:
        self._entries, self._starts, self._widths, self._mids = [], [], [], set()
        self.newest_mid = self.oldest_mid = 0
        self.detached = False
        return super().clear()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Whether the view follows new lines is decided where it was moved to: not by
        where it is when a line comes, which is short of the end while a scroll to the
        previous line is still under way."""
        super().watch_scroll_y(old_value, new_value)
        self._following = self.is_vertical_scroll_end
        if self._keeping_place:
            return
        if self._following:
            self.post_message(self.NewerWanted(self) if self.detached else self.CaughtUp(self))
            if self.unseen:
                self.unseen = 0
                self._show_unseen()
        if new_value == 0 and old_value > 0 and self.more_before:
            self.post_message(self.OlderWanted(self))

    def scroll_by_keys(self, how: str) -> None:
        """PageUp (`page_up`), PageDown (`page_down`) or Ctrl+End (`end`) from the input;
        at the top (or the end) already, ask for the page beyond as scrolling there would."""
        if how == "page_up" and self.scroll_y == 0 and self.more_before:
            self.post_message(self.OlderWanted(self))
        if how != "page_up" and self.is_vertical_scroll_end and self.detached:
            self.post_message(self.NewerWanted(self))
        getattr(self, f"scroll_{how}")(animate=False)

    def _show_unseen(self) -> None:
        self.border_subtitle = f"▼ {self.unseen} new below (PgDn)" if self.unseen else ""
        self.set_class(bool(self.unseen), "-more")

    def on_resize(self, event: events.Resize) -> None:
        """Wrap again, the newest first, the entries wrapped to another width: a terminal
        made wider, or a tab shown again (at the same size: what was written while it was
        hidden may have had no width but the least to wrap to)."""
        width = event.size.width
        if not width:
            return
        if not self._width:  # the first size: RichLog writes what waited for it
            self._width = width
            self.call_after_refresh(self.laid_out.set)
            return
        self._width = width
        if not self._reflowing:
            self._reflowing = True
            # After the layout has caught up: the region to wrap to is not the new one yet.
            self.call_after_refresh(self._reflow)

    def _wrap_width(self) -> int:
        # The width said outright: measuring goes by the console's, which can lag behind.
        return max(self.scrollable_content_region.width, self.min_width)

    def _reflow(self) -> None:
        """Wrap again the newest run of entries (REFLOW_CHUNK at most) wrapped to another
        width than the log's, the view staying on its lines (or at the end); then, after
        a moment, the next run."""
        width = self._wrap_width()
        wrong = [index for index, wrapped in enumerate(self._widths) if wrapped != width]
        if not wrong or not self.scrollable_content_region.width:  # done, or hidden again
            self._reflowing = False
            return
        last = first = wrong[-1]
        while first > 0 and last - first + 1 < REFLOW_CHUNK and self._widths[first - 1] != width:
            first -= 1
        self._write_again(first, last, width)
        self.set_timer(REFLOW_GAP, self._reflow)

    def _write_again(self, first: int, last: int, width: int) -> None:
        """Write entries `first` to `last` again, in place, wrapped to `width`; the view
        stays on its lines (or at the end)."""
        start = self._starts[first]
        end = self._starts[last + 1] if last + 1 < len(self._starts) else len(self.lines)
        kept, top, at_end = self.lines, self.scroll_y, self._following
        y = top  # where the view goes: the same rows, or the same place in its entry
        was = [*self._starts[first : last + 1], end]
        self.lines = []
        for index in range(first, last + 1):
            self._starts[index] = now = start + len(self.lines)
            self._widths[index] = width
            super().write(self._entries[index], width=width, scroll_end=False)
            old = was[index - first]
            if old <= top < was[index - first + 1]:  # the view's top row is of this entry
                y = now + min(top - old, start + len(self.lines) - now - 1)
        added = len(self.lines) - (end - start)
        self.lines = kept[:start] + self.lines + kept[end:]
        self._starts[last + 1 :] = [each + added for each in self._starts[last + 1 :]]
        self._lines_changed(top + added if top >= end else y)
        if at_end:
            self.scroll_end(animate=False, immediate=True)

    def show_deleted(self, mid: int) -> None:
        """Show message `mid`, if it is here, as deleted: its byline, and no text."""
        for index, entry in enumerate(self._entries):
            if _mid_of(entry) == mid and isinstance(entry, MessageRows):
                self._entries[index] = entry.deleted()
                self._write_again(index, index, self._widths[index])
                return

    def newest_mine(self) -> int:
        """The mid of the newest message here that the user sent (0: none)."""
        mine = (e for e in reversed(self._entries) if isinstance(e, MessageRows) and e.mine)
        return next((entry.mid for entry in mine if entry.mid), 0)

    def write_message(
        self, ts: float, sender: str, text: str, *, mine: bool, private: bool, mention: bool = False
    ) -> None:
        self.write(message_entry(ts, sender, text, mine=mine, private=private, mention=mention))

    def write_notice(self, text: str, style: str = "yellow") -> None:
        """`* text`: what the client has to say, which may quote the server or the user."""
        self.write(Text("* ", style=style).append_text(shown(text)))

    def write_divider(self, label: str) -> None:
        self.write(divider(label))


def _mid_of(entry: RenderableType) -> int:
    """The mid of the message an entry shows (0 for a notice or a divider)."""
    return getattr(entry, "mid", 0)
