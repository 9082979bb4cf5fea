"""`chatroom history` and `chatroom search`: a conversation as lines of plain text."""

import asyncio
import time
from pathlib import Path

from tests.conftest import RunningServer
from tests.test_client_cli import chatroom
from tests.test_rooms import FAST


def when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


async def test_history_prints_one_message_a_line_oldest_first(
    server: RunningServer, tmp_path: Path
) -> None:
    alice = await server.login("alice")
    bob = await server.login("bob")
    await alice.room_create("team")
    await bob.room_join("team")
    said = [
        (await alice.broadcast("good morning", room="team"), "alice", "good morning"),
        (await bob.broadcast("two\nlines", room="team"), "bob", "two\\x0alines"),
        (await alice.broadcast("\x1b[2Jgone?", room="team"), "alice", "\\x1b[2Jgone?"),
    ]
    expected = [f"{when(sent.ts)} #team {who}: {text}" for sent, who, text in said]
    action = await bob.broadcast("/me nods\x1b[2J", room="team")  # an action (protocol.md)
    oops = await alice.broadcast("wrong room", room="team")
    await alice.request("delete", mid=oops.mid)
    expected += [
        f"{when(action.ts)} #team * bob nods\\x1b[2J",
        f"{when(oops.ts)} #team alice: (deleted)",
    ]
    port = str(server.port)

    code, out, err = await chatroom("--port", port, "history", "--user", "bob", "--room", "team")
    assert (code, err) == (0, "")
    assert out.splitlines() == expected
    code, out, _ = await chatroom(
        "--port", port, "history", "--user", "bob", "--room", "team", "--limit", "2"
    )
    assert out.splitlines() == expected[-2:]

    private = await bob.private("alice", "just between us")
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"x" * 1300)
    shared = await alice.send_file(notes)
    code, out, _ = await chatroom("--port", port, "history", "--user", "alice", "--with", "bob")
    assert out.splitlines() == [f"{when(private.ts)} @alice bob: just between us"]
    code, out, _ = await chatroom("--port", port, "history", "--user", "alice", "--limit", "1")
    assert out.splitlines()[0].endswith(
        f" #lobby alice: [file {shared.fid}] notes.txt (1300 bytes)"
    )


async def test_history_all_walks_every_page(make_server) -> None:
    server = await make_server(**FAST)
    alice = await server.login("alice")
    await alice.room_create("busy")
    sent = await asyncio.gather(*(alice.broadcast(f"m{n}", room="busy") for n in range(450)))
    order = sorted(range(450), key=lambda n: sent[n].mid)
    port = str(server.port)
    code, out, err = await chatroom(
        "--port", port, "history", "--user", "alice", "--room", "busy", "--all"
    )
    assert code == 0, err
    assert [line.rsplit(": ", 1)[1] for line in out.splitlines()] == [f"m{n}" for n in order]
    code, out, _ = await chatroom("--port", port, "history", "--user", "alice", "--room", "busy")
    assert len(out.splitlines()) == 50  # the default


async def test_search_prints_matches_newest_first_with_the_words_marked(
    server: RunningServer,
) -> None:
    alice = await server.login("alice")
    await server.register("bob")
    older = await alice.broadcast("who wants pineapple pizza")
    newer = await alice.private("bob", "pineapple is a secret")
    await alice.broadcast("nothing to see")
    port = str(server.port)
    code, out, err = await chatroom("--port", port, "search", "--user", "bob", "pineapple")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"{when(newer.ts)} @bob alice: «pineapple» is a secret",
        f"{when(older.ts)} #lobby alice: who wants «pineapple» pizza",
    ]
    code, out, _ = await chatroom(
        "--port", port, "search", "--user", "bob", "--room", "lobby", "who", "pizza"
    )
    assert out.splitlines() == [f"{when(older.ts)} #lobby alice: «who» wants pineapple «pizza»"]
    code, out, err = await chatroom("--port", port, "search", "--user", "bob", "mango")
    assert (code, out, err) == (0, "", "")


async def test_reading_commands_fail_in_one_line(server: RunningServer) -> None:
    alice = await server.login("alice")
    await alice.room_create("closed", public=False)
    await server.register("bob")
    port = str(server.port)
    cases = [
        (("history", "--user", "bob", "--room", "closed"), 1, "chatroom: forbidden: "),
        (("history", "--user", "bob", "--room", "nowhere"), 1, "chatroom: no_such_room: "),
        (("history", "--user", "bob", "--with", "nobody"), 1, "chatroom: no_such_user: "),
        (("history", "--room", "a", "--with", "b"), 2, "not allowed with argument"),
        (("history", "--limit", "0"), 2, "must be a whole number from 1 to"),
        (("search", "--user", "bob", "--limit", "500", "x"), 1, "chatroom: bad_request: "),
    ]
    for args, status, expected in cases:
        code, out, err = await chatroom("--port", port, *args)
        assert (code, out) == (status, ""), err
        assert len(err.splitlines()) == 1 and expected in err, err
    code, _, err = await chatroom("--port", "1", "search", "--user", "bob", "x")
    assert (code, err.strip()) == (1, "chatroom: 127.0.0.1:1: connection refused")
