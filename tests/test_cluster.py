"""Three server nodes, each its own process, sharing one real PostgreSQL and one real
Redis (tests/engines.py): what a client on one node does reaches clients on the others,
presence is the same everywhere, and a node killed is noticed and its users move on."""

import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from textual.widgets import Static

from chatroom.client import ChatClient
from chatroom.client.api import LoginReply, ServerList, backoff, parse_servers, sessions
from chatroom.client.tui.app import ChatApp
from chatroom.common.errors import ChatError
from chatroom.common.limits import Limits
from chatroom.common.messages import (
    ContactPush,
    DeletedPush,
    JoinedPush,
    MessagePush,
    ReadPush,
    TopicPush,
)
from chatroom.server.cluster import HEARTBEAT, NODE_TTL, RETRY
from chatroom.server.cluster.hub import connect_redis
from chatroom.server.cluster.limits import RedisLimits
from chatroom.server.store.postgres import WRITE_LOCK
from chatroom.server.throttle import LoginThrottle
from tests.conftest import (
    PASSWORD,
    WAIT,
    RawConnection,
    ServerProcess,
    new_schema,
    next_push,
    postgres_rows,
    refusal,
    refused,
    spawn_server,
)
from tests.engines import Postgres, Redis, missing, postgres_bin
from tests.test_tui import log_in, log_text, send, text_of, until

ALL = ["rooms", "read", "carbons"]
FAST = ["--message-rate", "1000000", "--message-burst", "1000000"]
NODE_GONE = NODE_TTL + 2 * HEARTBEAT + WAIT
"""How long a node's death may take to be noticed, and its users announced offline."""


@pytest.fixture
async def database(postgres: Postgres) -> str:
    """A new database (schema) for the test's nodes to share: its URL."""
    return await new_schema(postgres)


