"""Which servers to talk to, and how: one, or several nodes of one chatroom
(`--host a:8888,b:8888`), over TLS or not (`tls_context`).

A client tries them in the order given, and after losing one starts with the next (the
node it lost is likely still down); it waits between rounds only once every one of them
has failed.
"""

import os
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from chatroom.client.connection import ChatClient
from chatroom.client.seen import SeenMids

RETRYABLE = (OSError, TimeoutError)
"""Failures worth another attempt: the server is down or restarting. A `ChatError` (such
as `bad_credentials`) is not: trying again would fail the same way."""


def tls_context(
    enabled: bool, cafile: str | os.PathLike[str] | None = None
) -> ssl.SSLContext | None:
    """A client TLS context that verifies the server (against `cafile` if given, else the
    system's trusted CAs), or None for plain TCP."""
    if not enabled and cafile is None:
        return None
    return ssl.create_default_context(cafile=cafile)


@dataclass(frozen=True, slots=True)
class Server:
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 address
        return f"{host}:{self.port}"


def parse_servers(text: str, default_port: int) -> list["Server"]:
    """The servers in `text`: `HOST`, `HOST:PORT` or `[IPv6]:PORT`, separated by commas,
    those without a port on `default_port`. Raises ValueError saying what is wrong."""
    servers = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            raise ValueError(f"{text!r}: a server name is missing between commas")
        host, port = item, str(default_port)
        if item.startswith("["):
            host, bracket, rest = item[1:].partition("]")
            if not bracket or (rest and not rest.startswith(":")):
                raise ValueError(f"{item!r}: write an IPv6 address as [ADDRESS]:PORT")
            port = rest[1:] or port
        elif item.count(":") == 1:
            host, port = item.split(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{item!r}: give HOST or HOST:PORT, the port from 1 to 65535")
        servers.append(Server(host, int(port)))
    return servers


class ServerList:
    """The servers of one chatroom, and which to try next."""

    def __init__(
        self, servers: Iterable[Server], trace: Callable[[str], None] | None = None
    ) -> None:
        """`trace`, if given, is given a line for every frame of every connection."""
        self.servers = list(servers)
        if not self.servers:
            raise ValueError("no server to connect to")
        self.trace = trace
        self.current = self.servers[0]
        """The server connected to last (the first, before any)."""
        self._next = 0

    def __str__(self) -> str:
        return ", ".join(map(str, self.servers))

    async def connect(
        self,
        *,
        tls: ssl.SSLContext | None = None,
        timeout: float = 10.0,
        seen: SeenMids | None = None,
        pull: bool = False,
    ) -> ChatClient:
        """A connection to the next server that answers, each tried once in turn; raises
        the last one's failure (OSError, TimeoutError) if none does."""
        failure: BaseException | None = None
        for _ in self.servers:
            server = self.servers[self._next]
            self._next = (self._next + 1) % len(self.servers)
            try:
                client = await ChatClient.connect(
                    server.host,
                    server.port,
                    tls=tls,
                    timeout=timeout,
                    seen=seen,
                    pull=pull,
                    trace=self.trace,
                )
            except RETRYABLE as error:
                failure = error
                continue
            self.current = server
            return client
        assert failure is not None
        raise failure
