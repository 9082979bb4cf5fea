"""Moderation end to end: roles and what they allow, kick, mute (with an injected clock),
ban, delete, announce and the audit log, against a real server over real sockets."""

import asyncio
import contextlib
import dataclasses
from typing import Any

from chatroom.common.errors import ChatError
from chatroom.common.messages import (
    ByePush,
    DeletedPush,
    LeftPush,
    MessagePush,
    ModeratedPush,
)
from tests.conftest import PASSWORD, WAIT, RunningServer, next_push, refusal, refused
from tests.racing import sessions_racing

FAST = {"message_rate": 1e6, "message_burst": 10**6}
ROOMS = ["rooms", "read", "carbons"]
"""The features that bring a room's news (joins, leaves, its messages)."""


class Clock:
    """Unix time that a test moves forward instead of waiting."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def use_clock(server: RunningServer, clock: Clock) -> None:
    """Connections made from now on see `clock` as the server's unix time."""
    assert server.server is not None
    chat = server.server
    chat.services = dataclasses.replace(chat.services, wall_clock=clock)


async def give_role(server: RunningServer, username: str, role: str) -> None:
    assert server.server is not None
    await server.server.services.store.set_role(username, role, by="test")


async def test_a_student_may_moderate_no_one(server: RunningServer) -> None:
    student = await server.login("student")
    other = await server.login("other")
    sent = await other.broadcast("hello")
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("kick", {"username": "other"}),
        ("mute", {"username": "other", "seconds": 60}),
        ("ban", {"username": "other"}),
        ("unban", {"username": "other"}),
        ("delete", {"mid": sent.mid}),
        ("announce", {"text": "hear me"}),
        ("audit", {}),
    ]
    for kind, data in attempts:
        assert (await refusal(student, kind, **data)).code == "forbidden", kind
    assert await other.request("ping") == {}  # still connected, still unmuted
    assert (await student.request("users"))["online"] == ["other", "student"]


async def test_a_muted_user_is_refused_until_the_time_passes(
    make_server: Any,
) -> None:
    server: RunningServer = await make_server(**FAST)
    clock = Clock(1_900_000_000.0)
    use_clock(server, clock)
    teacher = await server.login("teacher")
    await give_role(server, "teacher", "moderator")
    pupil = await server.login("pupil")
    await pupil.request("room_create", room="den")  # their own room
    muted = await teacher.request("mute", username="pupil", seconds=300, reason="shouting")
    assert muted == {"username": "pupil", "room": None, "until": clock.now + 300}
    told = await next_push(pupil, ModeratedPush)
    assert told == ModeratedPush("mute", "teacher", None, clock.now + 300, "shouting")
    error = await refusal(pupil, "broadcast", text="LOUD")
    assert error.code == "muted" and error.extra["until"] == clock.now + 300
    assert (await refusal(pupil, "private", to="teacher", text="sorry")).code == "muted"
    # A topic is said to the room's members too (it was the way round a mute).
    assert (await refusal(pupil, "room_topic", room="den", topic="LOUD")).code == "muted"
    # As are a new room's name and topic, and an invitation (pushed to the one invited).
    assert (await refusal(pupil, "room_create", room="loud", topic="LOUD")).code == "muted"
    assert (await refusal(pupil, "room_invite", room="den", username="teacher")).code == "muted"
    # So is a status text (everyone online sees it); a status alone is no speech.
    assert (await refusal(pupil, "status_set", status="busy", status_text="LOUD")).code == ("muted")
    assert (await pupil.request("status_set", status="away"))["status"] == "away"
    # And a display name or a bio, shown to everyone; clearing one is no speech.
    assert (await refusal(pupil, "profile_set", display_name="LOUD")).code == "muted"
    assert (await refusal(pupil, "profile_set", bio="LOUD")).code == "muted"
    assert (await pupil.request("profile_set", bio=""))["bio"] == ""
    clock.now += 299
    assert (await refusal(pupil, "broadcast", text="still?")).code == "muted"
    clock.now += 2
    sent = await pupil.broadcast("quietly now")
    assert (await next_push(teacher, MessagePush, mid=sent.mid)).text == "quietly now"
    assert (await pupil.request("room_topic", room="den", topic="quiet"))["topic"] == "quiet"
    assert (await pupil.request("status_set", status="online", status_text="back"))[
        "status_text"
    ] == "back"
    assert (await pupil.request("profile_set", display_name="Pat"))["display_name"] == "Pat"
    assert (await pupil.request("room_create", room="calm"))["room"] == "calm"
    invited = await pupil.request("room_invite", room="den", username="teacher")
    assert invited == {"room": "den", "username": "teacher", "member": False}