@pytest.fixture
async def stoppable_postgres() -> AsyncIterator[Postgres]:
    """A PostgreSQL of the test's own, which it may stop and start."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        missing("PostgreSQL (pg_ctl, initdb)")
    assert bin_dir is not None
    cluster = await asyncio.to_thread(Postgres, bin_dir)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[ServerProcess]]]:
    """`await node(*flags)`: a server process, stopped at the end whatever happens."""
    started: list[ServerProcess] = []

    async def start(*flags: str) -> ServerProcess:
        started.append(await spawn_server(tmp_path / "shared", *flags))
        return started[-1]

    yield start
    for process in started:
        if process.process.returncode is None:
            await process.stop(signal.SIGTERM)


@pytest.fixture
async def cluster(
    database: str, redis_server: Redis, node: Callable[..., Awaitable[ServerProcess]]
) -> Callable[..., Awaitable[list[ServerProcess]]]:
    """`await cluster(*flags)`: three nodes started with `flags` on one new database, one
    Redis, one shared files directory."""

    async def start(*flags: str) -> list[ServerProcess]:
        shared = ["--store", database, "--hub", redis_server.url, *flags]
        return [await node(*shared) for _ in range(3)]

    return start


@pytest.fixture
async def nodes(cluster: Callable[..., Awaitable[list[ServerProcess]]]) -> list[ServerProcess]:
    """Three nodes of one cluster, with no message rate limit."""
    return await cluster(*FAST)


async def on(node: ServerProcess, username: str, features: list[str] = ALL) -> ChatClient:
    """A client of `node`, logged in as `username` (registered first if new)."""
    client = await ChatClient.connect("127.0.0.1", node.port)
    await client.request("hello", version=1, features=features)
    try:
        await client.register(username, PASSWORD)
    except ChatError as error:
        assert error.code == "username_taken"
    await client.login(username, PASSWORD)
    return client


async def say(client: ChatClient, to: str, count: int) -> list[int]:
    """`count` messages from `client`, in the lobby and in private to `to` by turns, each
    acknowledged: their mids."""
    mids = []
    for n in range(count):
        reply = await (
            client.request("private", to=to, text=f"p{n}")
            if n % 2
            else client.request("broadcast", text=f"b{n}")
        )
        mids.append(reply["mid"])
    return mids


async def collect_mids(client: ChatClient, mids: set[int], sender: str | None = None) -> None:
    """Add to `mids` each message pushed to `client` (from `sender`, if given), until
    cancelled."""
    while True:
        push = await client.next_push()
        if isinstance(push, MessagePush) and sender in (None, push.sender):
            mids.add(push.mid)


async def eventually(check: Callable[[], Awaitable[Any]], within: float = WAIT) -> Any:
    """Ask `check` until it answers something true (bounded); that answer."""
    async with asyncio.timeout(within):
        while not (answer := await check()):
            await asyncio.sleep(0.05)
        return answer


async def test_messages_and_presence_cross_every_node(nodes: list[ServerProcess]) -> None:
    a, b, c = nodes
    alice = await on(a, "alice")
    bob = await on(b, "bob")
    carol = await on(c, "carol")
    alice_too = await on(c, "alice")  # a second session of alice's, on another node
    everyone = ["alice", "bob", "carol"]
    for client in (alice, bob, carol):
        await eventually(lambda client=client: _online_is(client, everyone))
    # A status chosen on one node is in the online list another node gives.
    await alice.request("status_set", status="away", status_text="lunch")
    away = {"alice": {"status": "away", "status_text": "lunch"}}
    await eventually(lambda: _statuses_are(carol, away))
    dave = await ChatClient.connect("127.0.0.1", b.port)
    await dave.register("dave", PASSWORD)
    assert (await dave.login("dave", PASSWORD)).statuses == away
    await dave.close()

    sent = await alice.request("private", to="bob", text="across", cid="p-1")
    assert sent["delivered"] is True
    got = await next_push(bob, MessagePush, mid=sent["mid"])
    assert (got.sender, got.text) == ("alice", "across")
    carbon = await next_push(alice_too, MessagePush, mid=sent["mid"])
    assert carbon.to == "bob"

    read = await alice_too.request("read", upto=sent["mid"], **{"with": "bob"})
    marker = await next_push(alice, ReadPush)  # alice's other session, on node A
    assert (marker.with_user, marker.upto) == ("bob", sent["mid"])
    assert marker.unread == read["unread"] == 0

    await alice.request("room_create", room="den")
    for client in (bob, carol):  # the room is news to the other nodes a moment later
        await eventually(lambda client=client: _joined(client, "den"))
    said = await alice.request("broadcast", room="den", text="hello den")
    for client in (bob, carol, alice_too):
        push = await next_push(client, MessagePush, mid=said["mid"])
        assert (push.room, push.text) == ("den", "hello den")

    await bob.close()
    assert await eventually(lambda: _online_is(alice, ["alice", "carol"]))
    assert await eventually(lambda: _online_is(carol, ["alice", "carol"]))
    for client in (alice, carol, alice_too):
        await client.close()


async def test_every_kind_of_push_crosses_nodes_as_it_was_sent(
    nodes: list[ServerProcess],
) -> None:
    """A node relays each push as its frame, encoded once where it was sent: what a user
    on another node gets is that push, whatever its kind (rooms', contacts', deletions',
    not only messages)."""
    a, b, _ = nodes
    alice = await on(a, "alice")
    bob = await on(b, "bob")
    await alice.request("room_create", room="den")
    await eventually(lambda: _joined(bob, "den"))  # once node B has heard of the room
    joined = await next_push(alice, JoinedPush)
    assert (joined.room, joined.username) == ("den", "bob")

    await alice.request("room_topic", room="den", topic="plans")
    topic = await next_push(bob, TopicPush)
    assert (topic.room, topic.topic, topic.by) == ("den", "plans", "alice")
    await alice.request("contact_add", username="bob")
    asked = await next_push(bob, ContactPush)
    assert (asked.username, asked.event) == ("alice", "request")
    said = await alice.request("private", to="bob", text="oops")
    await next_push(bob, MessagePush, mid=said["mid"])
    await alice.request("delete", mid=said["mid"])
    deleted = await next_push(bob, DeletedPush)
    assert (deleted.mid, deleted.author, deleted.to, deleted.by) == (
        said["mid"], "alice", "bob", "alice",
    )  # fmt: skip
    for client in (alice, bob):
        await client.close()


async def test_a_node_hears_its_own_events_back_from_redis_and_delivers_nothing_twice(
    nodes: list[ServerProcess],
) -> None:
    """Every node hears the channel it publishes on: it must skip its own events, or its
    users would be sent each message twice (a raw client sees every frame; the library
    would hide a repeat by its mid). The channel keeps its order: once bob has carol's
    message, node A has heard back what it published before it."""
    a, b = nodes[0], nodes[1]
    await (await on(a, "bob")).close()  # registered
    bob = await RawConnection.open(a.port)
    login = {"type": "login", "id": 1, "data": {"username": "bob", "password": PASSWORD}}
    assert (await bob.request(login))["type"] == "ok"
    alice, carol = await on(a, "alice"), await on(b, "carol")
    await alice.request("private", to="bob", text="one")
    await alice.request("private", to="carol", text="two")  # published after "one"
    await next_push(carol, MessagePush, text="two")
    await carol.request("private", to="bob", text="three")  # published after both
    texts = []
    while not texts or texts[-1] != "three":
        if (frame := await bob.receive())["type"] == "message":
            texts.append(frame["data"]["text"])
    assert texts == ["one", "three"]
    for client in (alice, carol):
        await client.close()


async def test_a_killed_node_is_noticed_and_its_users_resume_elsewhere(
    nodes: list[ServerProcess],
) -> None:
    a, b, c = nodes
    alice = await on(a, "alice")
    bob_client = await ChatClient.connect("127.0.0.1", b.port)
    await bob_client.register("bob", PASSWORD)
    token = (await bob_client.login("bob", PASSWORD)).resume_token
    assert token is not None
    await eventually(lambda: _online_is(alice, ["alice", "bob"]))

    flood = [alice.submit("broadcast", text=f"flood {n}") for n in range(200)]
    await asyncio.sleep(0)  # the flood is on its way when the node dies
    b.process.send_signal(signal.SIGKILL)
    acked = [reply["mid"] for reply in await asyncio.gather(*flood)]
    received_on_b: set[int] = set()
    acked_by_bob: set[int] = set()
    with pytest.raises(Exception):  # noqa: B017 - whatever the dead node's socket does
        while True:
            push = await asyncio.wait_for(bob_client.next_push(), WAIT)
            if isinstance(push, MessagePush):
                received_on_b.add(push.mid)
                await bob_client.ack(push.mid)
                acked_by_bob.add(push.mid)
    await bob_client.close()
    assert await eventually(lambda: _online_is(alice, ["alice"]), within=NODE_GONE)

    bob = await ChatClient.connect("127.0.0.1", c.port)
    resumed = await bob.resume(token)
    assert await eventually(lambda: _online_is(alice, ["alice", "bob"]))
    replayed: list[int] = []
    for _ in range(resumed.offline):
        push = await next_push(bob, MessagePush)
        replayed.append(push.mid)
    assert not set(replayed) & acked_by_bob  # nothing acked comes again
    assert received_on_b | set(replayed) >= set(acked)  # and every acknowledged message came
    await alice.close()
    await bob.close()


async def test_a_redis_restart_during_traffic_loses_no_acknowledged_message(
    nodes: list[ServerProcess], redis_server: Redis
) -> None:
    a, b, _ = nodes
    alice = await on(a, "alice")
    bob = await on(b, "bob")
    await eventually(lambda: _online_is(alice, ["alice", "bob"]))
    received: set[int] = set()
    receiving = asyncio.create_task(collect_mids(bob, received))
    acked = await say(alice, "bob", 40)
    await asyncio.to_thread(redis_server.stop)
    acked += await say(alice, "bob", 40)  # acknowledged while the nodes cannot meet
    await asyncio.to_thread(redis_server.start)
    acked += await say(alice, "bob", 40)

    async def all_came() -> bool:
        return received >= set(acked)

    assert await eventually(all_came, within=RETRY + 2 * HEARTBEAT + WAIT)
    assert await eventually(lambda: _online_is(alice, ["alice", "bob"]))  # presence again
    assert await eventually(lambda: _online_is(bob, ["alice", "bob"]))
    receiving.cancel()
    await alice.close()
    await bob.close()


async def test_messages_a_node_heard_from_another_move_its_catch_up_mark(
    nodes: list[ServerProcess], redis_server: Redis
) -> None:
    """A node marks the messages it relayed from the others as it marks those it sent:
    after losing Redis it sends again what was stored after its mark of two heartbeats
    before, not every message since it started."""
    a, b, _ = nodes
    alice = await on(a, "alice")
    bob = await on(b, "bob")  # node b itself sends nothing: its mark moves by what it hears
    await eventually(lambda: _online_is(alice, ["alice", "bob"]))
    received: set[int] = set()
    receiving = asyncio.create_task(collect_mids(bob, received))
    heard = [(await alice.request("private", to="bob", text=f"{n}"))["mid"] for n in range(10)]

    async def all_came() -> bool:
        return received >= set(heard)

    assert await eventually(all_came)
    await asyncio.sleep(3.5 * HEARTBEAT)  # two heartbeats move the mark (and room for a late one)
    await asyncio.to_thread(redis_server.stop)
    await b.wait_for_log("Redis is unreachable")
    await asyncio.to_thread(redis_server.start)
    caught_up = await b.wait_for_log(r"sending again what was stored after mid (\d+)")
    assert int(caught_up.group(1)) >= max(heard)
    receiving.cancel()
    await alice.close()
    await bob.close()


async def test_after_a_redis_restart_the_senders_other_session_has_all_it_sent(
    nodes: list[ServerProcess], redis_server: Redis
) -> None:
    """Carbons are caught up too: what the user said from node a while the nodes could
    not reach each other comes to their session on node b (which asked for carbons)."""
    a, b, c = nodes
    phone = await on(a, "carol")
    laptop = await on(b, "carol")
    dave = await on(c, "dave")
    await eventually(lambda: _online_is(phone, ["carol", "dave"]))
    seen: set[int] = set()
    receiving = asyncio.create_task(collect_mids(laptop, seen, sender="carol"))
    sent = await say(phone, "dave", 10)  # in private and in the lobby: carbons of both
    await asyncio.to_thread(redis_server.stop)
    sent += await say(phone, "dave", 10)
    await asyncio.to_thread(redis_server.start)
    sent += await say(phone, "dave", 10)

    async def all_came() -> bool:
        return seen >= set(sent)

    assert await eventually(all_came, within=RETRY + 2 * HEARTBEAT + WAIT)
    receiving.cancel()
    for client in (phone, laptop, dave):
        await client.close()


async def test_two_clusters_on_one_redis_do_not_hear_each_other(
    nodes: list[ServerProcess],
    postgres: Postgres,
    redis_server: Redis,
    node: Callable[..., Awaitable[ServerProcess]],
) -> None:
    other_database = await new_schema(postgres)  # another cluster: its own name in Redis
    elsewhere = await node("--store", other_database, "--hub", redis_server.url)
    stranger = await on(elsewhere, "stranger")
    alice = await on(nodes[0], "alice")
    bob = await on(nodes[1], "bob")
    await eventually(lambda: _online_is(bob, ["alice", "bob"]))
    await stranger.request("broadcast", text="theirs")
    said = await alice.request("broadcast", text="ours")  # published after theirs
    assert (await next_push(bob, MessagePush)).mid == said["mid"]  # and theirs not before
    assert sorted(await stranger.users()) == ["stranger"]
    assert sorted(await bob.users()) == ["alice", "bob"]
    for client in (stranger, alice, bob):
        await client.close()


def every(nodes: list[ServerProcess]) -> str:
    """The nodes as a client's `--host` takes them."""
    return ",".join(f"127.0.0.1:{node.port}" for node in nodes)


