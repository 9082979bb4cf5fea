"""Level 5: robustness (docs/protocol.md 1, 2, 10 and 11): frames split into single bytes
and stuck together, pipelined requests, bad input, limits, clients that vanish."""

import asyncio
import struct
from typing import Any

import msgpack

from chatroom.common.codec import encode
from chatroom.conformance.checks.chat import said
from chatroom.conformance.probe import REPLIES, Probe, Unmet
from chatroom.conformance.requirements import PASSWORD, Run, requirement

BYTE_GAP = 0.002
"""Seconds between the single bytes of a split frame, so each arrives on its own."""


async def refused_and_closed(probe: Probe, code: str) -> None:
    """The next frame is an error `code` with id nil, and then the server closes."""
    reply = await probe.reply(None)
    error = reply.get("data") or {}
    if reply["type"] != "error" or error.get("code") != code:
        raise Unmet(f"error {code!r} with id nil", f"{reply['type']} {error.get('code')!r}")
    if not await probe.closed():
        raise Unmet(f"the connection closed after {code!r}", "it stayed open")


@requirement(
    5, "framing.split", "§1 Framing", "a request that arrives one byte at a time is read whole"
)
async def split(run: Run) -> None:
    probe = await run.connect()
    name = await run.account("alice")
    request = probe.envelope("login", {"username": name, "password": PASSWORD})
    for byte in encode(request):
        await probe.send_bytes(bytes([byte]))
        await asyncio.sleep(BYTE_GAP)
    reply = await probe.reply(request["id"])
    if reply["type"] != "ok":
        raise Unmet("ok to the login sent byte by byte", repr(reply)[:160])


@requirement(
    5,
    "framing.coalesced",
    "§1 Framing",
    "frames that arrive stuck together in one read, with part of the next, are each read",
)
async def coalesced(run: Run) -> None:
    probe = await run.connect()
    requests = [probe.envelope("ping") for _ in range(4)]
    stream = b"".join(encode(request) for request in requests)
    cut = len(stream) - 5
    await probe.send_bytes(stream[:cut])
    await asyncio.sleep(0.05)
    await probe.send_bytes(stream[cut:])
    got: list[Any] = []
    while len(got) < len(requests):
        envelope = await probe.frame()
        if envelope["type"] in REPLIES:
            got.append(envelope.get("id"))
    if sorted(got, key=repr) != [request["id"] for request in requests]:
        raise Unmet("a reply to each of 4 pings", f"replies to ids {got}")


@requirement(
    5,
    "framing.large",
    "§1 Framing",
    "a frame of 200,000 bytes (many reads) is read whole; unknown fields are ignored",
)
async def large(run: Run) -> None:
    probe = await run.connect()
    size = min(200_000, run.limit("max_frame") - 100)
    await probe.ok("ping", {"padding": bytes(size)})


@requirement(
    5,
    "pipeline.order",
    "§2 The envelope",
    "requests sent without waiting are answered in the order they were sent",
)
async def pipeline(run: Run) -> None:
    alice = await run.user("alice")
    bob = await run.account("bob")
    requests = [
        alice.envelope("ping"),
        alice.envelope("users"),
        alice.envelope("broadcast", {"text": f"pipelined {run.tag}"}),
        alice.envelope("private", {"to": bob, "text": f"pipelined {run.tag}"}),
        alice.envelope("frobnicate"),
        alice.envelope("ping"),
    ]
    await alice.send_bytes(b"".join(encode(request) for request in requests))
    for request in requests:
        await alice.reply(request["id"])


@requirement(
    5,
    "framing.too_large",
    "§1 Framing, §10",
    "a length over max_frame gets frame_too_large with id nil, then the connection is closed",
)
async def too_large(run: Run) -> None:
    probe = await run.connect()
    await probe.send_bytes(struct.pack(">I", run.limit("max_frame") + 1))
    await refused_and_closed(probe, "frame_too_large")


@requirement(
    5,
    "framing.not_a_map",
    "§1 Framing, §10",
    "a body that is not a msgpack map gets bad_request with id nil, then the connection is closed",
)
async def not_a_map(run: Run) -> None:
    probe = await run.connect()
    body = msgpack.packb([1, 2, 3])
    await probe.send_bytes(struct.pack(">I", len(body)) + body)
    await refused_and_closed(probe, "bad_request")


@requirement(
    5,
    "request.bad_field",
    "§10 Error codes",
    "a field of the wrong type gets bad_request, and the connection stays open",
)
async def bad_field(run: Run) -> None:
    alice = await run.user("alice")
    await alice.refused("broadcast", {"text": 123}, "bad_request", " for text: 123")
    await alice.refused("private", {"to": ["x"], "text": "hi"}, "bad_request", " for to: ['x']")
    await alice.ok("ping")


@requirement(
    5, "request.unknown_field", "§2 The envelope", "fields the server does not know are ignored"
)
async def unknown_field(run: Run) -> None:
    probe = await run.connect()
    data = {"username": await run.account("alice"), "password": PASSWORD,
            "colour": "blue", "extra": {"nested": [1, 2]}}  # fmt: skip
    await probe.ok("login", data)


@requirement(
    5,
    "robust.vanish",
    "§1 Framing, §3",
    "clients that vanish mid-frame or before their reply leave the server serving everyone else",
)
async def vanish(run: Run) -> None:
    bob = await run.user("bob")
    half = await run.connect("gone")
    await half.send_bytes(encode({"type": "ping", "id": 1, "data": {}})[:7])
    await half.close()
    hasty = await run.connect("gone")
    login = {"username": await run.account("carol"), "password": PASSWORD}
    await hasty.send_bytes(encode(hasty.envelope("login", login)))
    await hasty.close()
    alice = await run.user("alice")
    mid = (await alice.ok("private", {"to": await run.account("bob"), "text": "still here?"}))[
        "mid"
    ]
    await bob.push("message", said(mid))


@requirement(
    5,
    "limits.rate",
    "§4 broadcast, §11 Limits",
    "past message_burst messages at once, rate_limited with retry_after",
)
async def rate(run: Run) -> None:
    alice = await run.user("alice")
    requests = [
        alice.envelope("broadcast", {"text": f"burst {n}"})
        for n in range(run.limit("message_burst") + 10)
    ]
    await alice.send_bytes(b"".join(encode(request) for request in requests))
    refusals, answered = [], 0
    while answered < len(requests):  # in any order: pipeline.order checks that
        reply = await alice.frame()
        if reply["type"] in REPLIES:
            answered += 1
            if reply["type"] == "error":
                refusals.append(reply.get("data") or {})
    limited = [error for error in refusals if error.get("code") == "rate_limited"]
    if not limited or not all(isinstance(e.get("retry_after"), int | float) for e in limited):
        codes = [error.get("code") for error in refusals]
        raise Unmet("rate_limited with retry_after for some of them", f"refusals {codes}")
