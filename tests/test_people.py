"""People end to end: profiles, statuses (invisible among them) and the directory of
everyone registered, against a real server over real sockets."""

import asyncio
import contextlib
from typing import Any

from chatroom.client import ChatClient
from chatroom.common.errors import ChatError
from chatroom.common.limits import BIO_MAX, DISPLAY_NAME_MAX, STATUS_TEXT_MAX
from chatroom.common.messages import MessagePush, PresenceBatchPush, PresencePush
from tests.conftest import PASSWORD, RunningServer, next_presence, next_push, presence_news, refused

FAST = {"message_rate": 1e6, "message_burst": 10**6}


async def next_status(client: ChatClient, username: str) -> tuple[bool, str, str]:
    """Online, status, status text: the next presence news of `username`, from either
    push (a change made while others are announced comes in their batch)."""
    async with asyncio.timeout(5):
        while True:
            push = await client.next_push()
            if isinstance(push, PresencePush) and push.username == username:
                return push.online, push.status, push.status_text
            if isinstance(push, PresenceBatchPush) and username in push.offline:
                return False, "offline", ""
            if isinstance(push, PresenceBatchPush) and username in push.online:
                shown = push.statuses.get(username, {})
                return True, shown.get("status", "online"), shown.get("status_text", "")


async def test_a_profile_is_set_shown_to_others_and_kept_across_a_restart(
    server: RunningServer,
) -> None:
    alice = await server.login("alice")
    bob = await server.login("bob")
    mine = await alice.request("profile_set", display_name="Alice Liddell", bio="Down\nthe hole")
    assert mine["display_name"] == "Alice Liddell" and mine["bio"] == "Down\nthe hole"
    assert mine["role"] == "user" and mine["status"] == "online"
    await alice.request("profile_set", bio="only the bio")  # the name stays
    seen = await bob.request("profile_get", username="ALICE")  # any case finds her
    assert seen == {
        "username": "alice",
        "display_name": "Alice Liddell",
        "bio": "only the bio",
        "role": "user",
        "status": "online",
        "status_text": "",
        "online": True,
    }
    await server.restart()
    carol = await server.login("carol")
    after = await carol.request("profile_get", username="alice")
    assert (after["display_name"], after["online"], after["status"]) == (
        "Alice Liddell",
        False,
        "offline",
    )


async def test_profile_and_status_requests_refuse_what_is_wrong(server: RunningServer) -> None:
    alice = await server.login("alice")
    assert await refused(alice, "profile_set") == "bad_request"  # nothing to set
    assert await refused(alice, "profile_set", display_name=7) == "bad_request"
    assert await refused(alice, "profile_set", display_name="two\nlines") == "bad_request"
    long_name = "x" * (DISPLAY_NAME_MAX + 1)
    assert await refused(alice, "profile_set", display_name=long_name) == "text_too_long"
    assert await refused(alice, "profile_set", bio="b" * (BIO_MAX + 1)) == "text_too_long"
    assert await refused(alice, "profile_get", username="nobody") == "no_such_user"
    assert await refused(alice, "profile_get", username="a b") == "invalid_username"
    assert await refused(alice, "profile_get") == "bad_request"
    assert await refused(alice, "status_set", status="sleeping") == "bad_request"
    assert await refused(alice, "status_set", status="offline") == "bad_request"
    assert await refused(alice, "status_set") == "bad_request"
    long_text = "t" * (STATUS_TEXT_MAX + 1)
    assert await refused(alice, "status_set", status="away", status_text=long_text) == (
        "text_too_long"
    )
    assert await refused(alice, "users", limit=0) == "bad_request"
    assert await refused(alice, "users", limit=10_000) == "bad_request"
    assert await refused(alice, "users", query=["x"]) == "bad_request"
    anonymous = await server.connect()
    assert await refused(anonymous, "profile_get", username="alice") == "not_logged_in"
    # Nothing refused changed anything.
    profile = await alice.request("profile_get", username="alice")
    assert (profile["display_name"], profile["bio"], profile["status"]) == ("", "", "online")


