"""The chatroom client: an async library (`api`) and, built on it, the Textual TUI (`tui`)."""

from chatroom.client.api import ChatClient, ConnectionClosed, LoginReply, Sent

__all__ = ["ChatClient", "ConnectionClosed", "LoginReply", "Sent"]
