"""A connection has a task only while it has requests to answer (connection.py).

Idle sessions are protocol objects the event loop feeds; one sweeper keeps all their
timeouts. These tests hold the server to that, and to what the read loop it replaced
did: answer everything in order however it arrives, reply to a client that has stopped
writing, time out thousands at once, and lose nothing while a request is in progress.
"""

import asyncio
import socket
from collections.abc import Awaitable, Callable

from chatroom.common.codec import encode
from tests.conftest import PASSWORD, WAIT, RawConnection, RunningServer

MakeServer = Callable[..., Awaitable[RunningServer]]


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():
            await asyncio.sleep(0.01)


async def test_idle_logged_in_connections_hold_no_task(server: RunningServer) -> None:
    """Counted over the whole event loop (server, and the test's raw sockets, which have
    none): a task per connection would be 30 more, for as long as they stay."""
    assert server.server is not None
    tasks_before = len(asyncio.all_tasks())
    raws = [await server.raw_login(f"idle{n}") for n in range(30)]
    # A connection's task ends once its replies are written (and the `register`
    # clients' own tasks once they are closed).
    await until(lambda: len(asyncio.all_tasks()) <= tasks_before)
    assert len(server.server._sessions) == 30
    reply = await raws[7].request({"type": "ping", "id": 2, "data": {}})
    assert reply == {"type": "ok", "id": 2, "data": {}}  # and each still answers
    for raw in raws:
        raw.close()
    await until(lambda: not server.server._sessions)  # type: ignore[union-attr]


async def test_a_client_that_stops_writing_still_gets_every_reply(server: RunningServer) -> None:
    raw = await server.raw()
    raw.writer.write(b"".join(_ping(n) for n in range(1, 201)))
    raw.writer.write_eof()  # half closed: it will send nothing more, but reads on
    assert await raw.closed_by_server()
    assert [frame["id"] for frame in raw.received] == list(range(1, 201))


async def test_requests_that_arrive_while_replies_wait_are_all_answered_in_order(
    make_server: MakeServer,
) -> None:
    """20,000 `hello`s sent without reading: their replies (half a kilobyte each) fill the
    socket, the server stops answering, then stops reading (over 64 KiB waiting); then
    the client reads."""
    server = await make_server(max_write_buffer=64 * 1024)
    raw = await server.raw()
    count = 20_000
    requests = b"".join(_hello(n) for n in range(1, count + 1))
    assert len(requests) > 2 * 256 * 1024
    sending = asyncio.create_task(raw.send_bytes(requests))
    ids = []
    async with asyncio.timeout(WAIT * 4):
        while len(ids) < count:
            frame = await raw.receive()
            assert frame["type"] == "ok", frame
            ids.append(frame["id"])
    await sending
    assert ids == list(range(1, count + 1))
    reply = await raw.request({"type": "ping", "id": 0, "data": {}})
    assert reply["id"] == 0  # still open: a client that reads in the end is no slow consumer


async def test_hundreds_of_silent_connections_time_out_together(make_server: MakeServer) -> None:
    server = await make_server(login_timeout=0.5, idle_timeout=60, max_connections_per_ip=500)
    assert server.server is not None
    raws = [await server.raw() for _ in range(300)]
    for raw in raws:
        assert await raw.closed_by_server()
        assert raw.received[-1] == {"type": "bye", "data": {"reason": "login_timeout"}}
    await until(lambda: not server.server._sessions)  # type: ignore[union-attr]


async def test_a_client_gone_while_its_request_runs_is_forgotten_once_it_ends(
    server: RunningServer,
) -> None:
    """A client logs in, pipelines 5,000 pings behind it and closes its socket without
    reading: the server's replies meet a closed socket while it is still answering. The
    session still leaves the hub, and the same user logs in again."""
    assert server.server is not None
    await server.register("gone")
    raw = await server.raw()
    login = {"type": "login", "id": 1, "data": {"username": "gone", "password": PASSWORD}}
    await raw.send_bytes(encode(login) + b"".join(_ping(n) for n in range(2, 5002)))
    raw.writer.close()
    await until(lambda: not server.server._sessions)  # type: ignore[union-attr]
    assert not server.server.services.hub.is_online("gone")
    again = await server.raw_login("gone2")
    back = await server.raw()
    reply = await back.request(login)
    assert reply["type"] == "ok"
    assert "gone" in server.server.services.hub.online()
    again.close()
    back.close()


def _hello(request_id: int) -> bytes:
    return encode({"type": "hello", "id": request_id, "data": {"version": 1}})


def _ping(request_id: int) -> bytes:
    return encode({"type": "ping", "id": request_id, "data": {}})


async def test_many_logins_at_once_some_vanishing_leave_exactly_the_rest_online(
    server: RunningServer,
) -> None:
    """Sixty clients log in at once; a third cut the connection (RST) right after asking,
    a third close it without reading the reply. Whatever point each had reached, the
    online list (the hub's, and what `users` says) ends up exactly the third that stayed;
    and those that vanished come back."""
    assert server.server is not None
    names = [f"crowd{n}" for n in range(60)]
    for name in names:
        await server.register(name)

    async def arrive(name: str, how: int) -> RawConnection:
        raw = await server.raw()
        login = {"type": "login", "id": 1, "data": {"username": name, "password": PASSWORD}}
        if how == 0:
            await raw.send(login)
            raw.writer.transport.abort()
        elif how == 1:
            await raw.send_bytes(encode(login) + _ping(2))
            raw.writer.close()
        else:
            assert (await raw.request(login))["type"] == "ok"
        return raw

    raws = await asyncio.gather(*(arrive(name, n % 3) for n, name in enumerate(names)))
    stayed = sorted(name for n, name in enumerate(names) if n % 3 == 2)
    await until(lambda: len(server.server._sessions) == len(stayed))  # type: ignore[union-attr]
    await until(lambda: server.server.services.hub.online() == stayed)  # type: ignore[union-attr]
    watcher = await server.raw_login("watcher")
    reply = await watcher.request({"type": "users", "id": 2, "data": {}})
    assert reply["data"]["online"] == sorted([*stayed, "watcher"])

    back = await asyncio.gather(*(arrive(name, 2) for n, name in enumerate(names) if n % 3 < 2))
    reply = await watcher.request({"type": "users", "id": 3, "data": {}})
    assert reply["data"]["online"] == sorted([*names, "watcher"])
    for raw in [*raws, *back, watcher]:
        raw.close()