async def test_a_status_change_is_pushed_and_comes_back_with_the_next_login(
    server: RunningServer,
) -> None:
    alice = await server.login("alice")
    bob = await server.login("bob")
    set_to = await alice.request("status_set", status="away", status_text="lunch")
    assert set_to == {"status": "away", "status_text": "lunch"}
    assert await next_status(bob, "alice") == (True, "away", "lunch")
    listed = await bob.request("users", query="ali")
    assert listed["users"] == [
        {
            "username": "alice",
            "display_name": "",
            "status": "away",
            "status_text": "lunch",
            "online": True,
        }
    ]
    await alice.close()
    assert await next_presence(bob, "alice") is False
    again = await (await server.connect()).login("alice", PASSWORD)
    assert (again.status, again.status_text) == ("away", "lunch")
    assert await next_status(bob, "alice") == (True, "away", "lunch")


async def test_a_login_and_users_tell_the_status_of_those_online(server: RunningServer) -> None:
    """A status chosen before someone logs in: their login reply and `users` say it, not
    only the pushes sent while they were on."""
    chosen = {"alice": ("away", "lunch"), "carol": ("busy", ""), "dave": ("online", "at a desk")}
    for name, (status, text) in chosen.items():
        user = await server.login(name)
        await user.request("status_set", status=status, status_text=text)
    hidden = await server.login("erin")
    await hidden.request("status_set", status="invisible")
    await server.login("frank")  # plain online
    told = {name: {"status": s, "status_text": t} for name, (s, t) in chosen.items()}
    await server.register("bob")
    bob = await (await server.connect()).login("bob", PASSWORD)
    assert bob.online == ["alice", "bob", "carol", "dave", "frank"]
    assert bob.statuses == told
    watcher = await server.login("watcher")
    assert (await watcher.request("users"))["statuses"] == told
    alice = await server.login("alice")  # a second session of hers
    await alice.request("status_set", status="online")  # plain again
    del told["alice"]
    assert (await watcher.request("users"))["statuses"] == told


async def test_an_invisible_user_is_offline_to_others_but_gets_everything(
    server: RunningServer,
) -> None:
    bob = await server.login("bob")
    alice = await server.login("alice")
    assert await next_presence(bob, "alice") is True
    await alice.request("status_set", status="invisible")
    assert await next_presence(bob, "alice") is False
    assert "alice" not in (await bob.request("users"))["online"]
    seen = await bob.request("profile_get", username="alice")
    assert (seen["online"], seen["status"]) == (False, "offline")
    sent = await bob.request("private", to="alice", text="are you there?")
    assert sent["delivered"] is False  # as for anyone offline: nothing gives her away
    got = await next_push(alice, MessagePush, mid=sent["mid"])
    assert got.text == "are you there?"
    await bob.request("broadcast", text="to everyone")
    assert (await next_push(alice, MessagePush, text="to everyone")).sender == "bob"
    # She sees herself as she chose; a second session of hers announces nothing.
    assert (await alice.request("profile_get", username="alice"))["status"] == "invisible"
    second = await server.connect()
    reply = await second.login("alice", PASSWORD)
    assert reply.status == "invisible" and "alice" not in reply.online
    await second.close()
    await alice.request("status_set", status="busy", status_text="exams")
    assert await next_status(bob, "alice") == (True, "busy", "exams")


async def test_the_directory_pages_through_everyone_registered(server: RunningServer) -> None:
    for n in range(7):
        await server.register(f"user{n}")
    alice = await server.login("alice")
    await server.login("user3")
    await alice.request("profile_set", display_name="Queen of Hearts")
    first = await alice.request("users", limit=3)
    assert [u["username"] for u in first["users"]] == ["alice", "user0", "user1"]
    assert first["next"] == "user1"
    assert sorted(first["online"]) == ["alice", "user3"]
    rest: list[dict[str, Any]] = []
    after = first["next"]
    while after is not None:
        page = await alice.request("users", limit=3, after=after)
        rest += page["users"]
        after = page["next"]
    assert [u["username"] for u in rest] == [f"user{n}" for n in range(2, 7)]
    assert [u["online"] for u in rest] == [False, True, False, False, False]
    assert [u["status"] for u in rest][:2] == ["offline", "online"]
    by_name = await alice.request("users", query="HEARTS")  # the display name, any case
    assert [u["username"] for u in by_name["users"]] == ["alice"]
    assert (await alice.request("users", query="zzz"))["users"] == []


