"""Level 3: offline mail and acks (docs/protocol.md 5, "Delivery: at least once, with acks").

Each requirement sends to an account of its own that has never logged in, so that what
its mailbox holds is exactly what the requirement put there.
"""

from typing import Any

from chatroom.conformance.checks.chat import said
from chatroom.conformance.probe import Probe, Unmet
from chatroom.conformance.requirements import Run, requirement


async def replay(run: Run, name: str) -> tuple[Probe, list[dict[Any, Any]]]:
    """Log `name` in and read its whole replay: the login reply's `offline` count of
    message and file pushes with offline: true (Unmet if fewer come)."""
    probe, data = await run.login(name)
    count = data.get("offline")
    if not isinstance(count, int):
        raise Unmet("`offline` in the login reply: how many messages follow", repr(count))
    waiting = []
    for number in range(count):
        push = await probe.push(("message", "file"), lambda data: data.get("offline") is True,
                                what=f"with offline: true ({number + 1} of {count})")  # fmt: skip
        waiting.append(push)
    return probe, waiting


def mids(pushes: list[dict[Any, Any]]) -> list[Any]:
    return [push.get("mid") for push in pushes]


@requirement(
    3,
    "offline.private",
    "§5 Delivery",
    "a private message to an offline user is answered delivered: false and comes "
    "at their login with offline: true",
)
async def offline_private(run: Run) -> None:
    alice, away = await run.user("alice"), await run.register("away")
    text = f"while you were out {run.tag}"
    data = await alice.ok("private", {"to": away, "text": text})
    if data.get("delivered") is not False:
        raise Unmet("delivered: false (the recipient never logged in)", repr(data))
    _, waiting = await replay(run, away)
    found = [push for push in waiting if push.get("mid") == data["mid"]]
    if not found or found[0].get("text") != text:
        raise Unmet(f"mid {data['mid']} in the replay", f"mids {mids(waiting)}")


@requirement(
    3,
    "offline.group",
    "§5 Delivery",
    "a group message said while a user was offline comes at their login",
)
async def offline_group(run: Run) -> None:
    alice, away = await run.user("alice"), await run.register("away")
    mid = (await alice.ok("broadcast", {"text": f"news for later {run.tag}"}))["mid"]
    _, waiting = await replay(run, away)
    if mid not in mids(waiting):
        raise Unmet(f"mid {mid} in the replay", f"mids {mids(waiting)}")


@requirement(
    3,
    "offline.order",
    "§4 login, §5 Delivery",
    "the replay is `offline` messages, oldest first, then live traffic",
)
async def offline_order(run: Run) -> None:
    alice, away = await run.user("alice"), await run.register("away")
    sent = [
        (await alice.ok("private", {"to": away, "text": f"number {n} {run.tag}"}))["mid"]
        for n in range(3)
    ]
    probe, waiting = await replay(run, away)
    got = mids(waiting)
    if not set(sent) <= set(got) or got != sorted(got):
        raise Unmet(f"the replay to hold {sent}, in mid order", f"mids {got}")
    live = await alice.ok("private", {"to": away, "text": "and now live"})
    push = await probe.push("message", said(live["mid"]))
    extra = [p for p in probe.pushes if (p.get("data") or {}).get("offline") is True]
    if push.get("offline") is not False or extra:
        raise Unmet(
            "exactly `offline` replayed messages, then live ones with offline: false",
            f"{len(extra)} more offline messages; the live one with {push.get('offline')}",
        )


@requirement(
    3,
    "ack.removes",
    "§4 ack, §5 Delivery",
    "ack is answered ok, and what was acked is not replayed at the next login",
)
async def ack_removes(run: Run) -> None:
    alice, away = await run.user("alice"), await run.register("away")
    mid = (await alice.ok("private", {"to": away, "text": f"ack me {run.tag}"}))["mid"]
    first, waiting = await replay(run, away)
    if mid not in mids(waiting):
        raise Unmet(f"mid {mid} in the first replay", f"mids {mids(waiting)}")
    await first.ok("ack", {"upto": mid})
    await first.close()
    _, again = await replay(run, away)
    if [m for m in mids(again) if isinstance(m, int) and m <= mid]:
        raise Unmet(f"no mid up to the acked {mid} in the next replay", f"mids {mids(again)}")


@requirement(
    3,
    "ack.unacked_again",
    "§5 Delivery",
    "a message delivered live but never acked comes again at the next login",
)
async def unacked_again(run: Run) -> None:
    alice, away = await run.user("alice"), await run.register("away")
    probe, _ = await replay(run, away)
    mid = (await alice.ok("private", {"to": away, "text": f"don't lose me {run.tag}"}))["mid"]
    await probe.push("message", said(mid))
    await probe.close()
    _, again = await replay(run, away)
    if mid not in mids(again):
        raise Unmet(f"the unacked mid {mid} in the replay", f"mids {mids(again)}")


@requirement(
    3, "offline.newcomer", "§5 Delivery", "a new account is not sent the group's earlier messages"
)
async def newcomer(run: Run) -> None:
    alice = await run.user("alice")
    mid = (await alice.ok("broadcast", {"text": f"before your time {run.tag}"}))["mid"]
    newcomer = await run.register("newcomer")
    _, waiting = await replay(run, newcomer)
    if mid in mids(waiting):
        raise Unmet(f"no mid {mid} (said before the account existed)", f"mids {mids(waiting)}")
