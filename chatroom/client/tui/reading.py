"""Reading conversations: each tab's history from the server, and read markers.

The TUI asks for `pull` in `hello`, so the server sends no replay at login: a tab fills
with the last page of its conversation's history when it is first shown, with a `new`
divider at the read marker; scrolling past its top brings the page before; after a
reconnection, the tabs already filled catch up on what came meanwhile. What the user has
seen (a tab on screen, scrolled to its end) is told to the server with `read`, so the
badge on their other devices clears too.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from chatroom.client.api import explained
from chatroom.client.replies import ConversationState, conversation_item
from chatroom.client.tui.conversation import ConversationLog
from chatroom.client.tui.entries import Item, divider, item_entry
from chatroom.client.tui.session import OFFLINE, ChatSession
from chatroom.client.tui.tabs import GROUP, ConversationTabs, conversation_key
from chatroom.common.errors import ChatError
from chatroom.common.limits import LOBBY, PAGE_MAX
from chatroom.common.readable import reading

PAGE = 50
"""Messages a tab opens with, and loads each time its top is passed."""

CATCH_UP = 1000
"""After a reconnection, a tab catches up on at most this many messages; past that, it
starts again from the newest page, and scrolling up brings the rest."""

REACH = 100
"""Pages of history a tab reads back at most to show a message found by `/search`."""

LAYOUT_WAIT = 5.0
"""Seconds a found message waits for its newly opened tab to be laid out."""

READ_DELAY = 0.5
"""Seconds to gather what is read into one `read` per conversation."""


class Reading:
    def __init__(self, session: ChatSession, tabs: ConversationTabs) -> None:
        self.session = session
        self.tabs = tabs
        self.markers: dict[str, int] = {}
        """Conversation key (`tabs.conversation_key`) -> the server's read marker (a mid),
        for every conversation, with a tab or not."""
        self.unsent: set[str] = set()
        """Panes read further than the server knows, waiting out `READ_DELAY`."""
        self.loading: dict[str, list[Item]] = {}
        """Panes whose history is on its way -> what came live meanwhile."""
        self.locks: dict[str, asyncio.Lock] = {}
        """One page request at a time per pane."""
        self.unmarked: dict[str, int] = {}
        """Panes whose `new` divider is in a page not loaded yet -> the read marker."""

    def conversation(self, pane_id: str) -> dict[str, str]:
        """The fields naming a pane's conversation in a request."""
        partner, room = self.tabs.partners.get(pane_id), self.tabs.rooms.get(pane_id)
        if partner is not None:
            return {"with": partner}
        return {"room": room if room is not None else LOBBY}

    def pane_of(self, state: ConversationState, open_tab: bool) -> str | None:
        """The pane of a conversation the server named; a room's opens, a private one
        only when `open_tab` (it has something unread, say)."""
        if state.with_user is None:
            return self.tabs.pane_of(None, state.room)
        if open_tab or state.with_user in self.tabs.partners.values():
            return self.tabs.private_pane(state.with_user)
        return None

    def started(self, states: list[ConversationState]) -> None:
        """At each login: a tab for every room and every private conversation with
        something unread; the server's markers and unread counts."""
        on_screen = self.tabs.active or GROUP  # being read: no badge
        for state in states:
            self.markers[conversation_key(state.with_user, state.room)] = state.read_upto
            pane_id = self.pane_of(state, open_tab=state.unread > 0)
            if pane_id is not None and pane_id != on_screen:
                self.tabs.set_unread(pane_id, state.unread)

    def marker_moved(self, state: ConversationState) -> None:
        """Another session of this user read a conversation: its badge follows."""
        self._moved(conversation_key(state.with_user, state.room), state.read_upto)
        pane_id = self.pane_of(state, open_tab=False)
        if pane_id is not None:
            self.tabs.set_unread(pane_id, state.unread)

    def _moved(self, key: str, mid: int) -> None:
        self.markers[key] = max(self.markers.get(key, 0), mid)

    def sent(self, pane_id: str, item: Item) -> bool:
        """This session's message or file was stored (the server moved the read marker
        to it): whether to write it now, as for `arrived`."""
        self._moved(self.tabs.key_of(pane_id), item.mid or 0)
        return self.arrived(pane_id, item)

    def arrived(self, pane_id: str, item: Item) -> bool:
        """A live message for a pane: whether to write it now. One whose history is on
        its way is held until that comes; one whose tab has no history yet is left to
        the history it will be in (unless the server keeps none)."""
        log = self.tabs.logs[pane_id]
        if pane_id in self.loading:
            self.loading[pane_id].append(item)
            return False
        if log.detached:
            log.missed()  # the newest are fetched again when the view comes back down
            return False
        return log.loaded or not self.session.link.history

    @contextlib.asynccontextmanager
    async def _paging(self, pane_id: str, log: ConversationLog, me: str) -> AsyncIterator[None]:
        """One page request at a time for a pane; what comes live meanwhile is held and
        written after the page (if the log has its history: else the history has it)."""
        async with self.locks.setdefault(pane_id, asyncio.Lock()):
            self.loading[pane_id] = []
            try:
                yield
            finally:
                for item in self.loading.pop(pane_id):
                    if log.detached:
                        log.missed()
                    elif log.loaded:
                        log.write_item(item, me)

    async def fill(self, pane_id: str, me: str) -> None:
        """The newest page of a pane's conversation, with a `new` divider where the
        user stopped reading; then what came while it loaded."""
        log = self.tabs.logs.get(pane_id)
        if log is None:
            return  # closed meanwhile
        async with self._paging(pane_id, log, me):
            if log.loaded:
                return
            if not self.session.link.history:  # a first-version server: no history to ask
                log.loaded = True
                return
            try:
                page, more = await self._page(pane_id, None, PAGE)
            except (ChatError, OSError) as error:
                log.write_notice(_history_not_loaded(error), style="red")
                return
            marker = self.markers.get(self.tabs.key_of(pane_id))
            if marker is None and pane_id in self.tabs.partners:
                marker = 0  # a private conversation begun since the login: all of it is new
            if marker is not None:
                self.unmarked[pane_id] = marker
            for entry in self._entries(pane_id, log, page, more, me):
                log.write(entry)
            log.more_before, log.loaded = more, True

    async def older(self, log: ConversationLog, me: str, wait: bool = False) -> None:
        """The page before the oldest message shown, above it. Asked for again while
        a page is on its way (more scrolling), it does nothing, unless told to `wait`."""
        pane_id = next((pane for pane, each in self.tabs.logs.items() if each is log), None)
        if pane_id is None or (not wait and pane_id in self.loading):
            return
        async with self._paging(pane_id, log, me):
            if not log.more_before:
                return
            try:
                page, more = await self._page(pane_id, log.oldest_mid or None, PAGE)
            except (ChatError, OSError):
                return  # scrolling up again tries again
            log.write_older(self._entries(pane_id, log, page, more, me))
            log.more_before = more

    def _entries(
        self, pane_id: str, log: ConversationLog, page: list[Item], more: bool, me: str
    ) -> list[Any]:
        """How a page of history shows: the messages not shown yet, and the `new`
        divider above the first one after the read marker that is not the user's own
        (what they sent they have read), if it is on this page (not if the page starts
        past the marker and older pages are left: it is in one of those)."""
        marker = self.unmarked.get(pane_id)
        unread_from = None
        # On this page, unless the page starts past the marker with older pages left.
        if marker is not None and not (more and page and (page[0].mid or 0) > marker):
            unread = (n for n, item in enumerate(page) if item.sender != me)
            unread_from = next((n for n in unread if (page[n].mid or 0) > marker), None)
            del self.unmarked[pane_id]
        entries: list[Any] = []
        for index, item in enumerate(page):
            if index == unread_from:
                entries.append(divider("new"))
            if not log.shows(item.mid or 0):
                entries.append(item_entry(item, me))
        return entries

    async def newest(self, log: ConversationLog, me: str) -> None:
        """Back at the end of a detached log: it starts again from the newest page."""
        pane_id = next((pane for pane, each in self.tabs.logs.items() if each is log), None)
        if pane_id is None or pane_id in self.loading or not log.detached:
            return
        log.clear()
        log.loaded = log.more_before = False
        log.unseen = 0
        await self.fill(pane_id, me)

    async def reach(self, pane_id: str, mid: int, me: str) -> None:
        """Show message `mid` of a pane (a search result): its history is filled and
        paged back until the message is in the log (at most `REACH` pages back), then
        the view is scrolled to it."""
        log = self.tabs.logs.get(pane_id)
        if log is None:
            return
        await self.fill(pane_id, me)
        # A tab opened for it holds its lines until it has a size; older pages go above.
        with contextlib.suppress(TimeoutError):  # (another tab put on screen meanwhile)
            async with asyncio.timeout(LAYOUT_WAIT):
                await log.laid_out.wait()
        for _ in range(REACH):
            if log.shows(mid) or not log.more_before:
                break
            oldest = log.oldest_mid
            await self.older(log, me, wait=True)
            if log.oldest_mid == oldest:
                break  # nothing came: the connection is down
        line = log.line_of(mid)
        if line is None:
            log.write_notice("That message is not loaded; scroll up, or /search again.")
        else:
            log.scroll_to(y=line, animate=False)

    async def catch_up(self, pane_id: str, me: str) -> None:
        """After a reconnection: what came since the newest message shown; past
        `CATCH_UP` of them, the tab starts again from the newest page (scrolling up
        brings the rest)."""
        log = self.tabs.logs.get(pane_id)
        if log is None or not log.loaded or log.detached or not self.session.link.history:
            return  # (a detached log fetches the newest when scrolled to its end)
        async with self._paging(pane_id, log, me):
            missed: list[Item] = []
            before: int | None = None
            try:
                while len(missed) <= CATCH_UP:
                    page, more = await self._page(pane_id, before, PAGE_MAX)
                    missed[:0] = [item for item in page if (item.mid or 0) > log.newest_mid]
                    reached = not more or not page or (page[0].mid or 0) <= log.newest_mid
                    if reached and len(missed) <= CATCH_UP:
                        for item in missed:
                            log.write_item(item, me)
                        return
                    before = page[0].mid
            except (ChatError, OSError):
                return  # the next reconnection tries again
            log.clear()
            log.loaded = log.more_before = False
        await self.fill(pane_id, me)
        log.write_notice(
            f"Over {CATCH_UP:,} messages came while you were disconnected: above are the "
            "newest; scroll up for the rest."
        )

    async def _page(self, pane_id: str, before: int | None, limit: int) -> tuple[list[Item], bool]:
        """One page of history, oldest first, and whether there is more before it."""
        below = {"before": before} if before else {}
        named = self.conversation(pane_id)
        reply = await self.session.request("history", **named, **below, limit=limit)
        with reading("the history reply"):
            return [conversation_item(item) for item in reply["messages"]], bool(reply["more"])

    def seen(self, pane_id: str) -> bool:
        """The pane is on screen at its end: True if a `send_reads` should now start
        (never on a server without history: it keeps no read markers either)."""
        log = self.tabs.logs.get(pane_id)
        if log is None or not log.newest_mid or not self.session.link.history:
            return False
        if log.newest_mid <= self.markers.get(self.tabs.key_of(pane_id), 0) or not log.loaded:
            return False
        due = not self.unsent
        self.unsent.add(pane_id)
        return due

    async def send_reads(self) -> None:
        """After `READ_DELAY`, one `read` for each conversation read meanwhile."""
        await asyncio.sleep(READ_DELAY)
        panes, self.unsent = self.unsent, set()
        for pane_id in panes:
            log = self.tabs.logs.get(pane_id)
            if log is None:
                continue
            with contextlib.suppress(ChatError, OSError):
                await self.session.request(
                    "read", **self.conversation(pane_id), upto=log.newest_mid
                )
                self._moved(self.tabs.key_of(pane_id), log.newest_mid)


def _history_not_loaded(error: Exception) -> str:
    """Why a tab shows no history. Offline, it is asked for again once reconnected (the
    tab on screen at once, the others when opened): nothing to try again by hand."""
    if isinstance(error, ChatError) and error.code == OFFLINE:
        return "History not loaded: not connected; it loads once reconnected."
    why = explained(error) if isinstance(error, ChatError) else "the connection dropped"
    return f"History not loaded: {why}"