async def test_a_client_given_several_nodes_moves_on_when_its_node_dies(
    nodes: list[ServerProcess],
) -> None:
    a, b, c = nodes
    await (await on(c, "bob")).close()  # registered
    alice = await on(a, "alice")
    servers = ServerList(parse_servers(every([b, c]), 0))
    token: str | None = None

    async def log_in(client: ChatClient) -> LoginReply:
        nonlocal token
        reply = await (client.resume(token) if token else client.login("bob", PASSWORD))
        token = reply.resume_token or token
        return reply

    moves = sessions(servers, log_in, delays=lambda: backoff(0.05, 2, 0.2))
    bob, _ = await anext(moves)
    assert servers.current.port == b.port
    b.process.send_signal(signal.SIGKILL)
    sent = await alice.request("private", to="bob", text="while you moved")
    async for _ in bob:  # until the connection to the dead node ends
        pass
    async with asyncio.timeout(WAIT):
        bob, resumed = await anext(moves)
    assert servers.current.port == c.port
    assert resumed.offline >= 1  # resumed, and the message came from the mailbox
    assert (await next_push(bob, MessagePush, mid=sent["mid"])).text == "while you moved"
    await moves.aclose()
    await alice.close()


async def test_the_tui_given_several_nodes_carries_on_when_its_node_dies(
    nodes: list[ServerProcess],
) -> None:
    a, b, c = nodes
    await (await on(c, "alice")).close()
    app = ChatApp(every([a, b]), 0, reconnect_delays=lambda: backoff(0.05, 2, 0.2))
    async with app.run_test() as pilot:
        await log_in(pilot, "alice")
        assert app.link.servers.current.port == a.port
        status = app.screen.query_one("#status", Static)
        # Node B is paused, so the TUI stays disconnected (not reconnected already) until
        # the test has typed; it then goes on to B.
        b.process.send_signal(signal.SIGSTOP)
        try:
            a.process.send_signal(signal.SIGKILL)
            await until(pilot, lambda: "disconnected" in text_of(status), "the status to change")
            await send(pilot, "typed while moving")
            await until(pilot, lambda: "1 waiting to send" in text_of(status), "the outbox")
        finally:
            b.process.send_signal(signal.SIGCONT)
        await until(pilot, lambda: "connected as alice" in text_of(status), "reconnection")
        assert app.link.servers.current.port == b.port
        assert f"Reconnected to 127.0.0.1:{b.port}." in log_text(app)
        carol = await on(c, "carol")
        said = await carol.request("broadcast", text="hello from node C")
        await until(pilot, lambda: "carol: hello from node C" in log_text(app), "node C's news")
        history = await carol.request("history", room="lobby", limit=5)
        stored = {m["text"]: m["mid"] for m in history["messages"]}
        assert stored["hello from node C"] == said["mid"]
        assert "typed while moving" in stored  # the outbox went out on node B
        await carol.close()


