"""The TUI's chat session driven with a fake client: no socket, no screen."""

import asyncio
from typing import Any

from chatroom.client.api import LoginReply, Sent
from chatroom.client.tui.events import MessageRefused, MessageSent
from chatroom.client.tui.link import ServerLink
from chatroom.client.tui.session import ChatSession
from chatroom.common.errors import ChatError, ErrorCode


class FakeClient:
    """Answers `broadcast` and `private` from a script of results (a `Sent` or an error)."""

    def __init__(self, *results: Sent | Exception) -> None:
        self.results = list(results)
        self.calls: list[tuple[str | None, str, str | None]] = []

    async def broadcast(
        self, text: str, cid: str | None = None, *, room: str | None = None
    ) -> Sent:
        return self.answer(None, text, cid)

    async def private(self, to: str, text: str, cid: str | None = None) -> Sent:
        return self.answer(to, text, cid)

    def answer(self, to: str | None, text: str, cid: str | None) -> Sent:
        self.calls.append((to, text, cid))
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result


def linked_session(client: FakeClient) -> tuple[ChatSession, list[Any]]:
    reply = LoginReply("alice", ["alice"], 0, 0, "token")
    session = ChatSession(ServerLink("127.0.0.1", 1), client, reply, "password")  # type: ignore[arg-type]
    posted: list[Any] = []
    session.listen(posted.append)
    session.linked.set()
    return session, posted


async def drain_outbox(session: ChatSession) -> None:
    sender = asyncio.create_task(session.send_outbox())
    try:
        async with asyncio.timeout(1):
            while session.outbox:
                await asyncio.sleep(0)
                if not session.linked.is_set():
                    session.linked.set()  # as `keep` does once it has reconnected
    finally:
        sender.cancel()


async def test_the_outbox_sends_in_order_and_reports_each_message() -> None:
    client = FakeClient(Sent(1, 10.0), Sent(2, 11.0, delivered=False))
    session, posted = linked_session(client)
    session.queue(None, "hello all")
    session.queue("bob", "hi bob")
    await drain_outbox(session)
    assert [(to, text) for to, text, _ in client.calls] == [(None, "hello all"), ("bob", "hi bob")]
    assert posted == [
        MessageSent(None, "hello all", Sent(1, 10.0)),
        MessageSent("bob", "hi bob", Sent(2, 11.0, delivered=False)),
    ]


async def test_a_message_lost_with_the_connection_is_retried_with_its_cid() -> None:
    client = FakeClient(ConnectionResetError(), Sent(1, 10.0))
    session, posted = linked_session(client)
    session.queue(None, "only once")
    cid = session.outbox[0].cid
    await drain_outbox(session)
    assert [call[2] for call in client.calls] == [cid, cid]
    assert posted == [MessageSent(None, "only once", Sent(1, 10.0))]


async def test_a_refused_message_is_reported_and_not_sent_again() -> None:
    client = FakeClient(ChatError(ErrorCode.NO_SUCH_USER, "no such user"), Sent(2, 11.0))
    session, posted = linked_session(client)
    session.queue("nobody", "hello?")
    session.queue(None, "next")
    await drain_outbox(session)
    assert posted == [
        MessageRefused("nobody", "no such user", "hello?", code=ErrorCode.NO_SUCH_USER),
        MessageSent(None, "next", Sent(2, 11.0)),
    ]


def test_messages_shown_close_together_share_one_ack() -> None:
    session, _ = linked_session(FakeClient())
    assert session.shown(5) is True
    assert session.shown(7) is False
    assert session.shown(6) is False
    assert (session.ack_upto, session.ack_due) == (7, True)
