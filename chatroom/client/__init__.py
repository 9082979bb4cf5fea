"""The chatroom client: an async library and, built on it, the Textual TUI (`tui`).

The library's parts: `connection` (`ChatClient`: connect, requests, pushes), `transfers`
(file uploads and downloads in chunks, resumed and checked), `reconnect` (`sessions`, a
fresh logged-in client after each drop, with `backoff`) and `wording` (failures in plain
words). `api` gathers their public names; `cli` is the `chatroom` command.
"""

from chatroom.client.connection import ChatClient, ConnectionClosed, LoginReply, Sent

__all__ = ["ChatClient", "ConnectionClosed", "LoginReply", "Sent"]