async def test_a_room_owner_moderates_their_room_and_only_it(server: RunningServer) -> None:
    owner = await server.login("owner", features=ROOMS)
    helper = await server.login("helper", features=ROOMS)
    pupil = await server.login("pupil", features=ROOMS)
    await owner.request("room_create", room="maths")
    for client in (helper, pupil):
        await client.request("room_join", room="maths")
    assert (await refusal(helper, "mute", username="pupil", room="maths", seconds=60)).code == (
        "forbidden"
    )
    named = await owner.request("room_role", room="maths", username="helper", role="moderator")
    assert named["changed"] is True
    await helper.request("mute", username="pupil", room="maths", seconds=60)
    assert (await refusal(pupil, "broadcast", room="maths", text="x")).code == "muted"
    assert (await pupil.broadcast("in the lobby I may")).mid > 0  # muted in maths only
    # A room moderator does not outrank the owner, nor moderate outside the room.
    error = await refusal(helper, "mute", username="owner", room="maths", seconds=60)
    assert error.code == "forbidden" and "outrank" in error.message
    assert (await refusal(helper, "kick", username="pupil")).code == "forbidden"
    # The owner kicks the pupil from the room: they are told, the room hears they left.
    await owner.request("kick", username="pupil", room="maths", reason="off topic")
    assert (await next_push(pupil, ModeratedPush, action="kick")).reason == "off topic"
    assert await next_push(helper, LeftPush) == LeftPush("maths", "pupil")
    assert (await refusal(pupil, "broadcast", room="maths", text="x")).code == "forbidden"
    assert (await pupil.request("room_join", room="maths"))["joined"] is True  # not banned


async def test_kick_and_ban_from_the_server(make_server: Any) -> None:
    server: RunningServer = await make_server()
    clock = Clock(1_900_000_000.0)
    use_clock(server, clock)
    admin = await server.login("admin")
    await give_role(server, "admin", "admin")
    pupil = await server.login("pupil")
    await admin.request("kick", username="pupil", reason="enough")
    assert await next_push(pupil, ModeratedPush) == ModeratedPush(
        "kick", "admin", None, None, "enough"
    )
    assert await next_push(pupil, ByePush) == ByePush("kicked")
    pupil = await server.login("pupil")  # a kick is not a ban
    banned = await admin.request("ban", username="pupil", seconds=3600)
    assert banned["until"] == clock.now + 3600
    assert await next_push(pupil, ByePush) == ByePush("banned")
    again = await server.connect()
    error = await refusal(again, "login", username="pupil", password="correct horse")
    assert error.code == "banned" and error.extra["until"] == clock.now + 3600
    clock.now += 3601
    await again.login("pupil", "correct horse")  # the ban has run out
    await again.close()
    await admin.request("ban", username="pupil")  # no end
    later = await server.connect()
    error = await refusal(later, "login", username="pupil", password="correct horse")
    assert error.code == "banned" and error.extra["until"] is None
    assert (await admin.request("unban", username="pupil"))["lifted"] is True
    await later.login("pupil", "correct horse")


async def test_a_room_ban_keeps_them_out_of_that_room(server: RunningServer) -> None:
    owner = await server.login("owner")
    pupil = await server.login("pupil")
    await owner.request("room_create", room="art")
    await pupil.request("room_join", room="art")
    await owner.request("ban", username="pupil", room="art")
    assert (await next_push(pupil, ModeratedPush)).action == "ban"
    error = await refusal(pupil, "room_join", room="art")
    assert error.code == "banned" and error.extra["until"] is None
    assert await pupil.request("ping") == {}  # still on the server
    await owner.request("unban", username="pupil", room="art")
    assert (await pupil.request("room_join", room="art"))["joined"] is True


async def test_joins_cut_off_mid_request_racing_a_room_ban_leave_no_member(
    make_server: Any,
) -> None:
    """Sessions of the pupil ask to join the room and vanish before the answer, some
    before the owner's ban, some during it, some after; the pupil comes back: not a
    member, refused, and the room's members do not list them."""
    server: RunningServer = await make_server(login_attempts=10**6)
    owner = await server.login("owner")
    await owner.request("room_create", room="art")
    await server.register("pupil")

    async def join_and_vanish() -> None:
        client = await server.login("pupil")
        reply = client.submit("room_join", room="art")
        await client.drain()
        client.abandon("gone")  # before the answer
        with contextlib.suppress(ConnectionError, ChatError):
            await reply  # (what it was does not matter: what the server kept does)

    for _ in range(3):
        ban = owner.request("ban", username="pupil", room="art")
        await asyncio.gather(ban, *(join_and_vanish() for _ in range(8)))
        await asyncio.gather(*(join_and_vanish() for _ in range(4)))
        back = await server.login("pupil", features=ROOMS)
        rooms = (await back.request("rooms"))["rooms"]
        assert [room["joined"] for room in rooms if room["room"] == "art"] == [False]
        assert await refused(back, "room_join", room="art") == "banned"
        members = (await owner.request("room_members", room="art"))["members"]
        assert "pupil" not in [member["username"] for member in members]
        await owner.request("unban", username="pupil", room="art")
        assert (await back.request("room_join", room="art"))["joined"] is True
        await back.close()


