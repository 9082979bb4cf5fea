"""The chat screen: conversations in tabs, who is online, an input line, and the link status.

The screen draws; the `ChatSession` it is given keeps the connection. The screen runs the
session's coroutines as workers (relaying pushes and reconnecting, sending the outbox,
acks, pings, transfers) and shows what the session reports as Textual messages (`events`).
"""

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Input, OptionList, TabbedContent, TabPane

from chatroom.client.replies import ConversationState
from chatroom.client.tui import commands, news, typed
from chatroom.client.tui.conversation import ConversationLog
from chatroom.client.tui.entries import Item, written_to
from chatroom.client.tui.entry import Entry
from chatroom.client.tui.events import (
    FileUploaded,
    FileWanted,
    HelpWanted,
    MessageRefused,
    MessageSent,
    PushArrived,
    Reconnecting,
    SessionFailed,
    SessionLost,
    SessionStarted,
    TitleWanted,
)
from chatroom.client.tui.people import People
from chatroom.client.tui.reading import Reading
from chatroom.client.tui.screens.panel import Panel
from chatroom.client.tui.screens.profile import ProfileScreen
from chatroom.client.tui.session import ChatSession
from chatroom.client.tui.sidebar import Sidebar
from chatroom.client.tui.status import StatusLine
from chatroom.client.tui.tabs import GROUP, ConversationTabs
from chatroom.client.tui.transfers import Transfers
from chatroom.common.messages import (
    ContactPush,
    DeletedPush,
    FilePush,
    MessagePush,
    PresenceBatchPush,
    PresencePush,
    ReadPush,
)