async def test_a_lockout_earned_on_one_node_holds_on_the_others(
    cluster: Callable[..., Awaitable[list[ServerProcess]]],
) -> None:
    a, b, c = await cluster("--login-attempts", "2")
    await (await on(c, "victim")).close()
    guesser = await ChatClient.connect("127.0.0.1", a.port)
    for _ in range(3):  # two free failures, then one that locks the name out for 1 s
        assert await refused(guesser, "login", username="victim", password="wrong!!!") in {
            "bad_credentials",
            "too_many_attempts",
        }
    owner = await ChatClient.connect("127.0.0.1", b.port)  # another node, the right password
    error = await refusal(owner, "login", username="victim", password=PASSWORD)
    assert error.code == "too_many_attempts"
    wait = error.extra["retry_after"]
    assert 0 < wait <= 1
    await asyncio.sleep(wait)  # the lockout's own length, which the test is about
    assert (await owner.login("victim", PASSWORD)).username == "victim"
    for client in (guesser, owner):
        await client.close()


async def test_a_new_password_logs_out_the_sessions_on_every_node(
    nodes: list[ServerProcess],
) -> None:
    a, b, c = nodes
    changing, *others = [await on(node, "alice") for node in (a, a, b, c)]
    new = "a new passphrase"
    await changing.request("password_set", password=PASSWORD, new_password=new)
    for other in others:  # one on the same node, one on each of the others
        await asyncio.wait_for(other.wait_closed(), WAIT)
        assert other.closed_reason == "password_changed"
    assert await changing.request("ping") == {}
    again = await ChatClient.connect("127.0.0.1", c.port)
    assert await refused(again, "login", username="alice", password=PASSWORD) == ("bad_credentials")
    assert (await again.login("alice", new)).username == "alice"
    for client in (changing, again):
        await client.close()