async def test_many_status_changes_at_once_end_on_the_last_one(
    make_server: Any,
) -> None:
    server = await make_server(**FAST)
    watcher = await server.login("watcher")
    names = [f"user{n}" for n in range(15)]  # under the 20 registrations at once
    people = [await server.login(name) for name in names]
    seen: dict[str, bool] = {}
    while not set(names) <= set(seen):  # their arrival, in one batch or several
        seen |= presence_news(await asyncio.wait_for(watcher.next_push(), 5))
    statuses = ["away", "busy", "online", "invisible"]
    await asyncio.gather(
        *(
            user.request("status_set", status=statuses[(n + k) % 4], status_text=f"{k}")
            for n, user in enumerate(people)
            for k in range(4)
        )
    )
    # Requests of one connection are answered in order, so k = 3 is each one's last.
    final = {name: statuses[(n + 3) % 4] for n, name in enumerate(names)}
    listed = await watcher.request("users", limit=50)
    shown = {u["username"]: u["status"] for u in listed["users"] if u["username"] != "watcher"}
    assert shown == {name: "offline" if s == "invisible" else s for name, s in final.items()}
    online = {name for name, s in final.items() if s != "invisible"}
    assert set(listed["online"]) - {"watcher"} == online
    told = {name: {"status": final[name], "status_text": "3"} for name in online}
    assert listed["statuses"] == told  # each has a text: none is plain `online`
    assert (await (await server.connect()).login("watcher", PASSWORD)).statuses == told
    # And the pushes the watcher is sent add up to the same.
    while {name for name, on in seen.items() if on} - {"watcher"} != online:
        seen |= presence_news(await asyncio.wait_for(watcher.next_push(), 5))


async def test_logins_racing_status_changes_show_what_is_stored(make_server: Any) -> None:
    """New sessions of alice's log in while her first one changes her status, and another
    changes it and vanishes before the answer. A login reads the status it shows before it
    joins: a change stored meanwhile must not be undone by it. On PostgreSQL two changes
    can also be answered in another order than they were stored. Either way, others must
    be shown what the store keeps, and so must she."""
    server = await make_server(**FAST, login_attempts=10**6)
    watcher = await server.login("watcher")
    alice = await server.login("alice")
    statuses = ["away", "busy", "online", "invisible"]

    async def log_in() -> None:
        await (await server.connect()).login("alice", PASSWORD)

    async def change_and_vanish(k: int) -> None:
        client = await server.login("alice")
        reply = client.submit("status_set", status=statuses[k % 4], status_text=f"gone {k}")
        await client.drain()
        client.abandon("gone")  # before the answer
        with contextlib.suppress(ConnectionError, ChatError):
            await reply

    async def change(k: int) -> None:
        await alice.request("status_set", status=statuses[k % 4], status_text=f"{k}")

    for round in range(30):
        await asyncio.gather(
            *(log_in() for _ in range(6)),
            change(round),
            change_and_vanish(round + 1),
        )
        assert server.server is not None
        async with asyncio.timeout(5):  # the vanished sessions' requests answered
            while len(server.server._sessions) > 2 + 6 * (round + 1):
                await asyncio.sleep(0.01)
        [(status, text)] = await server.rows(
            "SELECT status, status_text FROM users WHERE username = ?", "alice"
        )
        listed = await watcher.request("users", query="alice")
        [shown] = [user["status"] for user in listed["users"] if user["username"] == "alice"]
        assert shown == ("offline" if status == "invisible" else status)
        told = listed["statuses"].get("alice", {"status": "online", "status_text": ""})
        if status != "invisible":
            assert told == {"status": status, "status_text": text}
        mine = await alice.request("profile_get", username="alice")
        assert (mine["status"], mine["status_text"]) == (status, text)
    assert not server.server.services.statuses._turns  # nothing kept for after
