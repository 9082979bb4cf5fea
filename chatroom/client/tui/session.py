"""The chat session: one logged-in user's link to the server, kept up across reconnections.

Not a widget. It reconnects with backoff and logs in again, sends the outbox in order,
gathers acks, pings, and retries uploads; the chat screen runs these coroutines as workers
and hears back through Textual messages (`events`), posted to whatever `listen` was given.
Each message gets its `cid` when it is typed and keeps it through every retry, as a file
being sent does, so a retry whose first `ok` was lost with the connection is not delivered
twice.
"""

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.message import Message

from chatroom.client.api import ChatClient, FileSent, LoginReply, explained, new_cid, sessions
from chatroom.client.tui.events import (
    MessageRefused,
    MessageSent,
    PushArrived,
    Reconnecting,
    SessionFailed,
    SessionLost,
    SessionStarted,
)
from chatroom.client.tui.link import ServerLink
from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.messages import FileInfo
from chatroom.common.readable import reading

Progress = Callable[[int, int], None]
"""Told (bytes done, bytes in all) as a transfer goes."""

ACK_DELAY = 0.3
"""Seconds to gather shown messages into one `ack`."""
SENT_AWAY = {
    "kicked": "you were kicked by a moderator",
    "banned": "you were banned by a moderator",
    "password_changed": "your password was changed; log in with the new one",
}
"""Why a session was closed for good, by the `bye` reasons after which it does not log in
again: coming straight back would undo a kick, and a ban or an old password is refused."""
OFFLINE = "offline"
"""The code of the `ChatError` a request gets while there is no connection (the client's
own: no server sends it)."""


@dataclass(slots=True, frozen=True)
class Outgoing:
    """A message typed but not yet confirmed by the server."""

    to: str | None
    """The recipient, or None for a room."""
    text: str
    room: str | None = None
    """The room (None: the lobby), for a message to no one in particular."""
    cid: str = field(default_factory=new_cid)
    """Chosen when the message is typed and sent with every attempt."""


