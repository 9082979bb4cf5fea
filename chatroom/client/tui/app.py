"""`ChatApp`: starts on the menu, owns the connection used before login, quits cleanly."""

import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

from textual.app import App
from textual.binding import Binding

from chatroom.client.api import ChatClient, backoff
from chatroom.client.tui.screens.chat import ChatScreen
from chatroom.client.tui.screens.login import LoggedIn
from chatroom.client.tui.screens.menu import MenuScreen
from chatroom.common.errors import ChatError
from chatroom.utils.paths import default_downloads_dir


class ChatApp(App[None]):
    CSS_PATH = "chatroom.tcss"
    TITLE = "chatroom"
    ENABLE_COMMAND_PALETTE = False  # Ctrl+P is "previous tab" here
    BINDINGS = [
        Binding("ctrl+q", "quit_chat", "Quit", priority=True),
        Binding("ctrl+c", "quit_chat", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        host: str,
        port: int,
        *,
        reconnect_delays: Callable[[], Iterator[float]] = backoff,
        downloads: Path | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__()
        self.tls = tls
        self.downloads = downloads or default_downloads_dir()
        """Where received files are saved."""
        self.host = host
        self.port = port
        self.reconnect_delays = reconnect_delays
        self._client: ChatClient | None = None
        self.keepalive = 30.0
        """Seconds between pings: a third of the server's idle timeout, learnt from `hello`."""

    def on_mount(self) -> None:
        self.push_screen(MenuScreen())

    async def connection(self) -> ChatClient:
        """The connection used to register and log in, opened (again) if need be."""
        if self._client is None or self._client.closed.is_set():
            client = await ChatClient.connect(self.host, self.port, tls=self.tls, timeout=5.0)
            limits = (await client.hello("chatroom-tui"))["limits"]
            self.keepalive = limits["idle_timeout"] / 3
            self._client = client
        return self._client

    def start_chat(self, login: LoggedIn) -> None:
        """Logged in: the chat screen replaces the menu."""
        self._client = None  # the chat screen's session owns the connection from now on
        self.switch_screen(ChatScreen(login.client, login.reply, login.password))

    async def action_quit_chat(self) -> None:
        """Log out if logged in, then leave."""
        screen = self.screen
        client = screen.client if isinstance(screen, ChatScreen) else self._client
        if client is not None and not client.closed.is_set():
            try:
                if isinstance(screen, ChatScreen):
                    await client.logout()
                else:
                    await client.close()
            except (ChatError, OSError):
                pass
        self.exit()
