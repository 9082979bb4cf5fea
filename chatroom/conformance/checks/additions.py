"""Level 6: what docs/protocol.md adds to the classroom exercise: features, resume, cid,
rooms, history, search, read markers, profiles (sections 4, 7 and 8)."""

from typing import Any

from chatroom.conformance.checks.chat import after_marker, said
from chatroom.conformance.probe import Probe, Unmet
from chatroom.conformance.requirements import Run, requirement

ROOMS = ["rooms"]


async def room_of_two(run: Run, suffix: str) -> tuple[Probe, Probe, str]:
    """alice's new public room, joined by bob; both asked for `rooms` in hello."""
    alice, _ = await run.login(await run.account("alice"), ROOMS)
    bob, _ = await run.login(await run.account("bob"), ROOMS)
    room = f"r{suffix}_{run.tag}"
    created = await alice.ok("room_create", {"room": room, "topic": "conformance"})
    joined = await bob.ok("room_join", {"room": room})
    if created.get("room") != room or joined.get("joined") is not True:
        raise Unmet(f"room {room!r} created, then joined: true", f"{created} / {joined}")
    return alice, bob, room


@requirement(
    6, "hello.features", "§4 hello", "hello lists the server's features and enables those asked for"
)
async def features(run: Run) -> None:
    probe = await run.connect()
    data = await probe.ok("hello", {"version": 1, "features": ["rooms", "no-such-feature"]})
    offered, enabled = data.get("features"), data.get("enabled")
    if not isinstance(offered, list) or enabled != ["rooms"]:
        raise Unmet("features: [...], enabled: ['rooms']", f"{offered} / {enabled}")


@requirement(
    6,
    "resume.token",
    "§4 resume",
    "login gives a resume_token, and resume with it logs in on a new connection",
)
async def resume(run: Run) -> None:
    name = await run.account("alice")
    _, data = await run.login(name)
    token = data.get("resume_token")
    if not isinstance(token, str):
        raise Unmet("a str resume_token in the login reply", repr(token))
    probe = await run.connect()
    resumed = await probe.ok("resume", {"token": token})
    if resumed.get("username") != name:
        raise Unmet(f"username {name!r}", repr(resumed)[:160])


@requirement(6, "resume.invalid", "§4 resume", "resume with an unknown token gets invalid_token")
async def resume_invalid(run: Run) -> None:
    probe = await run.connect()
    await probe.refused("resume", {"token": "not-a-token-" + run.tag}, "invalid_token")


@requirement(
    6,
    "cid.once",
    "§4 broadcast, cid",
    "a message sent again with the same cid gets the first one's mid, duplicate: "
    "true, and is delivered once",
)
async def cid(run: Run) -> None:
    alice, bob = await run.user("alice"), await run.user("bob")
    message = {"text": f"only once {run.tag}", "cid": f"cid-{run.tag}"}
    first = await alice.ok("broadcast", message)
    again = await alice.ok("broadcast", message)
    if again.get("mid") != first.get("mid") or again.get("duplicate") is not True:
        raise Unmet(f"mid {first.get('mid')} and duplicate: true", repr(again))
    await after_marker(alice, bob, text=f"marker {run.tag}")
    copies = [p for p in bob.pushes if (p.get("data") or {}).get("mid") == first["mid"]]
    if len(copies) != 1:
        raise Unmet("one message push to bob", f"{len(copies)}")


@requirement(
    6, "rooms.message", "§7 Rooms", "a room's members get its messages, with room set and to nil"
)
async def room_message(run: Run) -> None:
    alice, bob, room = await room_of_two(run, "m")
    mid = (await alice.ok("broadcast", {"text": "in the room", "room": room}))["mid"]
    push = await bob.push("message", said(mid))
    if (push.get("room"), push.get("to")) != (room, None):
        raise Unmet(f"room {room!r}, to nil", repr(push)[:160])


@requirement(
    6,
    "history.page",
    "§7 history",
    "history gives the newest messages oldest first, and pages back with before",
)
async def history(run: Run) -> None:
    alice, _, room = await room_of_two(run, "h")
    sent = [(await alice.ok("broadcast", {"text": f"line {n}", "room": room}))["mid"]
            for n in range(3)]  # fmt: skip
    page = await alice.ok("history", {"room": room, "limit": 2})
    mids = [message.get("mid") for message in page.get("messages", [])]
    if mids != sent[1:] or page.get("more") is not True:
        raise Unmet(f"messages {sent[1:]} and more: true", f"{mids}, more {page.get('more')}")
    older = await alice.ok("history", {"room": room, "limit": 2, "before": sent[1]})
    mids = [message.get("mid") for message in older.get("messages", [])]
    if mids != sent[:1]:
        raise Unmet(f"messages {sent[:1]} before {sent[1]}", repr(mids))


@requirement(6, "search.words", "§7 search", "search finds a message by a word of it")
async def search(run: Run) -> None:
    alice = await run.user("alice")
    word = f"zebra{run.tag}"
    mid = (await alice.ok("broadcast", {"text": f"look, a {word} in the lobby"}))["mid"]
    found = await alice.ok("search", {"query": word.upper()})
    mids = [message.get("mid") for message in found.get("messages", [])]
    if mid not in mids:
        raise Unmet(f"mid {mid} among the results", repr(mids))


@requirement(
    6, "read.marker", "§7 read", "read moves the marker and says how many messages are left unread"
)
async def read(run: Run) -> None:
    alice, bob, room = await room_of_two(run, "r")
    sent = [(await alice.ok("broadcast", {"text": f"unread {n}", "room": room}))["mid"]
            for n in range(2)]  # fmt: skip
    data = await bob.ok("read", {"room": room, "upto": sent[0]})
    if (data.get("upto"), data.get("unread")) != (sent[0], 1):
        raise Unmet(f"upto {sent[0]}, unread 1", repr(data))


@requirement(
    6,
    "profile.roundtrip",
    "§8 profile_set, profile_get",
    "a display name set by one user is what others get",
)
async def profile(run: Run) -> None:
    alice, bob = await run.user("alice"), await run.user("bob")
    await alice.ok("profile_set", {"display_name": f"Alice {run.tag}"})
    data: dict[Any, Any] = await bob.ok("profile_get", {"username": await run.account("alice")})
    if data.get("display_name") != f"Alice {run.tag}":
        raise Unmet(f"display_name 'Alice {run.tag}'", repr(data)[:160])