async def test_deleted_messages_leave_a_tombstone_in_history_and_search(
    server: RunningServer,
) -> None:
    mod = await server.login("mod")
    await give_role(server, "mod", "moderator")
    alice = await server.login("alice")
    bob = await server.login("bob")
    mine = await alice.broadcast("a regrettable remark")
    theirs = await bob.broadcast("something rude")
    assert (await refusal(alice, "delete", mid=theirs.mid)).code == "forbidden"
    assert await alice.request("delete", mid=mine.mid) == {"mid": mine.mid, "deleted": True}
    assert await next_push(bob, DeletedPush) == DeletedPush(
        mine.mid, "alice", "lobby", None, "alice"
    )
    assert await mod.request("delete", mid=theirs.mid) == {"mid": theirs.mid, "deleted": True}
    assert (await next_push(alice, DeletedPush, mid=theirs.mid)).by == "mod"
    assert (await mod.request("delete", mid=theirs.mid))["deleted"] is False  # once
    page = (await bob.request("history", room="lobby"))["messages"]
    shown = {m["mid"]: m for m in page}
    assert shown[mine.mid]["deleted"] is True and shown[mine.mid]["text"] == ""
    assert shown[theirs.mid]["deleted"] is True and shown[theirs.mid]["text"] == ""
    assert (await bob.request("search", query="rude"))["messages"] == []
    again = await (await server.connect()).request("login", username="mod", password=PASSWORD)
    lobby = {c.get("room"): c for c in again["conversations"]}["lobby"]
    assert lobby["unread"] == 2  # the tombstones count until read past (protocol.md 9)
    assert (await refusal(bob, "delete", mid=10**9)).code == "no_such_message"
    log = (await mod.request("audit"))["entries"]
    assert [(e["action"], e["by"], e["username"]) for e in log[:2]] == [
        ("delete", "mod", "bob"),
        ("delete", "alice", ""),
    ]


async def test_a_private_message_is_deleted_for_both_and_hidden_from_others(
    server: RunningServer,
) -> None:
    alice = await server.login("alice")
    bob = await server.login("bob")
    eve = await server.login("eve")
    sent = await alice.private("bob", "meet at 5")
    assert (await refusal(eve, "delete", mid=sent.mid)).code == "no_such_message"
    await alice.request("delete", mid=sent.mid)
    assert (await next_push(bob, DeletedPush)).to == "bob"
    page = (await bob.request("history", **{"with": "alice"}))["messages"]
    assert [m.get("deleted") for m in page] == [True]


async def test_an_announcement_reaches_everyone_online_and_later_the_rest(
    server: RunningServer,
) -> None:
    mod = await server.login("mod")
    await give_role(server, "mod", "moderator")
    online = await server.login("online")
    await server.register("away")
    sent = await mod.request("announce", text="school closes at noon")
    heard = await next_push(online, MessagePush, mid=sent["mid"])
    assert heard.announcement is True and heard.sender == "mod"
    away = await server.login("away")
    later = await next_push(away, MessagePush, mid=sent["mid"])
    assert later.offline and later.announcement and later.text == "school closes at noon"
    log = (await mod.request("audit"))["entries"]
    assert log[0]["action"] == "announce" and log[0]["by"] == "mod"


