"""The chatroom client: an async library and, built on it, the Textual TUI (`tui`).

The library's parts: `connection` (`ChatClient`: connect, requests, pushes),
`conversations` (rooms, history, search, read markers), `replies` (what requests
return), `transfers` (file uploads and downloads in chunks, resumed and checked),
`reconnect` (`sessions`, a fresh logged-in client after each drop, with `backoff`) and
`wording` (failures in plain words). `api` gathers their public names; `cli` is the
`chatroom` command.
"""

from chatroom.client.connection import ChatClient, ConnectionClosed
from chatroom.client.replies import LoginReply, Sent

__all__ = ["ChatClient", "ConnectionClosed", "LoginReply", "Sent"]
