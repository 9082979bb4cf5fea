"""Textual messages: what the chat session tells the chat screen, and what screens ask of
the app. Messages go up; nothing here knows which widget will handle them."""

from dataclasses import dataclass

from textual.message import Message

from chatroom.client.api import LoginReply, Sent
from chatroom.common.messages import FilePush, Push

# -- from the chat session to the chat screen -----------------------------------------


@dataclass
class PushArrived(Message):
    """The server pushed a message, a presence change, or a bye."""

    push: Push


@dataclass
class SessionStarted(Message):
    """Logged in (at first, or again after a reconnection)."""

    reply: LoginReply


@dataclass
class SessionLost(Message):
    """The connection ended; `reason` is the server's `bye` reason if it gave one."""

    reason: str | None


@dataclass
class Reconnecting(Message):
    """The next reconnection attempt is `delay` seconds away."""

    delay: float


@dataclass
class SessionFailed(Message):
    """Reconnecting can never work (the server refused the credentials)."""

    message: str


@dataclass
class MessageSent(Message):
    """The server took a message from the outbox (`to` is None for the group)."""

    to: str | None
    text: str
    sent: Sent
    room: str | None = None
    """The room it went to, when `to` is None (None: the lobby)."""


@dataclass
class FileUploaded(Message):
    """A file the user sent is complete on the server: the push its recipients got."""

    file: FilePush


@dataclass
class MessageRefused(Message):
    """The server refused a message from the outbox; it is not sent again."""

    to: str | None
    reason: str
    text: str
    """What was not sent, so that the screen can give it back to the user."""
    room: str | None = None
    code: str = ""
    """The error's code (docs/protocol.md section 10)."""


# -- from screens to the app ------------------------------------------------------------


@dataclass
class LoginWanted(Message):
    """Open the login form, with `username` filled in."""

    username: str


@dataclass
class RegisterWanted(Message):
    """Open the register form."""


@dataclass
class FileWanted(Message):
    """Let the user pick a file to send to `to`, or into `room` (both None: the group)."""

    to: str | None
    room: str | None


class HelpWanted(Message):
    """The user asked for the help screen (F1, or `?` on an empty input line)."""


@dataclass
class QuitWanted(Message):
    """Log out if logged in, then leave."""


@dataclass
class TitleWanted(Message):
    """The terminal's title should say `title` (unread messages for the user, say)."""

    title: str
