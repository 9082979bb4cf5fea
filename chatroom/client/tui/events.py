"""What the network tells the chat screen, as Textual messages posted by its session worker."""

from dataclasses import dataclass

from textual.message import Message

from chatroom.client.api import LoginReply
from chatroom.common.messages import Push


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
