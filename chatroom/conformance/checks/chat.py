"""Level 2: who is online, the group, private messages (docs/protocol.md 4 and 5)."""

from typing import Any

from chatroom.conformance.probe import Probe, Unmet
from chatroom.conformance.requirements import Run, requirement


def presence_of(name: str, online: bool) -> Any:
    """Matches a `presence` push, or a `presence_batch` (in its `online` or `offline`
    list), saying `name` came online (or went offline)."""

    def matching(data: dict[Any, Any]) -> bool:
        if data.get("username") == name:
            return data.get("online") is online
        names = data.get("online" if online else "offline")
        return isinstance(names, list) and name in names

    return matching


def said(mid: Any) -> Any:
    return lambda data: data.get("mid") == mid


def has_fields(kind: str, data: dict[Any, Any], want: dict[str, Any]) -> None:
    """Unmet unless `data` (of a `kind` push, or a reply) holds every field of `want`, with
    that value."""
    got = {key: data.get(key) for key in want}
    if got != want:
        raise Unmet(f"a {kind} {want}", repr(got)[:200])


async def after_marker(sender: Probe, *readers: Probe, text: str) -> None:
    """`sender` says `text` to the group and every reader waits for it: whatever the
    server sent a reader before that push has then been read (kept in its `pushes`)."""
    mid = (await sender.ok("broadcast", {"text": text}))["mid"]
    for reader in readers:
        await reader.push("message", said(mid), what=f"of the group message {text!r}")


def kept_message(probe: Probe, text: str) -> dict[Any, Any] | None:
    return next(
        (push for push in probe.pushes
         if push["type"] == "message" and (push.get("data") or {}).get("text") == text),
        None,
    )  # fmt: skip


@requirement(2, "users.online", "§4 users", "users lists everyone online, sorted")
async def users(run: Run) -> None:
    alice, bob = await run.user("alice"), await run.user("bob")
    online = (await alice.ok("users")).get("online")
    names = {await run.account("alice"), await run.account("bob")}
    if not isinstance(online, list) or not names <= set(online) or online != sorted(online):
        raise Unmet(f"a sorted online list with {sorted(names)}", repr(online)[:160])
    await bob.close()


@requirement(2, "presence.online", "§5 presence",
             "others are told when a user comes online (presence or presence_batch)")  # fmt: skip
async def presence_online(run: Run) -> None:
    alice = await run.user("alice")
    dora = await run.register("dora")
    await run.login(dora)
    await alice.push(
        ("presence", "presence_batch"), presence_of(dora, online=True), what=f"with {dora} online"
    )


@requirement(2, "presence.offline", "§5 presence", "others are told when a user goes offline")
async def presence_offline(run: Run) -> None:
    alice = await run.user("alice")
    eve = await run.register("eve")
    probe, _ = await run.login(eve)
    await alice.push(
        ("presence", "presence_batch"), presence_of(eve, online=True), what=f"with {eve} online"
    )
    await probe.close()
    await alice.push(
        ("presence", "presence_batch"), presence_of(eve, online=False), what=f"with {eve} offline"
    )


@requirement(2, "broadcast.ok", "§4 broadcast", "broadcast is answered with its mid and ts")
async def broadcast_ok(run: Run) -> None:
    alice = await run.user("alice")
    data = await alice.ok("broadcast", {"text": "hello, group"})
    mid, ts = data.get("mid"), data.get("ts")
    if not isinstance(mid, int) or mid <= 0 or not isinstance(ts, int | float):
        raise Unmet("ok with a positive int mid and a number ts", repr(data))


@requirement(
    2,
    "broadcast.delivered",
    "§5 message",
    "every other online user gets a message push: from, to nil, room lobby, text, mid",
)
async def broadcast_delivered(run: Run) -> None:
    alice, bob = await run.user("alice"), await run.user("bob")
    text = f"for everyone {run.tag}"
    mid = (await alice.ok("broadcast", {"text": text}))["mid"]
    push = await bob.push("message", said(mid), what=f"with mid {mid}")
    want = {"from": await run.account("alice"), "to": None, "room": "lobby", "text": text,
            "offline": False}  # fmt: skip
    has_fields("message push", push, want)


@requirement(
    2,
    "broadcast.not_echoed",
    "§4 broadcast",
    "the sender's own connection gets no message push of its broadcast",
)
async def broadcast_not_echoed(run: Run) -> None:
    alice, bob = await run.user("alice"), await run.user("bob")
    text = f"said once {run.tag}"
    mid = (await alice.ok("broadcast", {"text": text}))["mid"]
    await bob.push("message", said(mid))
    await after_marker(bob, alice, text=f"marker {run.tag}")
    if kept_message(alice, text):
        raise Unmet("no push of alice's own broadcast to alice", "a message push of it")


@requirement(2, "broadcast.empty_text", "§4 broadcast", "an empty or blank text gets empty_text")
async def broadcast_empty(run: Run) -> None:
    alice = await run.user("alice")
    for text in ("", "   "):
        await alice.refused("broadcast", {"text": text}, "empty_text", f" for {text!r}")


@requirement(2, "broadcast.text_too_long", "§2, §4 broadcast",
             "max_text characters are accepted (counted as code points, not bytes); one more "
             "gets text_too_long")  # fmt: skip
async def broadcast_too_long(run: Run) -> None:
    alice = await run.user("alice")
    most = run.limit("max_text")
    await alice.ok("broadcast", {"text": "é" * most})
    await alice.refused("broadcast", {"text": "x" * (most + 1)}, "text_too_long")


@requirement(
    2,
    "private.delivered",
    "§4 private",
    "a private message is answered delivered: true and reaches the recipient",
)
async def private_delivered(run: Run) -> None:
    alice, bob = await run.user("alice"), await run.user("bob")
    bob_name = await run.account("bob")
    text = f"just for you {run.tag}"
    data = await alice.ok("private", {"to": bob_name, "text": text})
    if not isinstance(data.get("mid"), int) or data.get("delivered") is not True:
        raise Unmet("ok with a mid and delivered: true", repr(data))
    push = await bob.push("message", said(data["mid"]))
    want = {"from": await run.account("alice"), "to": bob_name, "room": None, "text": text}
    has_fields("message push", push, want)


@requirement(
    2, "private.only_recipient", "§4 private", "nobody but the recipient gets a private message"
)
async def private_only_recipient(run: Run) -> None:
    alice, bob, carol = await run.user("alice"), await run.user("bob"), await run.user("carol")
    text = f"a secret {run.tag}"
    await alice.ok("private", {"to": await run.account("bob"), "text": text})
    await after_marker(bob, alice, carol, text=f"marker {run.tag}")
    for name, probe in (("carol", carol), ("alice, its sender", alice)):
        if kept_message(probe, text):
            raise Unmet(f"no push of alice's private message to bob for {name}", "one")


@requirement(2, "private.no_such_user", "§4 private", "a private to nobody gets no_such_user")
async def private_nobody(run: Run) -> None:
    alice = await run.user("alice")
    data = {"to": run.name("nobody"), "text": "anyone there?"}
    await alice.refused("private", data, "no_such_user")


@requirement(
    2,
    "private.from",
    "§4 private",
    "`from` is the logged-in sender, whatever `from` the request says",
)
async def private_from(run: Run) -> None:
    alice, bob = await run.user("alice"), await run.user("bob")
    data = {"to": await run.account("bob"), "text": "it's me", "from": "someone_else"}
    mid = (await alice.ok("private", data))["mid"]
    push = await bob.push("message", said(mid))
    if push.get("from") != await run.account("alice"):
        raise Unmet("from: the sender's name", repr(push.get("from")))
