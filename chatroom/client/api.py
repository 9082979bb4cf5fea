"""The client library's public names in one place, as programs have always imported them.

Each lives in its own part: the connection (`connection`), rooms and conversations
(`conversations`), what requests return (`replies`), file transfers (`transfers`),
reconnection (`reconnect`) to one server or several, over TLS or not (`servers`), and
the words shown to people (`wording`); and from `chatroom.common`, the pushes a program
reads and the error it catches. docs/library.md shows a program that uses them.
"""

from chatroom.client.connection import ChatClient, ConnectionClosed
from chatroom.client.reconnect import backoff, sessions
from chatroom.client.replies import (
    ConversationState,
    Found,
    LoginReply,
    Member,
    Members,
    RoomInfo,
    Sent,
)
from chatroom.client.seen import SeenMids
from chatroom.client.servers import RETRYABLE, Server, ServerList, parse_servers, tls_context
from chatroom.client.transfers import FILE_WINDOW, FileSent, Progress
from chatroom.client.wording import describe_os_error, explained, why_failed
from chatroom.common.amounts import amount
from chatroom.common.envelope import new_cid
from chatroom.common.errors import ChatError
from chatroom.common.messages import FileInfo, FilePush, MessagePush, Push

__all__ = [
    "FILE_WINDOW",
    "RETRYABLE",
    "ChatClient",
    "ChatError",
    "ConnectionClosed",
    "ConversationState",
    "FileInfo",
    "FilePush",
    "FileSent",
    "Found",
    "LoginReply",
    "Member",
    "Members",
    "MessagePush",
    "Progress",
    "Push",
    "RoomInfo",
    "SeenMids",
    "Sent",
    "Server",
    "ServerList",
    "amount",
    "backoff",
    "describe_os_error",
    "explained",
    "new_cid",
    "parse_servers",
    "sessions",
    "tls_context",
    "why_failed",
]
