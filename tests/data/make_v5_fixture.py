"""Make `tests/data/v5/`: a database written by a schema-5 chatroom server with real traffic.

The server of today's commit writes schema 7 (rooms and conversations), so this script
runs the server and client library of the last commit whose schema was 5 (`SOURCE`, the
parent of the commit that added migrations 6 and 7), taken from this repository's history
with `git archive`. It drives that server through the protocol:

- users alice, bob, carol and dave (password "password-<name>"), registered first, so each
  one's mailbox holds everything that follows;
- 12 group broadcasts from all four;
- 9 private messages: alice<->bob and bob<->carol both ways, and one carol->dave;
- two small files of fixed content: one to the group (from carol), one from alice to bob;
- acks: alice up to a message in the middle, bob up to the newest, carol and dave none.

Then it stops the server with SIGINT, checkpoints the WAL into the database, copies
`chatroom.db` and the `files/` folder to the output directory and writes `expected.json`
there from what the copied database holds (so it is true by construction).

Run from anywhere in the repository: `python tests/data/make_v5_fixture.py`.
"""

import argparse
import asyncio
import hashlib
import io
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

SOURCE = "523a4a0935eeb53d3f3efa210621a7692ee46039"
"""The last commit whose schema is version 5 (the parent of c74cc6f, which added 6 and 7)."""
SCHEMA = 5
WAIT = 15.0

USERS = ["alice", "bob", "carol", "dave"]

BROADCASTS = [
    ("alice", "good morning, everyone"),
    ("bob", "morning alice"),
    ("carol", "hello from carol"),
    ("dave", "dave here, first time on this server"),
    ("alice", "welcome dave!"),
    ("bob", "the build is green again"),
    ("carol", "lunch at noon?"),
    ("dave", "count me in"),
    ("alice", "noon works for me"),
    ("bob", "same"),
    ("carol", "see you there"),
    ("alice", "unicode survives too: café, naïve, 日本語, 🙂"),
]

PRIVATES = [
    ("alice", "bob", "bob, have you seen the report?"),
    ("bob", "alice", "yes, reading it now"),
    ("alice", "bob", "page 3 has the numbers"),
    ("bob", "alice", "got it, thanks"),
    ("bob", "carol", "carol, can you review my patch?"),
    ("carol", "bob", "sure, after lunch"),
    ("bob", "carol", "no hurry"),
    ("carol", "bob", "done: two small comments"),
    ("carol", "dave", "dave, welcome aboard"),
]

GROUP_FILE = (
    "lobby-notes.txt",
    b"".join(
        f"line {i:02d}: notes for the whole group, kept as a file\n".encode() for i in range(8)
    ),
)
PRIVATE_FILE = (
    "for-bob.bin",
    bytes(range(256)) + b"\x00" * 64 + b"alice to bob, private file\n" * 4,
)


def password(username: str) -> str:
    return f"password-{username}"


