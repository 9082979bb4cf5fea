"""A database made by the server before conversations (schema 5, tests/data/v5, made by
tests/data/make_v5_fixture.py from commit 523a4a0 with real traffic) opens in today's
server with every message, mailbox position and file where it was."""

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from chatroom.client import ChatClient
from chatroom.common.messages import FilePush, MessagePush
from tests.conftest import RunningServer
from tests.test_integrity import rows
from tests.test_rooms import ALL, refused

# Databases made by earlier chatrooms are SQLite files.
pytestmark = pytest.mark.sqlite_only

FIXTURE = Path(__file__).parent / "data" / "v5"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text())


async def upgraded(make_server, tmp_path: Path) -> RunningServer:
    shutil.copytree(FIXTURE, tmp_path / "data0", ignore=shutil.ignore_patterns("*.json"))
    return await make_server()


async def log_in(server: RunningServer, name: str, features: list[str] | None = None) -> ChatClient:
    return await server.login(name, EXPECTED["passwords"][name], features=features)


async def replay(client: ChatClient, count: int) -> list[int]:
    """The mids of the `count` messages replayed at login."""
    mids = []
    while len(mids) < count:
        push = await client.next_push()
        if isinstance(push, MessagePush | FilePush):
            assert push.offline
            mids.append(push.mid)
    return mids


def mailbox(user: dict[str, Any]) -> list[int]:
    """What the first version promised `user`: every message after their ack, to them or
    to the group by someone else."""
    name = user["username"]
    return [
        m["mid"]
        for m in EXPECTED["messages"]
        if m["mid"] > user["acked_upto"]
        and (m["recipient"] == name or (m["recipient"] is None and m["sender"] != name))
    ]


async def test_every_message_stays_with_its_text_and_in_its_conversation(
    make_server, tmp_path: Path
) -> None:
    server = await upgraded(make_server, tmp_path)
    stored = rows(
        server.data_dir,
        """SELECT m.mid, m.sender, m.recipient, m.text, m.fid, c.room, c.user_a, c.user_b
           FROM messages AS m JOIN conversations AS c ON c.conv = m.conv ORDER BY m.mid""",
    )
    assert len(stored) == len(EXPECTED["messages"]) == 23
    for (mid, sender, recipient, text, fid, room, a, b), m in zip(
        stored, EXPECTED["messages"], strict=True
    ):
        assert (mid, sender, recipient, text, fid) == (
            m["mid"], m["sender"], m["recipient"], m["text"], m["fid"]
        )  # fmt: skip
        if recipient is None:
            assert room == "lobby"
        else:
            assert (room, a, b) == (None, *sorted((sender, recipient)))
    alice = await log_in(server, "alice", ALL)
    lobby = [m["mid"] for m in (await alice.request("history", room="lobby"))["messages"]]
    assert lobby == [m["mid"] for m in EXPECTED["messages"] if m["recipient"] is None]
    with_bob = await alice.request("history", **{"with": "bob"})
    assert [m["mid"] for m in with_bob["messages"]] == [
        m["mid"] for m in EXPECTED["messages"] if {m["sender"], m["recipient"]} == {"alice", "bob"}
    ]
    found = await alice.request("search", query="café")  # the text index was built
    assert [m["text"] for m in found["messages"]] == [
        m["text"] for m in EXPECTED["messages"] if "café" in m["text"]
    ]


async def test_every_mailbox_replays_from_where_its_owner_acked(
    make_server, tmp_path: Path
) -> None:
    server = await upgraded(make_server, tmp_path)
    for user in EXPECTED["users"]:
        expected = mailbox(user)
        client = await log_in(server, user["username"])  # a first-version client
        assert await replay(client, len(expected)) == expected
        # and each conversation's read marker starts where the ack was
        login = await server.connect()
        reply = await login.request(
            "login", username=user["username"], password=EXPECTED["passwords"][user["username"]]
        )
        for state in reply["conversations"]:
            assert state["read_upto"] == user["acked_upto"]
            other = state.get("with")
            in_it = [
                m
                for m in EXPECTED["messages"]
                if (m["recipient"] is None and other is None)
                or (
                    other is not None and {m["sender"], m["recipient"]} == {user["username"], other}
                )
            ]
            assert state["unread"] == sum(1 for m in in_it if m["mid"] > user["acked_upto"])
            assert state["last_mid"] == max(m["mid"] for m in in_it)


async def test_every_file_is_whole_and_readable_by_the_same_people(
    make_server, tmp_path: Path
) -> None:
    server = await upgraded(make_server, tmp_path)
    clients = {u["username"]: await log_in(server, u["username"]) for u in EXPECTED["users"]}
    for f in EXPECTED["files"]:
        readers = [f["sender"], f["recipient"]] if f["recipient"] else list(clients)
        for name, client in clients.items():
            if name not in readers:
                code = await refused(client, "file_get", fid=f["fid"], offset=0, length=65536)
                assert code == "forbidden"
                continue
            got = await client.request("file_get", fid=f["fid"], offset=0, length=65536)
            assert hashlib.sha256(got["data"]).hexdigest() == f["sha256"]
            info = await client.request("file_info", fid=f["fid"])
            assert (info["name"], info["mid"], info["room"]) == (
                f["name"], f["mid"], None if f["recipient"] else "lobby"
            )  # fmt: skip
    listed = await clients["carol"].request("files", room="lobby")
    assert [f["fid"] for f in listed["files"]] == [1]
