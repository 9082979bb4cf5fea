"""Where the server is, and the connection the menu and the forms use before login.

The app builds one `ServerLink` and hands it down to the screens that need it, so no screen
reaches up into the app for an address or a connection.
"""

import contextlib
import ssl
from collections.abc import Callable, Iterator

from chatroom.client.api import ChatClient, ServerList, backoff, parse_servers
from chatroom.client.replies import ServerLimits
from chatroom.common.errors import ChatError

TUI_FEATURES = ("rooms", "carbons", "read", "compress", "pull")
"""What the TUI asks for in `hello`: every room's messages (a tab each), its user's own
from other sessions, read markers, compressed replies, and no replay at login (each tab
reads its history instead: `reading`)."""


class ServerLink:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None = None,
        reconnect_delays: Callable[[], Iterator[float]] = backoff,
        trace: Callable[[str], None] | None = None,
    ) -> None:
        """`host` names one server or several nodes (`a:8888,b:8888`), those without a
        port on `port`; ValueError if it cannot be read. `trace` gets every frame."""
        self.servers = ServerList(parse_servers(host, port), trace)
        self.tls = tls
        self.reconnect_delays = reconnect_delays
        self.limits = ServerLimits()
        """The server's limits, learnt from `hello` (the protocol's defaults until then)."""
        self.history = True
        """Whether the server keeps history (its `hello` offers "history"). A server of
        the first version does not: each tab then shows what comes, from the login's
        replay of the mail on, and asks for no history."""
        self.people = True
        """Whether the server has contacts and blocks (section 8 of docs/protocol.md). A
        server of the first version lists no `features` in its `hello`: it is not asked."""
        self.client: ChatClient | None = None

    @property
    def keepalive(self) -> float:
        """Seconds between pings: a third of the server's idle timeout."""
        return self.limits.idle_timeout / 3

    @property
    def max_text(self) -> int:
        """The longest message the server takes."""
        return self.limits.max_text

    @property
    def address(self) -> str:
        """The server, or the servers tried in turn."""
        return str(self.servers)

    def reconnected(self) -> str:
        """What to say once connected again: to which node, if there are several."""
        several = len(self.servers.servers) > 1
        return f"Reconnected to {self.servers.current}." if several else "Reconnected."

    async def connection(self) -> ChatClient:
        """The connection used to register and log in, opened (again) if need be."""
        if self.client is None or self.client.closed.is_set():
            client = await self.servers.connect(tls=self.tls, timeout=5.0)
            try:
                await self.greet(client)
            except BaseException:
                await client.close()
                raise
            self.client = client
        return self.client

    async def greet(self, client: ChatClient) -> None:
        """Say `hello` on a new connection, and keep what the TUI needs of the answer."""
        await client.hello("chatroom-tui", TUI_FEATURES)
        self.limits = client.limits
        self.history = "history" in client.offered
        self.people = not client.first_version

    def hand_over(self) -> None:
        """Logged in: the chat session owns the connection from now on."""
        self.client = None

    async def close(self) -> None:
        if self.client is not None and not self.client.closed.is_set():
            with contextlib.suppress(ChatError, OSError):
                await self.client.close()