class ChatSession:
    def __init__(
        self, link: ServerLink, client: ChatClient, reply: LoginReply, password: str
    ) -> None:
        self.link = link
        self.client = client
        self.first_reply = reply
        self.me = reply.username
        self.password = password
        """Kept here, not in a widget, to log in again if the resume token stops working."""
        self.resume_token = reply.resume_token
        self.outbox: deque[Outgoing] = deque()
        self.outbox_ready = asyncio.Event()
        self.linked = asyncio.Event()
        """Set while a logged-in connection is up."""
        self.ack_upto = 0
        self.ack_due = False
        """Whether an `ack` is waiting out `ACK_DELAY`."""
        self.post: Callable[[Message], object] = lambda message: None

    def listen(self, post: Callable[[Message], object]) -> None:
        """Where the session's messages go (the chat screen's `post_message`)."""
        self.post = post

    async def log_in_again(self, client: ChatClient) -> LoginReply:
        """After a reconnection: `hello` (a restarted server may have new limits), then the
        resume token if it still works (no bcrypt on the server, so a restart is quick for
        everyone), else the password."""
        await self.link.greet(client)
        if self.resume_token is not None:
            try:
                return await client.resume(self.resume_token)
            except ChatError as error:
                if error.code != ErrorCode.INVALID_TOKEN:
                    raise
                self.resume_token = None
        reply = await client.login(self.me, self.password)
        self.resume_token = reply.resume_token
        return reply

    async def change_password(self, password: str, new_password: str) -> None:
        """`password_set`: from now on the session logs in again with the new password,
        and the new token (the server revokes the others)."""
        reply = await self.request("password_set", password=password, new_password=new_password)
        with reading("the password_set reply"):
            token = str(reply["resume_token"])
        self.password, self.resume_token = new_password, token

    async def keep(self) -> None:
        """Relay pushes; when the connection drops, reconnect with backoff and log in again."""
        link = self.link
        try:
            async for client, reply in sessions(
                link.servers,
                self.log_in_again,
                first=(self.client, self.first_reply),
                tls=link.tls,
                delays=link.reconnect_delays,
                on_wait=self.waiting,
            ):
                self.client = client
                self.linked.set()
                self.post(SessionStarted(reply))
                async for push in client:
                    self.post(PushArrived(push))
                self.linked.clear()
                if (why := SENT_AWAY.get(client.closed_reason or "")) is not None:
                    self.post(SessionFailed(why))
                    return
                self.post(SessionLost(client.closed_reason))
        except ChatError as error:
            self.post(SessionFailed(explained(error)))

    def waiting(self, delay: float) -> None:
        self.post(Reconnecting(delay))

    def queue(self, to: str | None, text: str, room: str | None = None) -> None:
        self.outbox.append(Outgoing(to, text, room))
        self.outbox_ready.set()

    def connected(self) -> ChatClient:
        """The connection, if there is one (else `ChatError`), for one request or a few."""
        if not self.linked.is_set():
            raise ChatError(OFFLINE, "not connected; try again once reconnected")
        return self.client

    async def request(self, kind: str, **data: object) -> dict[str, Any]:
        """One request on the connection, if there is one (else `ChatError`)."""
        return await self.connected().request(kind, **data)

    async def send_outbox(self) -> None:
        """Send what was typed, in order, whenever the session is up; keep it until `ok`."""
        while True:
            await self.outbox_ready.wait()
            await self.linked.wait()
            item = self.outbox[0]
            try:
                sent = await (
                    self.client.broadcast(item.text, item.cid, room=item.room)
                    if item.to is None
                    else self.client.private(item.to, item.text, item.cid)
                )
            except ChatError as error:
                self.outbox.popleft()
                why = explained(error)
                self.post(MessageRefused(item.to, why, item.text, item.room, error.code))
            except OSError:
                # Maybe the message arrived and only its ok was lost: the retry has its cid.
                self.linked.clear()  # `keep` reconnects and sets it again
                continue
            else:
                self.outbox.popleft()
                self.post(MessageSent(item.to, item.text, sent, item.room))
            if not self.outbox:
                self.outbox_ready.clear()

    def shown(self, mid: int) -> bool:
        """Message `mid` is on screen; True if a `send_ack` should now be started."""
        self.ack_upto = max(self.ack_upto, mid)
        if self.ack_due:
            return False
        self.ack_due = True
        return True

    async def send_ack(self) -> None:
        """After `ACK_DELAY`, one `ack` for everything shown meanwhile."""
        await asyncio.sleep(ACK_DELAY)
        self.ack_due = False
        # If this fails the server sends the messages again at the next login; we drop them.
        with contextlib.suppress(ChatError, OSError):
            await self.client.ack(self.ack_upto)

    async def keep_pinging(self) -> None:
        """Ping every third of the server's idle timeout, for as long as this lasts (the
        chat screen starts it again at each login: the server may be another, with
        another idle timeout)."""
        while True:
            await asyncio.sleep(self.link.keepalive)
            await self.ping()

    async def ping(self) -> None:
        """Keep an idle connection open (the server closes one silent for its idle timeout),
        and notice a dead one: a server whose machine left the network says nothing, and
        TCP would take many minutes to give up. A ping not answered in half the time
        between pings cuts the connection, and `keep` connects again."""
        if not self.linked.is_set():
            return
        client, wait = self.client, self.link.keepalive / 2
        try:
            async with asyncio.timeout(wait):
                await client.ping()
        except TimeoutError:
            client.abandon(f"no answer to ping in {wait:g} s")
        except (ChatError, OSError):
            pass

    async def upload(
        self, path: Path, to: str | None, room: str | None, progress: Progress
    ) -> FileSent:
        """Send a file, resuming after each reconnection until it is sent or refused."""
        cid = new_cid()  # one for every attempt, so a lost last ok does not send it twice
        while True:
            await self.linked.wait()
            try:
                return await self.client.send_file(path, to, room=room, progress=progress, cid=cid)
            except ConnectionError:  # not a local OSError such as a file gone missing
                self.linked.clear()  # `keep` reconnects and sets it again

    async def download(self, file: int | FileInfo, folder: Path, progress: Progress) -> Path:
        return await self.client.download(file, folder, progress=progress)

    async def log_out(self) -> None:
        if not self.client.closed.is_set():
            with contextlib.suppress(ChatError, OSError):
                await self.client.logout()
