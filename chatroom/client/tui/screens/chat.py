"""The chat screen: conversations in tabs, who is online, an input line, and the link status.

A worker keeps the session alive: it relays pushes as messages, and when the connection
drops it reconnects with backoff and logs in again. What the user types goes into an
outbox that a second worker sends in order whenever the session is up, so nothing typed
while disconnected is lost. Each message gets its `cid` when it is typed and keeps it
through every retry, as a file being sent does, so a retry whose first `ok` was lost with
the connection is not delivered twice.
"""

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from chatroom.client.api import ChatClient, LoginReply, describe_os_error, new_cid, sessions
from chatroom.client.tui.conversation import ConversationLog
from chatroom.client.tui.events import (
    PushArrived,
    Reconnecting,
    SessionFailed,
    SessionLost,
    SessionStarted,
)
from chatroom.client.tui.screens.pick_file import FilePickScreen
from chatroom.client.tui.transfers import TransferBar
from chatroom.client.visible import visible
from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.messages import (
    ByePush,
    FilePush,
    MessagePush,
    PresenceBatchPush,
    PresencePush,
)
from chatroom.common.names import username_key

if TYPE_CHECKING:
    from chatroom.client.tui.app import ChatApp

GROUP = "room"
"""The pane id of the group conversation."""

ACK_DELAY = 0.3
"""Seconds to gather shown messages into one `ack`."""

HELP = [
    "Enter sends to the conversation on screen (the group, or the open private chat).",
    "/msg NAME TEXT   send TEXT to NAME privately (opens a tab for the conversation)",
    "/send PATH [NAME] send a file to this conversation, or to NAME (also Ctrl+O)",
    "/get FID         save a received file to the downloads folder (Ctrl+S: the newest)",
    "/users           list who is online",
    "/help            this list",
    "/quit            log out and leave (also Ctrl+Q)",
    "Pick a user on the right to chat privately; Ctrl+N / Ctrl+P switch tabs.",
]


@dataclass(slots=True, frozen=True)
class Outgoing:
    """A message typed but not yet confirmed by the server."""

    to: str | None
    """The recipient, or None for the group."""
    text: str
    cid: str = field(default_factory=new_cid)
    """Chosen when the message is typed and sent with every attempt."""