class ChatScreen(Screen[None]):
    # Below 80 columns the sidebar of who is online folds away (/users still lists them).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (80, "-wide")]
    BINDINGS = [
        # First, so that the footer shows it however narrow the terminal (the app's own).
        Binding("ctrl+q", "app.quit_chat", "Quit", priority=True),
        Binding("ctrl+n", "switch_tab(1)", "Next tab"),
        Binding("ctrl+p", "switch_tab(-1)", "Previous tab"),
        Binding("ctrl+o", "pick_file", "Send file"),
        Binding("ctrl+s", "save_file", "Save file"),
        Binding("ctrl+u", "focus_users", "Users"),
        Binding("escape", "focus_entry", "Type", show=False),
        # The log scrolls while the input keeps the keyboard.
        Binding("pageup", "scroll_log('page_up')", "Scroll up", show=False),
        Binding("pagedown", "scroll_log('page_down')", "Scroll down", show=False),
        Binding("ctrl+end", "scroll_log('end')", "Newest", show=False),
        Binding("f1", "help", "Help", show=False),
        Binding("f3", "profile", "Profile", show=False),
    ]

    def __init__(
        self,
        session: ChatSession,
        *,
        downloads: Path,
        bell: bool = True,
        title_alerts: bool = True,
    ) -> None:
        super().__init__()
        self.bell = bell
        """Whether to ring the terminal bell on a private message or a mention."""
        self.title_alerts = title_alerts
        """Whether the terminal's title counts the unread messages written to the user."""
        self.session = session
        session.listen(self.post_message)
        self.me = session.me
        self.downloads = downloads
        """Where received files are saved."""
        self.people = People(self.me)
        self.tabs = ConversationTabs()
        # The tabs' own dicts (changed in place, never replaced), for short names here.
        self.logs, self.partners, self.unread = self.tabs.logs, self.tabs.partners, self.tabs.unread
        self.reading = Reading(session, self.tabs)

    def compose(self) -> ComposeResult:
        yield StatusLine(self.session)
        with Horizontal(id="chat-body"):
            with self.tabs, TabPane("# group", id=GROUP):
                yield self.logs[GROUP]
            yield Sidebar(self.me)
        yield Transfers(self.session, self.downloads)
        yield Entry(
            names=self.completion_names,
            commands=lambda: list(commands.PARSERS),
            placeholder="Message the group; /help for commands",
            id="entry",
        )
        yield Footer()

    def on_mount(self) -> None:
        self.logs[GROUP].write_notice(f"Logged in as {self.me}. Type /help for commands.")
        self.query_one("#entry", Input).focus()
        self.run_worker(self.session.keep(), group="session", exclusive=True)
        self.run_worker(self.session.send_outbox(), group="outbox")

    # -- what the session tells us ---------------------------------------------------

    def on_session_started(self, event: SessionStarted) -> None:
        """Tabs for the rooms and for what is unread; the tab on screen fills with its
        history, and those filled already catch up on what came while disconnected."""
        reply = event.reply
        self.people.logged_in(reply)
        self.people_changed()
        self.run_worker(self.load_people(), group="people", exclusive=True)
        self.reading.started(reply.conversations)
        self.run_worker(self.session.keep_pinging(), group="ping", exclusive=True)
        if self.query_one(StatusLine).reconnected():
            self.logs[GROUP].write_notice(self.session.link.reconnected(), style="green")
        for pane_id in list(self.logs):
            self.run_worker(self.reading.catch_up(pane_id, self.me), group="history")
        self.fill(self.tabs.active or GROUP)
        self.show_status()

    def fill(self, pane_id: str) -> None:
        self.run_worker(self.reading.fill(pane_id, self.me), group="history")

    def on_session_lost(self, event: SessionLost) -> None:
        why = f" ({event.reason})" if event.reason else ""
        self.logs[GROUP].write_notice(f"Disconnected from the server{why}.", style="red")
        self.show_status()

    def on_reconnecting(self, event: Reconnecting) -> None:
        self.query_one(StatusLine).reconnecting(event.delay)

    def on_session_failed(self, event: SessionFailed) -> None:
        self.logs[GROUP].write_notice(f"Cannot log in again: {event.message}", style="red")
        self.query_one(StatusLine).failed(event.message)
        self.people.gone()  # the list would say who was online when it ended
        self.people_changed()

    def on_push_arrived(self, event: PushArrived) -> None:
        push = event.push
        if isinstance(push, MessagePush | FilePush):
            self.show_delivery(push)
        elif isinstance(push, PresencePush | PresenceBatchPush):
            self.people.presence(push)
            self.people_changed()
        elif isinstance(push, ReadPush):
            upto, unread = push.upto, push.unread
            self.reading.marker_moved(ConversationState(push.room, push.with_user, unread, upto))
        elif (said := news.notice(push, self.tabs, self.people)) is not None:
            where, line, style = said
            log = self.shown_log() if where is news.SHOWN else self.logs[where]
            if line:  # (none for a deletion the user made: its reply said so)
                log.write_notice(line, style=style)
            if isinstance(push, DeletedPush):
                log.show_deleted(push.mid)
            if isinstance(push, ContactPush):
                self.people_changed()

    def on_message_sent(self, event: MessageSent) -> None:
        sent = event.sent
        item = MessagePush(sent.mid, self.me, event.to, event.text, sent.ts, room=event.room)
        pane_id = self.show_sent(item)
        if event.to is not None and not sent.delivered:
            self.logs[pane_id].write_notice(f"{event.to} is offline; they get it at next login.")
        self.show_status()

    def on_file_uploaded(self, event: FileUploaded) -> None:
        self.show_sent(event.file)

    def show_sent(self, item: MessagePush | FilePush) -> str:
        """Write what the user sent into its conversation; its pane."""
        pane_id = self.pane_for(item)
        if self.reading.sent(pane_id, item):
            self.logs[pane_id].write_item(item, self.me)
        return pane_id

    def on_message_refused(self, event: MessageRefused) -> None:
        """Say why in its tab (in a toast too if that is hidden; in the tab on screen if it
        is closed: see `refused_pane`), and give the text back to that tab's input."""
        pane_id, to = typed.refused_pane(self.tabs, event), ""
        line = event.text if event.to is None else f"/msg {event.to} {event.text}"
        back = typed.give_back(self.tabs, self.query_one(Entry), line, pane_id)
        if pane_id is None:
            pane_id, to = self.tabs.active or GROUP, f" to {event.to or f'#{event.room}'}"
        said = f"Not sent{to}: {event.reason}; {back}."
        self.logs[pane_id].write_notice(said, style="red")
        if pane_id != self.tabs.active:
            self.notify(said, severity="warning")
        self.show_status()

    def show_status(self) -> None:
        self.query_one(StatusLine).show()

    # -- conversations ----------------------------------------------------------------

    def shown_log(self) -> ConversationLog:
        return self.tabs.shown_log()

    def pane_for(self, push: MessagePush | FilePush) -> str:
        """The conversation a message or file belongs to: its room, or a private chat."""
        return self.tabs.message_pane(push.sender, push.to, push.room, self.me)

    def show_delivery(self, push: MessagePush | FilePush) -> None:
        """Write a message or file from the network into its conversation (unless the
        tab has not read its history yet: it is in there), count it, and ack it soon."""
        pane_id = self.pane_for(push)
        log = self.logs[pane_id]
        mine = push.sender == self.me
        if not mine and push.to is None and push.sender in self.people.blocked:
            self.run_worker(self.session.send_ack(), group="ack")  # hidden: you blocked them
            return
        if isinstance(push, FilePush) and not mine:
            self.query_one(Transfers).told_of(push)
        for_me = not mine and written_to(push, self.me)
        if self.bell and for_me:
            self.app.bell()  # someone wrote to you: a terminal in the background hears
        hidden = self.tabs.active != pane_id
        if not mine and hidden and not self.unread[pane_id] and log.loaded:
            log.write_divider("new")  # where this tab was left: what follows is unread
        if self.reading.arrived(pane_id, push):
            log.write_item(push, self.me)
        if not mine:
            self.tabs.count_unread(pane_id, mention=push.to is None and for_me)
        if push.mid is not None and self.session.shown(push.mid):
            self.run_worker(self.session.send_ack(), group="ack")

    @on(TabbedContent.TabActivated)
    def tab_opened(self, event: TabbedContent.TabActivated) -> None:
        pane_id = event.pane.id or GROUP
        entry = self.query_one(Entry)
        entry.switch_to(pane_id)
        self.tabs.on_screen(pane_id)
        self.fill(pane_id)
        self.caught_up(ConversationLog.CaughtUp(self.logs[pane_id]))
        entry.placeholder = self.tabs.placeholder()

    def open_private(self, partner: str) -> None:
        pane_id = self.tabs.private_pane(partner)
        self.call_after_refresh(self.tabs.show, pane_id)
        self.query_one("#entry", Input).focus()

    @property
    def online(self) -> set[str]:
        return self.people.online

    def people_changed(self, said: str | None = None) -> None:
        """The sidebar shows them again; `said` (the profile form's) goes in the log."""
        for sidebar in self.query(Sidebar):  # none once the screen is going
            sidebar.show(self.people)
        if said:
            self.shown_log().write_notice(said, style="green")

    async def load_people(self) -> None:
        if await self.people.load(self.session):
            self.people_changed()

    def open_profile(self) -> None:
        self.app.push_screen(ProfileScreen(self.session, self.people), self.people_changed)

    @on(ConversationLog.CaughtUp)
    def caught_up(self, event: ConversationLog.CaughtUp) -> None:
        """The log on screen was read to its end: tell the server, soon."""
        if event.log is self.shown_log() and self.reading.seen(self.tabs.active or GROUP):
            self.run_worker(self.reading.send_reads(), group="read")

    @on(ConversationLog.OlderWanted)
    def older_wanted(self, event: ConversationLog.OlderWanted) -> None:
        self.run_worker(self.reading.older(event.log, self.me), group="history")

    @on(ConversationLog.NewerWanted)
    def newer_wanted(self, event: ConversationLog.NewerWanted) -> None:
        self.run_worker(self.reading.newest(event.log, self.me), group="history")

    @on(ConversationTabs.Counted)
    def counted(self) -> None:
        """A tab came, went, or counted: the sidebar and the terminal's title follow."""
        labels = {pane_id: self.tabs.label(pane_id) for pane_id in self.logs}
        self.query_one(Sidebar).show_places(labels)
        for_me = self.tabs.for_me()
        if self.title_alerts:
            self.post_message(TitleWanted(f"chatroom ({for_me} for you)" if for_me else "chatroom"))

    @on(OptionList.OptionSelected, "#places")
    def place_picked(self, event: OptionList.OptionSelected) -> None:
        if event.option.id in self.logs:
            self.tabs.active = event.option.id
        self.query_one("#entry", Input).focus()

    @on(OptionList.OptionSelected, "#users")
    def user_picked(self, event: OptionList.OptionSelected) -> None:
        if event.option.id == self.me:
            self.open_profile()
        elif event.option.id:
            self.open_private(event.option.id)

    # -- the keyboard stays with the input ---------------------------------------------

    @on(events.DescendantFocus)
    def keep_the_keyboard(self, event: events.DescendantFocus) -> None:
        """Whatever a click focuses (a tab, say), typing goes on into the input; only
        the list of users keeps the focus it is given (Ctrl+U, or a click)."""
        if event.widget.id not in ("entry", "users", "places"):
            self.query_one("#entry", Input).focus()

    def on_key(self, event: events.Key) -> None:
        """A character typed while the list of users has the focus goes to the input."""
        entry = self.query_one("#entry", Input)
        if event.is_printable and event.character and self.focused is not entry:
            entry.focus()
            entry.insert_text_at_cursor(event.character)
            event.stop()

    @on(Input.Submitted, "#entry")
    def entered(self, event: Input.Submitted) -> None:
        """Run the line; it leaves the input only if it was taken (a message over the
        server's limit, or a command used wrongly, stays to be corrected)."""
        entry = self.query_one(Entry)
        if entry.message.strip() and typed.run(self, entry.message, entry):
            entry.remember(entry.value)

    @on(Entry.Pasted)
    def pasted(self, event: Entry.Pasted) -> None:
        log = self.shown_log()
        log.write_notice(f"Pasted {event.lines} lines: Enter sends them as one message.")

    def completion_names(self) -> list[str]:
        """What Tab completes: who is online but you, private tabs' partners, rooms' tabs."""
        names = {*self.online, *self.partners.values(), *self.tabs.rooms.values()}
        return sorted(names - {self.me})

    def queue(self, to: str | None, room: str | None, text: str) -> None:
        self.session.queue(to, text, room)
        self.show_status()

    def start_command(self, usage: str) -> None:  # picked in the palette
        typed.start(self, self.query_one(Entry), usage)

    def in_background(self, work: Coroutine[Any, Any, None]) -> None:
        self.run_worker(work, group="commands")

    def show_panel(self, panel: Panel, picked: Callable[[int], None]) -> None:
        self.app.push_screen(panel, lambda index: None if index is None else picked(index))

    def jump_to(self, item: Item) -> None:
        """Show a message found by `/search` in its conversation's tab."""
        pane_id = self.pane_for(item)
        self.tabs.active = pane_id
        if item.mid is not None:
            self.run_worker(self.reading.reach(pane_id, item.mid, self.me), group="history")

    def transfers(self) -> Transfers:
        return self.query_one(Transfers)

    # -- files, and keys --------------------------------------------------------------

    def send_file(self, path: Path, to: str | None, room: str | None) -> None:
        self.query_one(Transfers).send_file(path, to, room, self.logs[self.tabs.pane_of(to, room)])

    def action_pick_file(self) -> None:
        self.post_message(FileWanted(*self.tabs.where()))

    def action_save_file(self) -> None:
        self.query_one(Transfers).save_newest(self.shown_log())

    def action_switch_tab(self, step: int) -> None:
        self.tabs.switch(step)

    def action_profile(self) -> None:
        self.open_profile()

    def action_help(self) -> None:
        self.post_message(HelpWanted())

    def action_scroll_log(self, how: str) -> None:
        self.shown_log().scroll_by_keys(how)

    def action_focus_users(self) -> None:
        self.query_one("#users", OptionList).focus()

    def action_focus_entry(self) -> None:
        self.query_one("#entry", Input).focus()