async def test_nobody_outranks_themselves_and_a_moderator_cannot_touch_an_admin(
    server: RunningServer,
) -> None:
    mod = await server.login("mod")
    admin = await server.login("admin")
    await give_role(server, "mod", "moderator")
    await give_role(server, "admin", "admin")
    assert (await refusal(mod, "kick", username="admin")).code == "forbidden"
    assert (await refusal(mod, "mute", username="mod", seconds=5)).code == "bad_request"
    assert (await refusal(mod, "mute", username="nobody", seconds=5)).code == "no_such_user"
    for seconds in (0, -1, "5", 10**9):
        error = await refusal(admin, "mute", username="mod", seconds=seconds)
        assert error.code == "bad_request", seconds
    assert (await refusal(admin, "mute", username="mod")).code == "bad_request"
    error = await refusal(admin, "kick", username="mod", reason="x" * 201)
    assert error.code == "text_too_long"
    assert (await refusal(admin, "kick", username="mod", room="nowhere")).code == "no_such_room"
    assert (await refusal(admin, "audit", limit=0)).code == "bad_request"
    error = await refusal(admin, "room_role", room="lobby", username="mod", role="moderator")
    assert error.code == "forbidden"
    wrong: list[tuple[str, dict[str, Any], str]] = [
        ("delete", {"mid": "7"}, "bad_request"),
        ("delete", {}, "bad_request"),
        ("delete", {"mid": 0}, "bad_request"),
        ("announce", {"text": "   "}, "empty_text"),
        ("announce", {"text": "x" * 5000}, "text_too_long"),
        ("audit", {"before": -1}, "bad_request"),
        ("audit", {"limit": 201}, "bad_request"),
        ("ban", {"username": "mod", "seconds": 0}, "bad_request"),
        ("kick", {"username": ["mod"]}, "bad_request"),
        ("kick", {"username": "bad name!"}, "invalid_username"),
        ("kick", {"username": "mod", "room": "bad room!"}, "invalid_room"),
        ("unmute", {}, "bad_request"),
        ("room_role", {"room": "lobby", "username": "mod", "role": "king"}, "bad_request"),
        ("block", {}, "bad_request"),
        ("unblock", {"username": "nobody"}, "no_such_user"),
    ]
    for kind, data, code in wrong:
        assert (await refusal(admin, kind, **data)).code == code, (kind, data)
    assert await admin.request("ping") == {}  # and the connection is fine


async def test_many_moderators_acting_at_once_are_all_logged(make_server: Any) -> None:
    server: RunningServer = await make_server(**FAST)
    mods = [await server.login(f"mod{n}") for n in range(10)]
    for n in range(10):
        await give_role(server, f"mod{n}", "moderator")
    pupils = [await server.login(f"pupil{n}") for n in range(10)]
    async with asyncio.timeout(WAIT):
        await asyncio.gather(
            *(
                mod.request("mute", username=f"pupil{n}", seconds=60 + n)
                for mod in mods
                for n in range(10)
            )
        )
    for pupil in pupils:
        assert (await refusal(pupil, "broadcast", text="x")).code == "muted"
    log = (await mods[0].request("audit", limit=200))["entries"]
    assert len([e for e in log if e["action"] == "mute"]) == 100
    assert len({e["id"] for e in log}) == len(log)


async def test_a_moderator_gone_mid_request_leaves_one_mute_and_comes_back(
    server: RunningServer,
) -> None:
    await server.register("mod")
    await give_role(server, "mod", "moderator")
    pupil = await server.login("pupil")
    raw = await server.raw()
    login = {"username": "mod", "password": PASSWORD}
    await raw.request({"type": "login", "id": 1, "data": login})
    # Answered one after the other: once the mute is pushed, the block is done too.
    await raw.send({"type": "block", "id": 2, "data": {"username": "pupil"}})
    await raw.send({"type": "mute", "id": 3, "data": {"username": "pupil", "seconds": 600}})
    raw.close()  # gone before reading either reply
    assert (await next_push(pupil, ModeratedPush)).action == "mute"
    assert (await refusal(pupil, "broadcast", text="x")).code == "muted"
    mod = await server.login("mod")
    assert (await mod.request("blocks"))["blocked"] == ["pupil"]
    again = await mod.request("mute", username="pupil", seconds=60)  # one mute, replaced
    error = await refusal(pupil, "broadcast", text="x")
    assert error.code == "muted" and error.extra["until"] == again["until"]
    log = (await mod.request("audit"))["entries"]
    assert [e["action"] for e in log] == ["mute", "mute", "set_role"]


async def test_logins_racing_a_ban_keep_no_session(make_server: Any) -> None:
    """Logins (and resumes) checked just before a ban is stored, their sessions joined
    just after the ban sent the user's sessions away: those sessions must go too, or a
    banned user stays in until they disconnect. Five bans, each lifted after: the moment
    is short."""
    server: RunningServer = await make_server(login_attempts=10**6)
    mod = await server.login("mod")
    await give_role(server, "mod", "moderator")
    await server.register("pupil")
    for _ in range(5):
        ban = lambda: mod.request("ban", username="pupil")  # noqa: E731
        opened = await sessions_racing(server, "pupil", ban)
        for client, _ in opened:
            await asyncio.wait_for(client.wait_closed(), WAIT)
            assert client.closed_reason == "banned"
        assert await refused(await server.connect(), "resume", token=opened[0][1]) == "banned"
        await mod.request("unban", username="pupil")