async def test_joins_on_another_node_racing_a_room_ban_leave_no_member(
    nodes: list[ServerProcess], database: str
) -> None:
    """A node hears of a ban on another a moment after it is stored, and the banning
    node takes the user out of the room at once: a join checked in that moment was let
    in after the user was taken out, and stayed a member of the room they are banned
    from (6 runs of 6 with this test). Five bans, each lifted after; the pupil's
    sessions on both other nodes."""
    a, b, c = nodes
    owner = await on(a, "owner")
    await owner.request("room_create", room="class")
    pupils = [await on(node, "pupil") for node in (b, c) * 4]
    await eventually(lambda: _joined(pupils[0], "class"))

    async def keep_joining(pupil: ChatClient) -> None:
        while True:  # `joined: false` while a member, until their node hears of the ban
            try:
                await pupil.request("room_join", room="class")
            except ChatError as error:
                assert error.code == "banned", error
                return

    for _ in range(5):
        joiners = [asyncio.create_task(keep_joining(pupil)) for pupil in pupils]
        await owner.request("ban", username="pupil", room="class")
        _, still_members = await asyncio.wait(joiners, timeout=WAIT)
        for joiner in still_members:
            joiner.cancel()
        members = await postgres_rows(
            database,
            """SELECT m.username FROM members AS m JOIN conversations AS c ON c.conv = m.conv
               WHERE c.room = 'class'""",
        )
        assert members == [("owner",)]
        await owner.request("unban", username="pupil", room="class")
        for pupil in pupils[:2]:  # each node has heard of the unban
            await eventually(lambda p=pupil: _done(p, "room_join", "banned", room="class"))
    for client in (owner, *pupils):
        await client.close()


async def test_a_mute_given_on_one_node_silences_the_user_on_the_others(
    nodes: list[ServerProcess],
) -> None:
    """A room's owner on one node mutes a member whose sessions are on the two others:
    each of those nodes refuses what the member would say there, and lets it again when
    the mute is lifted."""
    a, b, c = nodes
    owner = await on(a, "owner")
    await owner.request("room_create", room="class")
    pupils = [await on(node, "pupil") for node in (b, c)]
    for pupil in pupils:
        await eventually(lambda p=pupil: _joined(p, "class"))
    await owner.request("mute", username="pupil", room="class", seconds=600)
    for pupil in pupils:
        await eventually(
            lambda p=pupil: _refused_as(p, "muted", "broadcast", room="class", text="hey")
        )
        assert await refused(pupil, "room_invite", room="class", username="owner") == "muted"
    assert await pupils[0].broadcast("in the lobby still")  # muted in the room only
    await owner.request("unmute", username="pupil", room="class")
    for pupil in pupils:
        await eventually(lambda p=pupil: _done(p, "broadcast", "muted", room="class", text="hi"))
    for client in (owner, *pupils):
        await client.close()


