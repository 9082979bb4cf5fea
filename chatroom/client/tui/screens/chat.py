"""The chat screen: conversations in tabs, who is online, an input line, and the link status.

The screen draws; the `ChatSession` it is given keeps the connection. The screen runs the
session's coroutines as workers (relaying pushes and reconnecting, sending the outbox,
acks, pings, transfers) and shows what the session reports as Textual messages (`events`).
"""

import time
from pathlib import Path

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from chatroom.client.api import describe_os_error
from chatroom.client.tui import commands
from chatroom.client.tui.conversation import ConversationLog
from chatroom.client.tui.events import (
    FileWanted,
    MessageRefused,
    MessageSent,
    PushArrived,
    QuitWanted,
    Reconnecting,
    SessionFailed,
    SessionLost,
    SessionStarted,
)
from chatroom.client.tui.session import ChatSession
from chatroom.client.tui.transfers import TransferBar
from chatroom.client.visible import visible
from chatroom.common.errors import ChatError
from chatroom.common.messages import (
    ByePush,
    FilePush,
    MessagePush,
    PresenceBatchPush,
    PresencePush,
)
from chatroom.common.names import username_key

GROUP = "room"
"""The pane id of the group conversation."""


class ChatScreen(Screen[None]):
    BINDINGS = [
        Binding("ctrl+n", "next_tab", "Next tab"),
        Binding("ctrl+p", "previous_tab", "Previous tab"),
        Binding("ctrl+o", "pick_file", "Send file"),
        Binding("ctrl+s", "save_file", "Save file"),
        Binding("ctrl+u", "focus_users", "Users"),
        Binding("escape", "focus_entry", "Type", show=False),
    ]

    def __init__(self, session: ChatSession, *, keepalive: float, downloads: Path) -> None:
        super().__init__()
        self.session = session
        session.listen(self.post_message)
        self.me = session.me
        self.keepalive = keepalive
        self.downloads = downloads
        """Where received files are saved."""
        self.online: set[str] = set()
        self.panes: dict[str, str] = {}  # username key -> pane id of the private chat
        self.partners: dict[str, str] = {}  # pane id -> partner's username
        self.unread: dict[str, int] = {}
        self.logs = {GROUP: ConversationLog()}  # pane id -> its log, mounted or about to be
        self.received_files: list[int] = []
        """Fids of files received, oldest first; Ctrl+S saves the newest not yet saved."""
        self.retry_at = 0.0
        self.countdown: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="status", markup=False)
        with Horizontal(id="chat-body"):
            with TabbedContent(id="conversations"), TabPane("# group", id=GROUP):
                yield self.logs[GROUP]
            with Vertical(id="sidebar"):
                yield Static("Online", id="sidebar-title")
                yield OptionList(id="users")
        yield Vertical(id="transfers")
        # Never select all on focus: the focus comes back after every click, and the next
        # key would replace the line.
        yield Input(
            placeholder="Message the group; /help for commands", id="entry", select_on_focus=False
        )
        yield Footer()

    def on_mount(self) -> None:
        self.log_of(GROUP).write_notice(f"Logged in as {self.me}. Type /help for commands.")
        self.query_one("#entry", Input).focus()
        self.run_worker(self.session.keep(), group="session", exclusive=True)
        self.run_worker(self.session.send_outbox(), group="outbox")
        self.set_interval(self.keepalive, self.ping)

    # -- what the session tells us ---------------------------------------------------

    def on_session_started(self, event: SessionStarted) -> None:
        self.set_online(event.reply.online)
        if event.reply.skipped:
            self.log_of(GROUP).write_notice(
                f"{event.reply.skipped} older messages from while you were away were left out."
            )
        if self.countdown is not None:
            self.countdown.stop()
            self.countdown = None
            self.log_of(GROUP).write_notice("Reconnected.", style="green")
        self.show_status()

    def on_session_lost(self, event: SessionLost) -> None:
        why = f" ({event.reason})" if event.reason else ""
        self.log_of(GROUP).write_notice(f"Disconnected from the server{why}.", style="red")
        self.show_status()

    def on_reconnecting(self, event: Reconnecting) -> None:
        self.retry_at = time.monotonic() + event.delay
        if self.countdown is None:
            self.countdown = self.set_interval(0.5, self.show_status)
        self.show_status()

    def on_session_failed(self, event: SessionFailed) -> None:
        if self.countdown is not None:
            self.countdown.stop()
        self.log_of(GROUP).write_notice(f"Cannot log in again: {event.message}", style="red")
        self.query_one("#status", Static).update(f"disconnected: {visible(event.message)}")

    def on_push_arrived(self, event: PushArrived) -> None:
        push = event.push
        if isinstance(push, MessagePush | FilePush):
            self.show_delivery(push)
        elif isinstance(push, PresencePush):
            if push.online:
                self.online.add(push.username)
            else:
                self.online.discard(push.username)
            self.set_online(self.online)
        elif isinstance(push, PresenceBatchPush):
            self.set_online((self.online | set(push.online)) - set(push.offline))
        elif isinstance(push, ByePush) and push.reason == "shutdown":
            self.log_of(GROUP).write_notice("The server is shutting down.", style="red")

    def on_message_sent(self, event: MessageSent) -> None:
        pane_id = GROUP if event.to is None else self.private_pane(event.to)
        private = event.to is not None
        self.log_of(pane_id).write_message(
            event.sent.ts, self.me, event.text, mine=True, private=private
        )
        if private and not event.sent.delivered:
            self.log_of(pane_id).write_notice(f"{event.to} is offline; they get it at next login.")
        self.show_status()

    def on_message_refused(self, event: MessageRefused) -> None:
        pane_id = GROUP if event.to is None else self.private_pane(event.to)
        self.log_of(pane_id).write_notice(f"Not sent: {event.reason}", style="red")
        self.show_status()

    def show_status(self) -> None:
        status = self.query_one("#status", Static)
        outbox = self.session.outbox
        waiting = f" · {len(outbox)} waiting to send" if outbox else ""
        if self.session.linked.is_set():
            status.update(f"● connected as {visible(self.me)}{waiting}")
            status.set_class(False, "offline")
            return
        seconds = max(0, round(self.retry_at - time.monotonic()))
        retry = f"reconnecting in {seconds} s" if seconds else "reconnecting..."
        status.update(f"○ disconnected — {retry}{waiting}")
        status.set_class(True, "offline")

    # -- conversations ----------------------------------------------------------------

    def log_of(self, pane_id: str) -> ConversationLog:
        return self.logs[pane_id]

    def private_pane(self, partner: str) -> str:
        """The pane id of the private chat with `partner`, opening a tab if there is none."""
        key = username_key(partner)
        if key not in self.panes:
            pane_id = f"dm{len(self.panes) + 1}"
            self.panes[key] = pane_id
            self.partners[pane_id] = partner
            self.unread[pane_id] = 0
            self.logs[pane_id] = ConversationLog()
            tabs = self.query_one("#conversations", TabbedContent)
            tabs.add_pane(TabPane(self.tab_label(pane_id), self.logs[pane_id], id=pane_id))
        return self.panes[key]

    def pane_for(self, push: MessagePush | FilePush) -> str:
        """The conversation a message or file belongs to."""
        if push.to is None:
            return GROUP
        return self.private_pane(push.sender if push.sender != self.me else push.to)

    def show_delivery(self, push: MessagePush | FilePush) -> None:
        """Write a message or file from the network into its conversation, and ack it soon."""
        pane_id = self.pane_for(push)
        log = self.log_of(pane_id)
        log.begin_delivery(push.offline)
        mine, private = push.sender == self.me, push.to is not None
        if isinstance(push, FilePush):
            log.write_file(
                push.ts, push.sender, push.name, push.size, push.fid, mine=mine, private=private
            )
            if not mine:
                self.received_files.append(push.fid)
        else:
            log.write_message(push.ts, push.sender, push.text, mine=mine, private=private)
        self.count_unread(pane_id)
        if push.mid is not None and self.session.shown(push.mid):
            self.run_worker(self.session.send_ack(), group="ack")

    def count_unread(self, pane_id: str) -> None:
        tabs = self.query_one("#conversations", TabbedContent)
        if pane_id == GROUP or tabs.active == pane_id:
            return
        self.unread[pane_id] += 1
        tabs.get_tab(pane_id).label = self.tab_label(pane_id)

    def tab_label(self, pane_id: str) -> Content:
        """`@bob (2)`: the partner, and how many messages came while the tab was hidden.
        Content, not a string, which Textual would read as markup (a name is not)."""
        unread = f" ({self.unread[pane_id]})" if self.unread[pane_id] else ""
        return Content(f"@{visible(self.partners[pane_id])}{unread}")

    @on(TabbedContent.TabActivated)
    def tab_opened(self, event: TabbedContent.TabActivated) -> None:
        pane_id = event.pane.id or GROUP
        entry = self.query_one("#entry", Input)
        if pane_id == GROUP:
            entry.placeholder = "Message the group; /help for commands"
            return
        self.unread[pane_id] = 0
        event.tab.label = self.tab_label(pane_id)
        entry.placeholder = f"Message {visible(self.partners[pane_id])} privately"

    def open_private(self, partner: str) -> None:
        tabs = self.query_one("#conversations", TabbedContent)
        pane_id = self.private_pane(partner)
        self.call_after_refresh(setattr, tabs, "active", pane_id)
        self.query_one("#entry", Input).focus()

    def set_online(self, names: "set[str] | list[str]") -> None:
        self.online = set(names)
        users = self.query_one("#users", OptionList)
        users.clear_options()
        users.add_options(
            Option(Content(f"{visible(name)} (you)" if name == self.me else visible(name)), id=name)
            # Alphabetical: username_key is for telling users apart, and sorts `mary` as `rnary`.
            for name in sorted(self.online, key=str.casefold)
        )
        self.query_one("#sidebar-title", Static).update(f"Online ({len(self.online)})")

    @on(OptionList.OptionSelected, "#users")
    def user_picked(self, event: OptionList.OptionSelected) -> None:
        if event.option.id and event.option.id != self.me:
            self.open_private(event.option.id)

    def ping(self) -> None:
        self.run_worker(self.session.ping(), group="ping", exclusive=True)

    # -- what the user types ----------------------------------------------------------

    # -- the keyboard stays with the input ---------------------------------------------

    @on(events.DescendantFocus)
    def keep_the_keyboard(self, event: events.DescendantFocus) -> None:
        """Whatever a click focuses (a tab, say), typing goes on into the input; only
        the list of users keeps the focus it is given (Ctrl+U, or a click)."""
        if event.widget.id not in ("entry", "users"):
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
        text = event.value
        event.input.clear()
        if text.strip():
            self.run_command(text)

    def current_partner(self) -> str | None:
        """Who the conversation on screen is with: None for the group."""
        pane_id = self.query_one("#conversations", TabbedContent).active
        return None if pane_id == GROUP else self.partners[pane_id]

    def run_command(self, line: str) -> None:
        command = commands.parse(line)
        log = self.log_of(self.query_one("#conversations", TabbedContent).active or GROUP)
        match command:
            case commands.ShowHelp():
                for text in commands.HELP:
                    log.write_notice(text, style="cyan")
            case commands.ListUsers():
                log.write_notice("Online: " + ", ".join(sorted(self.online, key=str.casefold)))
            case commands.SendPrivate(to, text):
                self.open_private(to)
                self.queue(to, text)
            case commands.SendFile(path, to):
                self.send_file(path, to or self.current_partner())
            case commands.SaveFile(fid):
                self.save_file(fid)
            case commands.Quit():
                self.post_message(QuitWanted())
            case commands.Usage(text):
                log.write_notice(text, style="red")
            case commands.Unknown(name):
                log.write_notice(f"Unknown command {name}; /help lists them.", style="red")
            case commands.Say(text):
                self.queue(self.current_partner(), text)

    def queue(self, to: str | None, text: str) -> None:
        self.session.queue(to, text)
        self.show_status()

    # -- files ------------------------------------------------------------------------

    def add_transfer(self, label: str, total: int) -> TransferBar:
        bar = TransferBar(label, total)
        self.query_one("#transfers", Vertical).mount(bar)
        return bar

    def conversation_log(self, partner: str | None) -> ConversationLog:
        return self.log_of(GROUP if partner is None else self.private_pane(partner))

    @work(group="transfers")
    async def send_file(self, path: Path, to: str | None) -> None:
        """Upload a file, resuming after each reconnection until it is sent or refused."""
        log = self.conversation_log(to)
        if not path.is_file():
            log.write_notice(f"Not sent: {path} is not a file.", style="red")
            return
        bar = self.add_transfer(f"↑ {path.name}", path.stat().st_size)
        try:
            sent = await self.session.upload(path, to, bar.advance_to)
        except (ChatError, OSError) as error:
            reason = error.message if isinstance(error, ChatError) else describe_os_error(error)
            log.write_notice(f"{path.name} not sent: {reason}. /send again resumes.", style="red")
        else:
            log.write_file(
                time.time(), self.me, path.name, sent.size, sent.fid, mine=True, private=bool(to)
            )
        finally:
            await bar.remove()

    @work(group="transfers")
    async def save_file(self, fid: int) -> None:
        log = self.log_of(GROUP)
        bar = self.add_transfer(f"↓ file {fid}", 0)
        try:
            saved = await self.session.download(fid, self.downloads, bar.advance_to)
        except (ChatError, OSError) as error:
            reason = error.message if isinstance(error, ChatError) else describe_os_error(error)
            log.write_notice(f"File {fid} not saved: {reason}", style="red")
        else:
            if fid in self.received_files:
                self.received_files.remove(fid)
            log.write_notice(f"Saved {saved}", style="green")
        finally:
            await bar.remove()

    def action_pick_file(self) -> None:
        self.post_message(FileWanted(self.current_partner()))

    def action_save_file(self) -> None:
        if not self.received_files:
            self.log_of(GROUP).write_notice("No received file waits to be saved.", style="red")
            return
        self.save_file(self.received_files[-1])

    # -- keys -------------------------------------------------------------------------

    def action_next_tab(self) -> None:
        self.switch_tab(+1)

    def action_previous_tab(self) -> None:
        self.switch_tab(-1)

    def switch_tab(self, step: int) -> None:
        tabs = self.query_one("#conversations", TabbedContent)
        ids = [GROUP, *self.partners]
        tabs.active = ids[(ids.index(tabs.active) + step) % len(ids)]

    def action_focus_users(self) -> None:
        self.query_one("#users", OptionList).focus()

    def action_focus_entry(self) -> None:
        self.query_one("#entry", Input).focus()