class ChatScreen(Screen[None]):
    app: "ChatApp"

    BINDINGS = [
        Binding("ctrl+n", "next_tab", "Next tab"),
        Binding("ctrl+p", "previous_tab", "Previous tab"),
        Binding("ctrl+o", "pick_file", "Send file"),
        Binding("ctrl+s", "save_file", "Save file"),
        Binding("ctrl+u", "focus_users", "Users"),
        Binding("escape", "focus_entry", "Type", show=False),
    ]

    def __init__(self, client: ChatClient, reply: LoginReply, password: str) -> None:
        super().__init__()
        self.client = client
        self.me = reply.username
        self.first_reply = reply
        self.password = password
        self.resume_token = reply.resume_token
        self.online: set[str] = set()
        self.panes: dict[str, str] = {}  # username key -> pane id of the private chat
        self.partners: dict[str, str] = {}  # pane id -> partner's username
        self.unread: dict[str, int] = {}
        self.logs = {GROUP: ConversationLog()}  # pane id -> its log, mounted or about to be
        self.outbox: deque[Outgoing] = deque()
        self.outbox_ready = asyncio.Event()
        self.linked = asyncio.Event()
        self.ack_upto = 0
        self.ack_timer: Timer | None = None
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
        yield Input(placeholder="Message the group; /help for commands", id="entry")
        yield Footer()

    def on_mount(self) -> None:
        self.log_of(GROUP).write_notice(f"Logged in as {self.me}. Type /help for commands.")
        self.query_one("#entry", Input).focus()
        self.keep_session()
        self.send_outbox()
        self.set_interval(self.app.keepalive, self.ping)

    # -- the session and its events ---------------------------------------------------

    async def log_in_again(self, client: ChatClient) -> LoginReply:
        """After a reconnection: `hello` (a restarted server may have new limits), then the
        resume token if it still works (no bcrypt on the server, so a restart is quick for
        everyone), else the password."""
        await client.hello("chatroom-tui")
        if self.resume_token is not None:
            try:
                return await client.resume(self.resume_token)
            except ChatError as error:
                if error.code != ErrorCode.INVALID_TOKEN:
                    raise
                self.resume_token = None
        reply = await client.login(self.me, self.password)
        self.resume_token = reply.resume_token
        return reply

    @work(exclusive=True, group="session")
    async def keep_session(self) -> None:
        try:
            async for client, reply in sessions(
                self.app.host,
                self.app.port,
                self.log_in_again,
                first=(self.client, self.first_reply),
                tls=self.app.tls,
                delays=self.app.reconnect_delays,
                on_wait=lambda delay: self.post_message(Reconnecting(delay)),
            ):
                self.client = client
                self.post_message(SessionStarted(reply))
                async for push in client:
                    self.post_message(PushArrived(push))
                self.post_message(SessionLost(client.closed_reason))
        except ChatError as error:
            self.post_message(SessionFailed(error.message))

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
        self.linked.set()
        self.show_status()

    def on_session_lost(self, event: SessionLost) -> None:
        self.linked.clear()
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

    def show_status(self) -> None:
        status = self.query_one("#status", Static)
        waiting = f" · {len(self.outbox)} waiting to send" if self.outbox else ""
        if self.linked.is_set():
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
        self.ack_later(push.mid)

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

    @work(group="ping", exclusive=True)
    async def ping(self) -> None:
        """Keep an idle connection open (the server closes one silent for its idle timeout)."""
        if self.linked.is_set():
            with contextlib.suppress(ChatError, OSError):
                await self.client.ping()

    # -- acknowledging what was shown -------------------------------------------------

    def ack_later(self, mid: int) -> None:
        self.ack_upto = max(self.ack_upto, mid)
        if self.ack_timer is None:
            self.ack_timer = self.set_timer(ACK_DELAY, self.send_ack)

    @work(group="ack")
    async def send_ack(self) -> None:
        self.ack_timer = None
        # If this fails the server sends the messages again at the next login; we drop them.
        with contextlib.suppress(ChatError, OSError):
            await self.client.ack(self.ack_upto)

    # -- what the user types ----------------------------------------------------------

    @on(Input.Submitted, "#entry")
    def entered(self, event: Input.Submitted) -> None:
        text = event.value
        event.input.clear()
        if not text.strip():
            return
        if text.startswith("/"):
            self.run_command(text)
            return
        self.queue(self.current_partner(), text)

    def current_partner(self) -> str | None:
        """Who the conversation on screen is with: None for the group."""
        pane_id = self.query_one("#conversations", TabbedContent).active
        return None if pane_id == GROUP else self.partners[pane_id]

    def run_command(self, line: str) -> None:
        command, _, rest = line.partition(" ")
        log = self.log_of(self.query_one("#conversations", TabbedContent).active or GROUP)
        if command == "/help":
            for text in HELP:
                log.write_notice(text, style="cyan")
        elif command == "/users":
            log.write_notice("Online: " + ", ".join(sorted(self.online, key=str.casefold)))
        elif command == "/msg":
            name, _, text = rest.strip().partition(" ")
            if not name or not text.strip():
                log.write_notice("Usage: /msg NAME TEXT", style="red")
                return
            self.open_private(name)
            self.queue(name, text)
        elif command == "/send":
            path_text, _, name = rest.strip().partition(" ")
            if not path_text:
                log.write_notice("Usage: /send PATH [NAME]", style="red")
                return
            self.send_file(Path(path_text).expanduser(), name.strip() or self.current_partner())
        elif command == "/get":
            if not rest.strip().isdecimal():
                log.write_notice("Usage: /get FID (the number shown with the file)", style="red")
                return
            self.save_file(int(rest))
        elif command == "/quit":
            self.run_worker(self.app.action_quit_chat())
        else:
            log.write_notice(f"Unknown command {command}; /help lists them.", style="red")

    def queue(self, to: str | None, text: str) -> None:
        self.outbox.append(Outgoing(to, text))
        self.outbox_ready.set()
        self.show_status()

    @work(group="outbox")
    async def send_outbox(self) -> None:
        """Send what was typed, in order, whenever the session is up; keep it until `ok`."""
        while True:
            await self.outbox_ready.wait()
            await self.linked.wait()
            item = self.outbox[0]
            to, text = item.to, item.text
            try:
                sent = await (
                    self.client.broadcast(text, item.cid)
                    if to is None
                    else self.client.private(to, text, item.cid)
                )
            except ChatError as error:
                self.outbox.popleft()
                pane_id = GROUP if to is None else self.private_pane(to)
                self.log_of(pane_id).write_notice(f"Not sent: {error.message}", style="red")
            except OSError:
                # Maybe the message arrived and only its ok was lost: the retry has its cid.
                self.linked.clear()  # the session worker reconnects and sets it again
                continue
            else:
                self.outbox.popleft()
                pane_id = GROUP if to is None else self.private_pane(to)
                self.log_of(pane_id).write_message(
                    sent.ts, self.me, text, mine=True, private=to is not None
                )
                if to is not None and not sent.delivered:
                    self.log_of(pane_id).write_notice(
                        f"{to} is offline; they get it at next login."
                    )
            if not self.outbox:
                self.outbox_ready.clear()
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
        cid = new_cid()  # one for every attempt, so a lost last ok does not send it twice
        try:
            while True:
                await self.linked.wait()
                try:
                    sent = await self.client.send_file(path, to, progress=bar.advance_to, cid=cid)
                    break
                except ConnectionError:  # not a local OSError such as a file gone missing
                    self.linked.clear()  # the session worker reconnects and sets it again
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
            saved = await self.client.download(fid, self.app.downloads, progress=bar.advance_to)
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
        partner = self.current_partner()

        def picked(path: Path | None) -> None:
            if path is not None:
                self.send_file(path, partner)

        self.app.push_screen(FilePickScreen(Path.cwd()), picked)

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