async def _refused_as(client: ChatClient, code: str, kind: str, **data: Any) -> bool:
    """Whether the request was refused with `code`; False if it was done (try again), and
    any other error raised, as `_done` does."""
    try:
        await client.request(kind, **data)
    except ChatError as error:
        if error.code != code:
            raise
        return True
    return False


async def test_registrations_from_one_address_are_counted_on_every_node(
    cluster: Callable[..., Awaitable[list[ServerProcess]]],
) -> None:
    nodes = await cluster("--register-rate", "0.001", "--register-burst", "2")
    for n, node in enumerate(nodes):
        client = await ChatClient.connect("127.0.0.1", node.port)
        if n < 2:
            await client.register(f"user{n}", PASSWORD)
        else:  # the third, on a third node, is one too many for the address
            assert await refused(client, "register", username="user2", password=PASSWORD) == (
                "rate_limited"
            )
        await client.close()


async def test_connections_from_one_address_are_counted_on_every_node(
    cluster: Callable[..., Awaitable[list[ServerProcess]]],
) -> None:
    a, b, c = await cluster("--max-connections-per-ip", "3")
    held = [await RawConnection.open(node.port) for node in (a, a, b)]
    for connection in held:  # each answered: counted before the next one comes
        assert (await connection.request({"type": "ping", "id": 1}))["type"] in {"ok", "error"}
    refused_on_c = await RawConnection.open(c.port)
    assert (await refused_on_c.receive())["data"]["code"] == "too_many_connections"
    held[2].close()  # a client that vanishes gives its place back

    async def accepted_on_c() -> bool:
        connection = await RawConnection.open(c.port)
        reply = await connection.request({"type": "ping", "id": 1})
        if reply["type"] == "error" and reply["data"]["code"] == "too_many_connections":
            return False
        held.append(connection)
        return True

    assert await eventually(accepted_on_c)
    a.process.send_signal(signal.SIGKILL)  # a dead node's connections are forgotten too

    async def two_more_on_c() -> bool:
        return await accepted_on_c() and await accepted_on_c()

    assert await eventually(two_more_on_c, within=NODE_GONE)
    for connection in held:
        connection.close()


async def test_a_burst_of_connections_is_counted_whole_in_redis(redis_server: Redis) -> None:
    """Every connection is counted in Redis as it opens and ends: five hundred at once
    share the node's few Redis connections (redis-py's own pool refuses past 100), and
    every one is counted, then every one taken off."""
    client = connect_redis(redis_server.url)
    limits = Limits(max_connections_per_ip=1000)
    shared = RedisLimits(client, "chatroom:burst:", "node1", list, limits, LoginThrottle(5, 300))
    opened = await asyncio.gather(*(shared.connection_opened("10.0.0.1") for _ in range(500)))
    assert all(opened)
    (key,) = shared.node_keys("node1")
    assert int(await client.hget(key, "10.0.0.1")) == 500
    for _ in range(500):
        shared.connection_closed("10.0.0.1")

    async def all_taken_off() -> bool:
        return not await client.exists(key)

    assert await eventually(all_taken_off)
    await client.aclose()


async def _online_is(client: ChatClient, users: list[str]) -> bool:
    return sorted(await client.users()) == sorted(users)


async def _statuses_are(client: ChatClient, statuses: dict[str, dict[str, str]]) -> bool:
    return bool((await client.request("users"))["statuses"] == statuses)


async def _done(client: ChatClient, kind: str, not_yet: str, **data: Any) -> bool:
    """Whether the request succeeded; False if it failed with `not_yet` (try again)."""
    try:
        await client.request(kind, **data)
    except ChatError as error:
        if error.code == not_yet:
            return False
        raise
    return True


async def _created(client: ChatClient, room: str) -> bool:
    """Whether `client` made `room` (false while the database cannot be reached)."""
    return await _done(client, "room_create", "server_error", room=room)


async def _joined(client: ChatClient, room: str) -> bool:
    """Whether `client` joined `room` (false while its node has not heard of it)."""
    return await _done(client, "room_join", "no_such_room", room=room)