async def test_a_client_gone_while_its_replies_wait_to_be_read_is_let_go_at_once(
    make_server: MakeServer,
) -> None:
    """The session's task waits for the client to read (its buffer is full of replies);
    the client is cut off meanwhile. The wait ends then, not after `idle_timeout`."""
    server = await make_server(max_write_buffer=64 * 1024, idle_timeout=60)
    assert server.server is not None
    await server.register("stuck")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the kernel keeps little
    sock.connect(("127.0.0.1", server.port))
    raw = RawConnection(*await asyncio.open_connection(sock=sock))
    login = {"type": "login", "id": 1, "data": {"username": "stuck", "password": PASSWORD}}
    assert (await raw.request(login))["type"] == "ok"
    raw.writer.write(b"".join(_hello(n) for n in range(2, 20_002)))  # and reads nothing

    def waiting_for_the_client() -> bool:
        return any(s._drain_waiter is not None for s in server.server._sessions)  # type: ignore[union-attr]

    await until(waiting_for_the_client)
    raw.writer.transport.abort()
    await until(lambda: not server.server._sessions)  # type: ignore[union-attr]
    assert not server.server.services.hub.is_online("stuck")


async def test_a_sender_cut_off_mid_pipeline_loses_nothing_it_stored(
    make_server: MakeServer,
) -> None:
    """A client pipelines 50 broadcasts and cuts the connection (RST) at once, before
    any reply. However many the server had read and stored by then (here, all of them:
    they arrive before the reset), each reaches the receiver live, once, in order,
    though nobody is left to reply to; and the sender is let go and can log in again."""
    server = await make_server(message_rate=1000, message_burst=1000)
    assert server.server is not None
    receiver = await server.raw_login("receiver")
    sender = await server.raw_login("sender")
    await sender.send_bytes(
        b"".join(
            encode({"type": "broadcast", "id": n, "data": {"text": f"m{n}"}}) for n in range(1, 51)
        )
    )
    sender.writer.transport.abort()
    await until(lambda: not server.server.services.hub.is_online("sender"))  # type: ignore[union-attr]
    stored = await server.rows("SELECT text FROM messages WHERE sender = 'sender' ORDER BY mid")
    texts = [text for (text,) in stored]
    assert texts == [f"m{n}" for n in range(1, len(texts) + 1)]  # a prefix, in order
    heard = []
    while len(heard) < len(texts):
        if (frame := await receiver.receive())["type"] == "message":
            heard.append(frame["data"]["text"])
    assert heard == texts
    again = await server.raw()
    login = {"type": "login", "id": 1, "data": {"username": "sender", "password": PASSWORD}}
    assert (await again.request(login))["type"] == "ok"
    for raw in (receiver, again):
        raw.close()


async def test_an_idle_logged_in_user_leaves_no_user_cached_status_or_file_table(
    server: RunningServer,
) -> None:
    """What a logged-in user costs while idle is their session. A login reads the user
    fresh (for the password) and caches nothing; a plain `online` status is the default,
    not an entry; the table of files a session may download is made at its first, and
    its message rate's bucket at its first message. Those a message is sent to are
    cached, to spare a database read per message."""
    assert server.server is not None
    store, hub = server.server.services.store, server.server.services.hub
    raws = [await server.raw_login(f"quiet{n}") for n in range(5)]
    assert not store._users  # type: ignore[attr-defined]
    assert not hub._statuses
    assert all(session.readable_files is None for session in server.server._sessions)
    assert all(session.messages is None for session in server.server._sessions)
    private = {"type": "private", "id": 2, "data": {"to": "quiet1", "text": "hello"}}
    assert (await raws[0].request(private))["type"] == "ok"
    assert list(store._users) == ["quiet1"]  # type: ignore[attr-defined]
    away = {"type": "status_set", "id": 3, "data": {"status": "away", "status_text": ""}}
    assert (await raws[2].request(away))["type"] == "ok"
    assert list(hub._statuses) == ["quiet2"]
    back = {"type": "status_set", "id": 4, "data": {"status": "online", "status_text": ""}}
    assert (await raws[2].request(back))["type"] == "ok"
    assert not hub._statuses
    for raw in raws:
        raw.close()


async def test_connections_from_one_address_share_its_string(server: RunningServer) -> None:
    """An idle connection is counted in bytes (docs/performance.md): its address, kept
    for the per-address limits and the log, is one string for all from the same host."""
    assert server.server is not None
    raws = [await server.raw_login(f"same{n}") for n in range(3)]
    addresses = [session.address for session in server.server._sessions]
    assert addresses == ["127.0.0.1"] * 3
    assert all(address is addresses[0] for address in addresses)
    for raw in raws:
        raw.close()
