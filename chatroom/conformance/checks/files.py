"""Level 4: files (docs/protocol.md 6): announce, send in chunks, push, download, describe.

Chunks here are small (1,000 bytes) and sent one at a time: framing under load is
level 5's business.
"""

import hashlib
import os
from typing import Any

from chatroom.conformance.checks.chat import has_fields, said
from chatroom.conformance.checks.mail import replay
from chatroom.conformance.probe import Probe, Unmet
from chatroom.conformance.requirements import Run, requirement

CHUNK = 1000


def announce(to: str | None, content: bytes, name: str = "notes.txt") -> dict[str, Any]:
    sha256 = hashlib.sha256(content).hexdigest()
    return {"to": to, "name": name, "size": len(content), "sha256": sha256}


async def send_chunks(probe: Probe, fid: Any, content: bytes, start: int = 0) -> dict[Any, Any]:
    """Send `content` from `start` in chunks; the data of the last chunk's ok."""
    last: dict[Any, Any] = {}
    for offset in range(start, len(content), CHUNK):
        chunk = {"fid": fid, "offset": offset, "data": content[offset : offset + CHUNK]}
        last = await probe.ok("file_chunk", chunk)
        if last.get("received") != min(offset + CHUNK, len(content)):
            raise Unmet(f"received: {min(offset + CHUNK, len(content))}", repr(last))
    return last


async def upload(probe: Probe, to: str | None, content: bytes) -> dict[Any, Any]:
    """A whole upload; the data of the last chunk's ok (fid added)."""
    put = await probe.ok("file_put", announce(to, content))
    if not isinstance(put.get("fid"), int) or put.get("offset") != 0:
        raise Unmet("ok to file_put with an int fid and offset 0", repr(put))
    last = await send_chunks(probe, put["fid"], content)
    if last.get("complete") is not True or not isinstance(last.get("mid"), int):
        raise Unmet("the last chunk answered complete: true with a mid", repr(last))
    return last | {"fid": put["fid"]}


async def sent_to_bob(run: Run, content: bytes, done: dict[Any, Any]) -> dict[str, Any]:
    """What the `file` push and `file_info` say of `content`, uploaded by alice to bob
    (`done`, from `upload`)."""
    return announce(await run.account("bob"), content) | {
        "fid": done["fid"], "from": await run.account("alice"), "mid": done["mid"]}  # fmt: skip


@requirement(
    4,
    "file.upload",
    "§6 file_put, file_chunk",
    "file_put gives a fid; chunks are counted; the last is complete with a mid",
)
async def file_upload(run: Run) -> None:
    alice = await run.user("alice")
    await upload(alice, await run.account("bob"), os.urandom(3 * CHUNK + 17))


@requirement(
    4,
    "file.push",
    "§6 The file push",
    "the recipient gets a file push: fid, mid, from, to, name, size, sha256",
)
async def file_push(run: Run) -> None:
    alice, bob = await run.user("alice"), await run.user("bob")
    content = os.urandom(2 * CHUNK)
    done = await upload(alice, await run.account("bob"), content)
    push = await bob.push("file", said(done["mid"]))
    has_fields("file push", push, await sent_to_bob(run, content, done))


@requirement(
    4,
    "file.get",
    "§6 file_get",
    "the recipient downloads the same bytes, the last reply with eof: true",
)
async def file_get(run: Run) -> None:
    alice, bob = await run.user("alice"), await run.user("bob")
    content = os.urandom(5 * CHUNK + 1)
    fid = (await upload(alice, await run.account("bob"), content))["fid"]
    got, eof = b"", False
    while not eof and len(got) <= len(content):
        data = await bob.ok("file_get", {"fid": fid, "offset": len(got), "length": 2 * CHUNK})
        if not isinstance(data.get("data"), bytes):
            raise Unmet("data: bin", repr(data)[:160])
        got, eof = got + data["data"], data.get("eof") is True
    if got != content or not eof:
        raise Unmet(f"the {len(content)} bytes sent, then eof", f"{len(got)} bytes, eof {eof}")