async def test_status_changes_on_two_nodes_at_once_end_the_same_everywhere(
    nodes: list[ServerProcess], database: str
) -> None:
    """Alice changes her status from sessions on two nodes at once, while more sessions of
    hers log in on the third. However the changes are stored and relayed, each node ends
    showing what the store holds."""
    watchers = [await on(node, f"watcher{n}") for n, node in enumerate(nodes)]
    alices = [await on(node, "alice") for node in nodes[:2]]
    statuses = ["away", "busy", "online"]
    for round in range(6):
        await asyncio.gather(
            *(
                alice.request("status_set", status=statuses[(round + k) % 3], status_text=f"{n}")
                for k in range(4)
                for n, alice in enumerate(alices)
            ),
            *(on(nodes[2], "alice") for _ in range(3)),
        )
        [(status, text)] = await postgres_rows(
            database, "SELECT status, status_text FROM users WHERE username = ?", "alice"
        )
        plain = (status, text) == ("online", "")
        told = {} if plain else {"alice": {"status": status, "status_text": text}}
        for watcher in watchers:
            await eventually(lambda watcher=watcher, told=told: _statuses_are(watcher, told))


async def test_senders_on_every_node_at_once_number_a_room_without_gap(
    nodes: list[ServerProcess], database: str
) -> None:
    owner = await on(nodes[0], "owner")
    await owner.request("room_create", room="rush")
    senders = [await on(nodes[n % 3], f"sender{n}") for n in range(9)]
    for sender in senders:
        await eventually(lambda sender=sender: _joined(sender, "rush"))
    sends = [s.submit("broadcast", room="rush", text=f"{n}") for s in senders for n in range(30)]
    sends += [s.submit("broadcast", text="lobby too") for s in senders]  # another conversation
    replies = await asyncio.gather(*sends)
    assert len({reply["mid"] for reply in replies}) == len(replies)
    numbered = await postgres_rows(
        database,
        """SELECT m.seq FROM messages AS m JOIN conversations AS c ON c.conv = m.conv
           WHERE c.room = 'rush' ORDER BY m.mid""",
    )
    assert [seq for (seq,) in numbered] == list(range(1, 9 * 30 + 1))  # in mid order, no gap
    rooms = {r["room"]: r for r in (await owner.request("rooms"))["rooms"]}
    assert rooms["rush"]["unread"] == 9 * 30
    for client in (owner, *senders):
        await client.close()


async def test_a_private_resent_on_another_node_after_its_node_died_is_stored_once(
    nodes: list[ServerProcess], database: str
) -> None:
    a, b, c = nodes
    bob = await on(a, "bob")
    alice = await on(b, "alice")
    alice.submit("private", to="bob", text="only once", cid="k-1")  # the ok is never read
    b.process.send_signal(signal.SIGKILL)
    await alice.close()
    alice = await on(c, "alice")
    reply = await alice.request("private", to="bob", text="only once", cid="k-1")
    stored = await postgres_rows(database, "SELECT mid FROM messages WHERE text = 'only once'")
    assert stored == [(reply["mid"],)]
    talk = await bob.request("history", limit=10, **{"with": "alice"})
    assert [m["text"] for m in talk["messages"]] == ["only once"]
    await alice.close()
    await bob.close()


async def test_postgresql_stopped_under_a_stream_of_batches_loses_no_acknowledged_message(
    node: Callable[..., Awaitable[ServerProcess]],
    stoppable_postgres: Postgres,
) -> None:
    """A node alone begins each batch's transaction before answering the last one: when
    PostgreSQL stops mid-stream, requests fail clearly, and once it is back every message
    acknowledged, before or after, is stored once."""
    database = await new_schema(stoppable_postgres)
    first = await node("--store", database, *FAST)
    alice = await on(first, "alice")
    acked: list[int] = []
    failures: list[str] = []

    async def stream() -> None:
        for round_ in range(400):
            waves = [alice.submit("broadcast", text=f"{round_}.{n}") for n in range(50)]
            for reply in await asyncio.gather(*waves, return_exceptions=True):
                if isinstance(reply, ChatError):
                    failures.append(reply.code)
                else:
                    acked.append(reply["mid"])

    streaming = asyncio.create_task(stream())
    await eventually(lambda: _at_least(acked, 500))
    await asyncio.to_thread(stoppable_postgres.stop)
    await eventually(lambda: _at_least(failures, 1))
    await asyncio.to_thread(stoppable_postgres.start)
    before_restart = len(acked)
    await eventually(lambda: _at_least(acked, before_restart + 500))
    streaming.cancel()
    assert set(failures) == {"server_error"}
    stored = await postgres_rows(database, "SELECT mid FROM messages WHERE sender = ?", "alice")
    mids = [mid for (mid,) in stored]
    assert len(mids) == len(set(mids))
    assert set(acked) <= set(mids)
    assert first.process.returncode is None
    await alice.close()


