"""`ChatApp`: the only module that knows the screens. It opens each one, hands it what it
needs (attributes down), and acts on what screens ask for (messages up)."""

import ssl
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input

from chatroom.client.api import amount, backoff
from chatroom.client.settings import Settings, remember_username
from chatroom.client.tui import collector, commands
from chatroom.client.tui.collector import IdleCollector
from chatroom.client.tui.entry import Entry
from chatroom.client.tui.events import (
    FileWanted,
    HelpWanted,
    LoginWanted,
    QuitWanted,
    RegisterWanted,
    TitleWanted,
)
from chatroom.client.tui.link import ServerLink
from chatroom.client.tui.screens.chat import ChatScreen
from chatroom.client.tui.screens.help import HelpScreen, describe_keys
from chatroom.client.tui.screens.login import LoggedIn, LoginScreen
from chatroom.client.tui.screens.menu import MenuScreen
from chatroom.client.tui.screens.pick_file import FilePickScreen
from chatroom.client.tui.screens.register import RegisterScreen
from chatroom.client.tui.session import ChatSession
from chatroom.utils.args import os_reason
from chatroom.utils.paths import default_downloads_dir


class ChatApp(App[None]):
    CSS_PATH = "chatroom.tcss"
    TITLE = "chatroom"
    COMMAND_PALETTE_BINDING = "f2"  # Textual's is Ctrl+P, which is "previous tab" here
    BINDINGS = [
        Binding("ctrl+q", "quit_chat", "Quit", priority=True),
        Binding("f2", "command_palette", "Commands", show=False, priority=True),
        # Pressed to copy far more often than to quit: it copies, and says how to quit.
        Binding("ctrl+c", "copy_or_explain", "Copy", show=False, priority=True),
    ]

    def __init__(
        self,
        host: str,
        port: int,
        *,
        reconnect_delays: Callable[[], Iterator[float]] = backoff,
        downloads: Path | None = None,
        tls: ssl.SSLContext | None = None,
        settings: Settings | None = None,
        settings_file: Path | None = None,
        trace: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        self.link = ServerLink(host, port, tls=tls, reconnect_delays=reconnect_delays, trace=trace)
        self.downloads = downloads or default_downloads_dir()
        """Where received files are saved."""
        self.settings = settings or Settings()
        self.settings_file = settings_file
        """Where the settings came from, to remember the username in (None: nowhere)."""
        self.terminal_title: str | None = None
        """What the chat screen last put in the terminal's title (None: nothing yet)."""
        self.collector = IdleCollector()
        self.menu = MenuScreen(self.link)
        self.menu.username = self.settings.username
        self.session: ChatSession | None = None
        """The logged-in session, once there is one."""
        self.chat: ChatScreen | None = None

    def on_mount(self) -> None:
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        self.collector.start()
        self.set_interval(collector.IDLE, self.collector.tick)
        self.push_screen(self.menu)

    async def on_event(self, event: events.Event) -> None:
        self.collector.seen(event)
        await super().on_event(event)

    def on_login_wanted(self, event: LoginWanted) -> None:
        self.push_screen(LoginScreen(self.link, event.username), self.start_chat)

    def on_register_wanted(self, event: RegisterWanted) -> None:
        self.push_screen(RegisterScreen(self.link), self.registered)

    def registered(self, outcome: LoggedIn | str | None) -> None:
        """Registered and logged in: the chat; registered only: the menu says so."""
        if isinstance(outcome, LoggedIn):
            self.start_chat(outcome)
        else:
            self.menu.registered(outcome)

    def start_chat(self, login: LoggedIn | None) -> None:
        """Logged in: the chat screen replaces the menu, and its session owns the connection."""
        if login is None:
            return
        self.link.hand_over()
        self.session = ChatSession(self.link, login.client, login.reply, login.password)
        self.chat = ChatScreen(
            self.session,
            downloads=self.downloads,
            bell=self.settings.bell,
            title_alerts=self.settings.title,
        )
        self.switch_screen(self.chat)
        self.remember_username(login.reply.username)

    def remember_username(self, username: str) -> None:
        """The login form offers it next time (if the settings came from a file)."""
        if self.settings_file is None:
            return
        self.settings.username = username
        try:
            if not remember_username(self.settings_file, username):
                why = f"{self.settings_file} has a problem: your username is not saved in it"
                self.notify(why, severity="warning")
        except OSError as error:
            why = f"Could not save {self.settings_file}: {os_reason(error)}"
            self.notify(why, severity="warning")

    def on_file_wanted(self, event: FileWanted) -> None:
        chat = self.chat

        def picked(path: Path | None) -> None:
            if path is not None and chat is not None:
                chat.send_file(path, event.to, event.room)

        self.push_screen(FilePickScreen(Path.cwd()), picked)

    def on_title_wanted(self, event: TitleWanted) -> None:
        """Set the terminal's title (xterm's OSC 2, which terminals and tmux take), after
        saving the one it had, which `on_unmount` puts back (CSI 22 t and 23 t)."""
        if self.terminal_title is None:
            self._to_terminal("\x1b[22;0t")
        self.terminal_title = event.title
        self._to_terminal(f"\x1b]2;{event.title}\x07")

    def on_unmount(self) -> None:
        self.collector.stop()
        if self.terminal_title is not None:
            self._to_terminal("\x1b[23;0t")

    def _to_terminal(self, sequence: str) -> None:
        # As `App.bell` and `App.copy_to_clipboard` do: Textual has no call for a title.
        if not self.is_headless and self._driver is not None:
            self._driver.write(sequence)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The command palette (F2): every chat command, then Textual's own (a theme)."""
        if isinstance(screen, ChatScreen):
            for usage, does in commands.COMMANDS:
                yield SystemCommand(usage, does, partial(screen.start_command, usage))
        # Textual's Quit would leave without logging out: /quit (and Ctrl+Q) do both.
        yield from (c for c in super().get_system_commands(screen) if c.title != "Quit")

    def on_help_wanted(self, event: HelpWanted) -> None:
        keys = describe_keys(self.BINDINGS, ChatScreen.BINDINGS, Entry.BINDINGS)
        self.push_screen(HelpScreen(keys))

    async def on_quit_wanted(self, event: QuitWanted) -> None:
        await self.action_quit_chat()

    def action_copy_or_explain(self) -> None:
        """Copy the text selected in the input, or else on the screen (with the mouse);
        with nothing selected, say how to quit instead of quitting."""
        focused = self.focused
        selected = focused.selected_text if isinstance(focused, Input) else ""
        selected = selected or self.screen.get_selected_text() or ""
        if selected:
            self.copy_to_clipboard(selected)
            self.notify(f"Copied {amount(len(selected), 'character')}.", timeout=2)
        else:
            self.notify("Ctrl+C copies selected text. To quit, press Ctrl+Q or type /quit.")

    async def action_quit_chat(self) -> None:
        """Log out if logged in, then leave."""
        if self.session is not None:
            await self.session.log_out()
        else:
            await self.link.close()
        self.exit()