def extract_source(repo: Path, commit: str, into: Path) -> None:
    """The tree of `commit` (its `chatroom` package, at least) unpacked into `into`."""
    top = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--show-toplevel"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    archive = subprocess.run(
        ["git", "-C", top, "archive", "--format=tar", commit, "chatroom"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


async def start_server(source: Path, data_dir: Path) -> tuple[asyncio.subprocess.Process, int]:
    env = dict(os.environ, PYTHONPATH=str(source), PYTHONDONTWRITEBYTECODE="1")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chatroom.server",
        "--host", "127.0.0.1",
        "--port", "0",
        "--data-dir", str(data_dir),
        "--bcrypt-cost", "4",
        "--register-burst", "100",
        cwd=source,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    async with asyncio.timeout(WAIT):
        while True:
            line = (await process.stderr.readline()).decode()
            if not line:
                raise RuntimeError(f"the server exited before listening: {line!r}")
            if match := re.search(r"listening on 127\.0\.0\.1:(\d+)", line):
                return process, int(match.group(1))


async def drive(port: int, scratch: Path) -> dict[str, int]:
    """All the traffic; returns the mids the acks were made up to."""
    from chatroom.client import ChatClient

    clients = {}
    for name in USERS:
        client = await ChatClient.connect("127.0.0.1", port)
        await client.hello("make_v5_fixture")
        await client.register(name, password(name))
        await client.login(name, password(name))
        clients[name] = client

    mids: list[int] = []
    # Interleave broadcasts and private messages so mailboxes mix both.
    privates = iter(PRIVATES)
    for i, (sender, text) in enumerate(BROADCASTS):
        mids.append((await clients[sender].broadcast(text)).mid)
        if i in (1, 5):  # a file among the messages: to the group, later alice -> bob
            name, content = GROUP_FILE if i == 1 else PRIVATE_FILE
            (scratch / name).write_bytes(content)
            sender, to = ("carol", None) if i == 1 else ("alice", "bob")
            sent = await clients[sender].send_file(scratch / name, to)
            mids.append(sent.mid)
        if i % 3 != 2 and (private := next(privates, None)) is not None:
            sender, to, text = private
            mids.append((await clients[sender].private(to, text)).mid)
    for sender, to, text in privates:
        mids.append((await clients[sender].private(to, text)).mid)

    assert mids == sorted(mids), mids
    middle = mids[len(mids) // 2]
    await clients["alice"].ack(middle)
    await clients["bob"].ack(mids[-1])
    for client in clients.values():
        await client.logout()
    return {"alice": middle, "bob": mids[-1]}


async def make(source: Path, data_dir: Path, scratch: Path) -> dict[str, int]:
    process, port = await start_server(source, data_dir)
    try:
        acks = await drive(port, scratch)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        async with asyncio.timeout(WAIT):
            assert process.stderr is not None
            log = (await process.stderr.read()).decode()
            code = await process.wait()
    if code != 0:
        raise RuntimeError(f"the server exited with {code}:\n{log}")
    return acks


def checkpoint(database: Path) -> None:
    with sqlite3.connect(database) as db:
        busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0, "the WAL could not be checkpointed"
    db.close()
    wal = database.with_name(database.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0, "the WAL still holds pages"


def describe(out: Path) -> dict[str, Any]:
    """What the copied database and files folder hold, read straight from them."""
    uri = f"file:{out / 'chatroom.db'}?mode=ro&immutable=1"
    with sqlite3.connect(uri, uri=True) as db:
        (version,) = db.execute("PRAGMA user_version").fetchone()
        users = db.execute("SELECT username, acked_upto FROM users ORDER BY username").fetchall()
        messages = db.execute(
            "SELECT mid, sender, recipient, text, fid FROM messages ORDER BY mid"
        ).fetchall()
        files = db.execute(
            "SELECT fid, sender, recipient, name, size, sha256, mid FROM files ORDER BY fid"
        ).fetchall()
    db.close()
    for fid, _, _, _, size, sha256, _ in files:
        content = (out / "files" / str(fid)).read_bytes()
        assert len(content) == size and hashlib.sha256(content).hexdigest() == sha256, fid
    return {
        "schema_version": version,
        "made_by": SOURCE,
        "passwords": {name: password(name) for name, _ in users},
        "users": [{"username": u, "acked_upto": a} for u, a in users],
        "messages": [
            {"mid": m, "sender": s, "recipient": r, "text": t, "fid": f}
            for m, s, r, t, f in messages
        ],
        "files": [
            {"fid": f, "sender": s, "recipient": r, "name": n, "size": z, "sha256": h, "mid": m}
            for f, s, r, n, z, h, m in files
        ],
    }


def main() -> None:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", default=SOURCE, help="the schema-5 commit to run")
    parser.add_argument("--out", type=Path, default=here / "v5", help="where to put it")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="make-v5-") as temp:
        source, data_dir, scratch = Path(temp, "src"), Path(temp, "data"), Path(temp, "scratch")
        for folder in (source, scratch):
            folder.mkdir()
        extract_source(here, args.source, source)
        sys.path.insert(0, str(source))  # the client library of the same commit
        import chatroom

        assert Path(chatroom.__file__).is_relative_to(source), chatroom.__file__

        acks = asyncio.run(make(source, data_dir, scratch))
        database = data_dir / "chatroom.db"
        checkpoint(database)

        out: Path = args.out
        out.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(out / "files", ignore_errors=True)
        for stale in ("chatroom.db", "chatroom.db-wal", "chatroom.db-shm", "expected.json"):
            (out / stale).unlink(missing_ok=True)
        shutil.copyfile(database, out / "chatroom.db")
        shutil.copytree(data_dir / "files", out / "files", ignore=shutil.ignore_patterns("*.part"))

    expected = describe(out)
    assert expected["schema_version"] == SCHEMA, expected["schema_version"]
    acked = {u["username"]: u["acked_upto"] for u in expected["users"]}
    assert acked["alice"] == acks["alice"] and acked["bob"] == acks["bob"], acked
    (out / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n")
    print(
        f"{out}: {len(expected['users'])} users, {len(expected['messages'])} messages, "
        f"{len(expected['files'])} files; acked_upto {acked}"
    )


if __name__ == "__main__":
    main()