async def test_a_write_connection_killed_while_it_waits_for_the_lock_loses_nothing(
    node: Callable[..., Awaitable[ServerProcess]], database: str
) -> None:
    """A node alone begins its next transaction before it answers the batch just
    committed. If that begin fails (here: its connection ends while it waits for the
    write lock, which the test holds), the committed batch is still acknowledged, the
    next batch connects again, and a message is stored exactly when it was
    acknowledged. Which begin the lock catches is up to timing: the test tries until
    it has caught the early one (no writes in it), and checks every try."""
    first = await node("--store", database, *FAST)
    senders = [await on(first, f"sender{n}") for n in range(10)]
    acked: list[int] = []
    failures: list[str] = []
    enough = asyncio.Event()

    async def send(client: ChatClient) -> None:
        """One after another: ten such, out of step, keep more queued at each commit."""
        while not enough.is_set():
            try:
                acked.append((await client.request("broadcast", text="."))["mid"])
            except ChatError as error:
                failures.append(error.code)

    streaming = asyncio.gather(*(send(client) for client in senders))
    holder = await asyncpg.connect(database)
    caught: list[int] = []  # the writes of each transaction the test made fail
    try:
        while 0 not in caught and len(caught) < 10:
            await eventually(lambda: _at_least(acked, 100 * (len(caught) + 1)))
            await holder.execute("SELECT pg_advisory_lock($1)", WRITE_LOCK)  # after a commit
            waiting = await eventually(lambda: _waiting_for_the_lock(holder))
            await holder.execute("SELECT pg_terminate_backend($1)", waiting)
            failed = await first.wait_for_log(r"a transaction of (\d+) writes failed")
            caught.append(int(failed.group(1)))
            await first.wait_for_log("connected to PostgreSQL again")
            await holder.execute("SELECT pg_advisory_unlock($1)", WRITE_LOCK)
    finally:
        await holder.close()
        enough.set()
        async with asyncio.timeout(WAIT):
            await streaming
    assert 0 in caught  # the begin made early, with nothing written yet, was caught
    assert len(failures) == sum(caught) and set(failures) <= {"server_error"}
    stored = await postgres_rows(database, "SELECT mid FROM messages WHERE sender <> ''")
    assert sorted(mid for (mid,) in stored) == sorted(acked)
    assert (await senders[0].request("broadcast", text="still here"))["mid"] > max(acked)
    for client in senders:
        await client.close()


async def _waiting_for_the_lock(db: "asyncpg.Connection") -> int | None:
    """The server process of a connection waiting for an advisory lock (a node's write
    connection, blocked in its BEGIN by the lock the test holds), if one is."""
    pid = await db.fetchval(
        """SELECT pid FROM pg_stat_activity
           WHERE wait_event_type = 'Lock' AND wait_event = 'advisory' AND pid <> pg_backend_pid()"""
    )
    return int(pid) if pid is not None else None


async def _at_least(items: list[Any], count: int) -> bool:
    return len(items) >= count


async def test_while_postgresql_restarts_requests_fail_clearly_and_the_node_recovers(
    node: Callable[..., Awaitable[ServerProcess]],
    stoppable_postgres: Postgres,
) -> None:
    database = await new_schema(stoppable_postgres)
    first = await node("--store", database)
    other = await node("--store", database)  # shares the database
    alice = await on(first, "alice")
    bob = await on(other, "bob")
    before = await alice.request("broadcast", text="before")
    await asyncio.to_thread(stoppable_postgres.stop)
    assert await refused(alice, "broadcast", text="while down") == "server_error"
    await first.wait_for_log("reading the audit log failed")  # it reads it each second
    await asyncio.sleep(2.5)  # the outage goes on: two reads more fail, unlogged
    await asyncio.to_thread(stoppable_postgres.start)
    await first.wait_for_log("reading the audit log again")
    failed = [line for line in first.log if "reading the audit log failed" in line]
    assert len(failed) == 1, failed  # once an outage, not a traceback a second
    after = await alice.request("broadcast", text="after")
    history = await alice.request("history", room="lobby", limit=10)
    assert [m["text"] for m in history["messages"]] == ["before", "after"]
    assert before["mid"] < after["mid"]
    assert first.process.returncode is None
    # The node hears the other's changes again (its listening connection was lost).
    await eventually(lambda: _created(bob, "later"))
    assert await eventually(lambda: _joined(alice, "later"))
    for client in (alice, bob):
        await client.close()
    for server in (first, other):
        assert await server.stop(signal.SIGTERM) == 0