@requirement(
    4,
    "file.info",
    "§6 file_info",
    "file_info tells the recipient a file's fid, mid, from, to, name, size and sha256",
)
async def file_info(run: Run) -> None:
    alice, bob = await run.user("alice"), await run.user("bob")
    content = os.urandom(CHUNK + 1)
    done = await upload(alice, await run.account("bob"), content)
    info = await bob.ok("file_info", {"fid": done["fid"]})
    has_fields("file_info reply", info, await sent_to_bob(run, content, done))


@requirement(
    4,
    "file.checksum",
    "§6 file_chunk",
    "a file whose bytes do not match its sha256 gets checksum_mismatch",
)
async def file_checksum(run: Run) -> None:
    alice = await run.user("alice")
    content = os.urandom(CHUNK + 5)
    put = await alice.ok("file_put", announce(await run.account("bob"), content))
    await send_chunks(alice, put["fid"], content[:CHUNK])
    last = {"fid": put["fid"], "offset": CHUNK, "data": b"\0" * 5}
    await alice.refused("file_chunk", last, "checksum_mismatch", " for the last chunk")


@requirement(
    4,
    "file.offset",
    "§6 file_chunk",
    "a chunk at the wrong offset gets bad_request with `received`",
)
async def file_offset(run: Run) -> None:
    alice = await run.user("alice")
    content = os.urandom(2 * CHUNK)
    put = await alice.ok("file_put", announce(await run.account("bob"), content))
    chunk = {"fid": put["fid"], "offset": CHUNK, "data": content[CHUNK:]}
    error = await alice.refused("file_chunk", chunk, "bad_request", " for a chunk at 1000 of 0")
    if error.get("received") != 0:
        raise Unmet("received: 0", repr(error))


@requirement(
    4,
    "file.resume",
    "§6 file_put",
    "after a dropped connection, file_put of the same file gives the same fid and "
    "the offset to continue from",
)
async def file_resume(run: Run) -> None:
    alice, bob = await run.user("alice"), await run.account("bob")
    content = os.urandom(4 * CHUNK)
    put = await alice.ok("file_put", announce(bob, content))
    await send_chunks(alice, put["fid"], content[: 2 * CHUNK])
    await alice.close()
    again = await run.user("alice")
    resumed = await again.ok("file_put", announce(bob, content))
    if (resumed.get("fid"), resumed.get("offset")) != (put["fid"], 2 * CHUNK):
        raise Unmet(f"fid {put['fid']}, offset {2 * CHUNK}", repr(resumed))
    await send_chunks(again, put["fid"], content, start=2 * CHUNK)


@requirement(4, "file.forbidden", "§6 file_get", "a private file between two others gets forbidden")
async def file_forbidden(run: Run) -> None:
    alice, carol = await run.user("alice"), await run.user("carol")
    fid = (await upload(alice, await run.account("bob"), b"not for carol"))["fid"]
    await carol.refused("file_get", {"fid": fid, "offset": 0, "length": CHUNK}, "forbidden")


@requirement(
    4,
    "file.too_large",
    "§6 file_put",
    "a file over max_file_size is refused at file_put with file_too_large",
)
async def file_too_large(run: Run) -> None:
    alice = await run.user("alice")
    data = announce(await run.account("bob"), b"") | {"size": run.limit("max_file_size") + 1}
    await alice.refused("file_put", data, "file_too_large")


@requirement(
    4,
    "file.offline",
    "§6 Files",
    "a file sent to an offline user comes as a file push at their login",
)
async def file_offline(run: Run) -> None:
    alice, away = await run.user("alice"), await run.register("away")
    mid = (await upload(alice, away, b"for later"))["mid"]
    _, waiting = await replay(run, away)
    if not [push for push in waiting if push.get("mid") == mid and "fid" in push]:
        raise Unmet(f"a file push with mid {mid} in the replay", repr(waiting)[:200])
