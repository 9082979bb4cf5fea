"""Crash safety: SIGKILL the server mid-traffic; every acknowledged message survives."""

import asyncio
import itertools
import signal
from dataclasses import dataclass
from pathlib import Path

from chatroom.client import ChatClient
from chatroom.common.messages import MessagePush
from tests.conftest import PASSWORD, WAIT, next_push, spawn_server

USERS = [f"user{n}" for n in range(5)]


@dataclass(frozen=True)
class Sent:
    mid: int
    sender: str
    to: str | None


async def test_every_acknowledged_message_survives_a_sigkill(tmp_path: Path) -> None:
    flags = ("--message-rate", "100000", "--message-burst", "100000")
    server = await spawn_server(tmp_path, *flags)
    clients: dict[str, ChatClient] = {}
    for name in USERS:
        clients[name] = await ChatClient.connect("127.0.0.1", server.port)
        await clients[name].register(name, PASSWORD)
        await clients[name].login(name, PASSWORD)

    sent: list[Sent] = []  # every message that got an ok
    live: dict[str, int] = dict.fromkeys(USERS, 0)  # highest mid each user saw live
    acked: dict[str, int] = dict.fromkeys(USERS, 0)  # what each user's ack covered (ok'd)
    enough_to_ack, enough_to_kill = asyncio.Event(), asyncio.Event()

    async def send(name: str) -> None:
        others = itertools.cycle([u for u in USERS if u != name])
        for turn in range(1000):
            to = next(others) if turn % 2 else None
            client = clients[name]
            try:
                reply = await (client.private(to, f"{turn}") if to else client.broadcast(f"{turn}"))
            except ConnectionError:
                return  # the server is gone; this one got no ok, so it promised nothing
            sent.append(Sent(reply.mid, name, to))
            if len(sent) >= 60:
                enough_to_ack.set()
            if len(sent) >= 150:
                enough_to_kill.set()

    async def read(name: str) -> None:
        async for push in clients[name]:
            if isinstance(push, MessagePush):
                live[name] = max(live[name], push.mid)

    async def ack(name: str) -> None:
        await enough_to_ack.wait()
        upto = live[name]
        await clients[name].ack(upto)
        acked[name] = upto

    tasks = [asyncio.create_task(job(name)) for name in USERS for job in (send, read)]
    acks = [asyncio.create_task(ack(name)) for name in USERS]
    await asyncio.wait_for(asyncio.gather(*acks), WAIT)
    await asyncio.wait_for(enough_to_kill.wait(), WAIT)
    server.process.send_signal(signal.SIGKILL)
    await asyncio.wait_for(asyncio.gather(*tasks), WAIT)
    assert await server.process.wait() == -signal.SIGKILL

    restarted = await spawn_server(tmp_path, *flags)
    try:
        for name in USERS:
            client = await ChatClient.connect("127.0.0.1", restarted.port)
            reply = await client.login(name, PASSWORD)
            delivered = {(await next_push(client, MessagePush)).mid for _ in range(reply.offline)}
            expected = {
                m.mid
                for m in sent
                if (m.to == name or (m.to is None and m.sender != name)) and m.mid > acked[name]
            }
            assert expected <= delivered, f"{name} lost {sorted(expected - delivered)}"
            assert all(mid > acked[name] for mid in delivered), f"{name} got acked mail again"
            await client.close()
        assert acked[USERS[0]] > 0 and len(sent) >= 150  # the test exercised both rules
    finally:
        await restarted.stop(signal.SIGTERM)
