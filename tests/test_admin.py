"""`chatroom-admin` on a live server's data directory: a roster of 40, password resets,
roles and bans that the running server obeys, transcripts in every format, and a backup
taken during a broadcast flood, restored into a server that serves every message."""

import asyncio
import contextlib
import csv
import hashlib
import io
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from chatroom.common.amounts import amount
from chatroom.common.errors import ChatError
from tests.conftest import PASSWORD, WAIT, RunningServer

# chatroom-admin works on a SQLite data directory (see docs/deploy.md for PostgreSQL).
pytestmark = pytest.mark.sqlite_only

FAST = {"message_rate": 1e6, "message_burst": 10**6}
SUBCOMMANDS = ["create-users", "reset-password", "set-role", "ban", "unban", "list-users",
               "rooms", "audit", "export", "backup", "restore", "stats"]  # fmt: skip


async def spawn_admin(data_dir: Path, *args: str) -> asyncio.subprocess.Process:
    """Start `chatroom-admin --data-dir DATA_DIR ARGS` as its own process."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatroom.server.admin.cli", "--data-dir", str(data_dir), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def admin(data_dir: Path, *args: str, ok: bool = True) -> tuple[int, str, str]:
    """Run `chatroom-admin --data-dir DATA_DIR ARGS` and wait for it to end."""
    process = await spawn_admin(data_dir, *args)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    code = process.returncode
    assert code is not None
    if ok:
        assert code == 0, err.decode()
    return code, out.decode(), err.decode()


async def test_a_roster_of_40_becomes_accounts_on_a_running_server(
    server: RunningServer, tmp_path: Path
) -> None:
    roster = tmp_path / "class.csv"
    lines = ["username,password,role,display_name", "teacher,generate,moderator,Ms Lee"]
    lines += [f"student{n:02},generate,user,Student {n}" for n in range(40)]
    roster.write_text("\n".join(lines) + "\n")
    handed = tmp_path / "passwords.csv"
    _, out, _ = await admin(
        server.data_dir, "create-users", str(roster), "-o", str(handed), "--bcrypt-cost", "4"
    )
    assert "41 users created, 0 already there" in out
    passwords = dict(csv.reader(io.StringIO(handed.read_text())))
    assert len(passwords) == 42 and passwords["username"] == "password"
    assert handed.stat().st_mode & 0o777 == 0o600
    for name in ("student00", "student39", "teacher"):
        client = await server.connect()
        await client.login(name, passwords[name])
    profile = await client.request("profile_get", username="student07")
    assert profile["display_name"] == "Student 7" and profile["role"] == "user"
    assert (await client.request("audit"))["entries"]  # the teacher is a moderator
    # Again, with one more student: only they are made, and no password changes.
    roster.write_text("\n".join([*lines, "late,latecomer1,user,"]) + "\n")
    _, out, _ = await admin(server.data_dir, "create-users", str(roster), "--bcrypt-cost", "4")
    assert "1 user created, 41 already there" in out and "late" not in out
    again = await server.connect()
    await again.login("student00", passwords["student00"])
    _, listed, _ = await admin(server.data_dir, "list-users")
    assert "42 users" in listed and "Ms Lee" in listed


async def test_a_handout_file_that_cannot_be_written_is_refused_before_any_account(
    server: RunningServer, tmp_path: Path
) -> None:
    """Generated passwords exist only in the handout: an account made before finding it
    cannot be written would be one nobody can log in to."""
    roster = tmp_path / "class.csv"
    roster.write_text(
        "username,password,role,display_name\npupil1,generate,user,\npupil2,generate,user,\n"
    )
    taken = tmp_path / "passwords.csv"
    taken.write_text("someone else's\n")
    code, _, err = await admin(
        server.data_dir, "create-users", str(roster), "-o", str(taken), ok=False
    )
    assert (code, err.strip()) == (2, f"chatroom-admin: error: cannot write {taken}: file exists")
    assert taken.read_text() == "someone else's\n"
    _, listed, _ = await admin(server.data_dir, "list-users")
    assert "pupil1" not in listed and "pupil2" not in listed
    # Into a new file, then again with nobody new: no empty handout is left behind.
    handed = tmp_path / "new.csv"
    _, out, _ = await admin(
        server.data_dir, "create-users", str(roster), "-o", str(handed), "--bcrypt-cost", "4"
    )
    assert f"the 2 generated passwords are in {handed}" in out
    assert sorted(dict(csv.reader(io.StringIO(handed.read_text())))) == [
        "pupil1", "pupil2", "username"
    ]  # fmt: skip
    again = tmp_path / "again.csv"
    _, out, _ = await admin(server.data_dir, "create-users", str(roster), "-o", str(again))
    assert "0 users created, 2 already there" in out and not again.exists()


def write_roster(path: Path, names: list[str]) -> None:
    rows = [f"{name},generate,user,{name.title()}" for name in names]
    path.write_text("\n".join(["username,password,role,display_name", *rows]) + "\n")


def handed_out(*files: Path) -> list[tuple[str, str]]:
    """The (user, password) rows of handout files, header left out, in order."""
    rows: list[tuple[str, str]] = []
    for file in files:
        if file.exists():
            rows += [(r[0], r[1]) for r in csv.reader(io.StringIO(file.read_text()))][1:]
    return rows


async def listed_users(data_dir: Path) -> set[str]:
    _, out, _ = await admin(data_dir, "list-users")
    return {line.split()[0] for line in out.splitlines()[1:-1]}


async def test_two_runs_at_once_make_each_account_once_and_hand_it_out_once(
    server: RunningServer, tmp_path: Path
) -> None:
    """Two teachers run the same roster at the same time: every account is made by one
    of them, its password handed out by that one only, and it logs in with it."""
    names = [f"pair{n:02}" for n in range(30)]
    roster = tmp_path / "class.csv"
    write_roster(roster, names)
    mine, theirs, shared = (tmp_path / f"{who}.csv" for who in ("mine", "theirs", "shared"))
    runs = await asyncio.gather(
        *(admin(server.data_dir, "create-users", str(roster), "-o", str(out), "--bcrypt-cost",
                "4", ok=False) for out in (mine, theirs, shared, shared))
    )  # fmt: skip
    # Of the two given the same file, one claimed it and the other was refused at once.
    refused = [err.strip() for code, _, err in runs if code == 2]
    assert refused == [f"chatroom-admin: error: cannot write {shared}: file exists"]
    assert all(code in (0, 2) for code, _, _ in runs)
    rows = handed_out(mine, theirs, shared)
    assert sorted(name for name, _ in rows) == names  # each once, whoever made it
    assert names == sorted((await listed_users(server.data_dir)) & set(names))
    for name, password in rows[::7]:
        client = await server.connect()
        await client.login(name, password)


async def test_a_run_killed_half_way_has_handed_out_every_account_it_made(
    server: RunningServer, tmp_path: Path
) -> None:
    """The handout is written as each account is made: a run killed half-way leaves the
    passwords of what it made, and a second run makes the rest."""
    names = [f"kill{n:03}" for n in range(300)]
    roster = tmp_path / "class.csv"
    write_roster(roster, names)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatroom.server.admin.cli", "--data-dir", str(server.data_dir),
        "create-users", str(roster), "-o", str(first), "--bcrypt-cost", "4",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    async with asyncio.timeout(60):  # until it has handed out a few
        while len(handed_out(first)) < 3:
            await asyncio.sleep(0.01)
    process.kill()
    await process.wait()
    made = (await listed_users(server.data_dir)) & set(names)
    before = handed_out(first)
    assert 3 <= len(made) < len(names), "killed after the first accounts, before the last"
    # Every account made has its password in the file, but the one that may have been
    # made between its commit and its line.
    assert {name for name, _ in before} <= made and len(made - {n for n, _ in before}) <= 1
    for name, password in before[:3]:
        client = await server.connect()
        await client.login(name, password)
    _, out, _ = await admin(
        server.data_dir, "create-users", str(roster), "-o", str(second), "--bcrypt-cost", "4"
    )
    assert f"{amount(len(names) - len(made), 'user')} created, {len(made)} already there" in out
    after = handed_out(second)
    assert not {name for name, _ in after} & made
    assert len(before) + len(after) >= len(names) - 1
    client = await server.connect()
    await client.login(*after[-1])


async def test_ctrl_c_half_way_is_one_line_and_hands_out_what_was_made(
    server: RunningServer, tmp_path: Path
) -> None:
    """Ctrl+C while the roster's passwords are hashed (bcrypt's real cost: seconds): one
    line, and the handout holds exactly the accounts made (none: it is removed)."""
    names = [f"intr{n:02}" for n in range(40)]
    roster = tmp_path / "class.csv"
    write_roster(roster, names)
    handout = tmp_path / "passwords.csv"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from chatroom.utils.programs import admin; admin()",
        "--data-dir", str(server.data_dir), "create-users", str(roster), "-o", str(handout),
        "--bcrypt-cost", "12", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(30):  # the handout claimed: the store opens, then hashing
        while not handout.exists():
            await asyncio.sleep(0.01)
        process.send_signal(signal.SIGINT)
        _, err = await process.communicate()
    assert (process.returncode, err.decode()) == (1, "chatroom-admin: interrupted\n")
    made = (await listed_users(server.data_dir)) & set(names)
    assert made == {name for name, _ in handed_out(handout)}
    assert handout.exists() == bool(made)


async def test_resets_roles_and_bans_take_effect_on_the_running_server(
    server: RunningServer,
) -> None:
    """What chatroom-admin changes, the running server obeys: a reset or a ban sends the
    user's open sessions away within a second (they stayed until they disconnected); a
    session logged in with the new password stays."""
    before_reset = await server.login("pupil")
    other = await server.login("other")
    _, out, _ = await admin(server.data_dir, "reset-password", "PUPIL", "--bcrypt-cost", "4")
    new_password = out.split(": ")[1].split()[0]
    pupil = await server.connect()
    with pytest.raises(ChatError) as error:
        await pupil.login("pupil", PASSWORD)
    assert error.value.code == "bad_credentials"
    await pupil.login("pupil", new_password)  # at once: before the server reads of it
    await asyncio.wait_for(before_reset.wait_closed(), WAIT)
    assert before_reset.closed_reason == "password_changed"
    with pytest.raises(ChatError) as error:
        await pupil.request("kick", username="other")
    assert error.value.code == "forbidden"
    await admin(server.data_dir, "set-role", "pupil", "moderator")
    assert (await pupil.request("kick", username="other"))["removed"] is True
    other = await server.login("other")
    await admin(server.data_dir, "ban", "other", "--reason", "left a mess")
    await asyncio.wait_for(other.wait_closed(), WAIT)
    assert other.closed_reason == "banned"
    banned = await server.connect()
    with pytest.raises(ChatError) as error:
        await banned.login("other", PASSWORD)
    assert error.value.code == "banned" and error.value.extra["until"] is None
    await admin(server.data_dir, "unban", "other")
    await banned.login("other", PASSWORD)
    assert await pupil.request("ping") == {}  # in with the new password: still in
    assert await banned.request("ping") == {}  # in after the unban: still in
    _, log, _ = await admin(server.data_dir, "audit")
    actions = [line.split()[2] for line in log.splitlines()[1:]]
    assert actions == ["reset_password", "set_role", "kick", "ban", "unban"]


async def test_bans_and_resets_made_at_once_each_send_their_user_away(
    server: RunningServer,
) -> None:
    """Ten chatroom-admin processes at once, five bans and five resets, each of a user
    with two sessions: the server reads them together and sends every session away."""
    names = [f"pupil{n}" for n in range(10)]
    sessions = {name: [await server.login(name) for _ in "ab"] for name in names}
    commands = [
        ("ban", name) if n % 2 else ("reset-password", name, "--bcrypt-cost", "4")
        for n, name in enumerate(names)
    ]
    runs = [await spawn_admin(server.data_dir, *command) for command in commands]
    ended = await asyncio.wait_for(asyncio.gather(*(run.communicate() for run in runs)), 60)
    assert [run.returncode for run in runs] == [0] * 10, ended
    for n, name in enumerate(names):
        for client in sessions[name]:
            await asyncio.wait_for(client.wait_closed(), WAIT)
            assert client.closed_reason == ("banned" if n % 2 else "password_changed")


async def seed_room(server: RunningServer) -> list[int]:
    """A room with a few messages, a file and a deleted message; their mids."""
    alice = await server.login("alice", features=["rooms"])
    bob = await server.login("bob", features=["rooms"])
    await alice.request("room_create", room="biology")
    await bob.request("room_join", room="biology")
    mids = [(await alice.broadcast("Cells <b>divide</b> & grow", room="biology")).mid]
    mids.append((await bob.broadcast("mitosis, then «meiosis»", room="biology")).mid)
    oops = await bob.broadcast("the answer to question 3 is B", room="biology")
    await bob.request("delete", mid=oops.mid)
    data = b"x" * 3000
    reply = await alice.request(
        "file_put", room="biology", name="notes.txt", size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )  # fmt: skip
    done = await alice.request("file_chunk", fid=reply["fid"], offset=0, data=data)
    await alice.private("bob", "not in the room's transcript")
    return [*mids, oops.mid, done["mid"]]


async def test_a_room_is_exported_in_each_format(server: RunningServer, tmp_path: Path) -> None:
    mids = await seed_room(server)
    _, out, _ = await admin(server.data_dir, "export", "--room", "Biology", "--format", "json")
    exported = json.loads(out)
    assert exported["transcript"] == "chatroom transcript: biology"
    messages = exported["messages"]
    assert [m["mid"] for m in messages] == mids
    assert messages[0]["text"] == "Cells <b>divide</b> & grow" and messages[0]["from"] == "alice"
    assert messages[2]["deleted"] is True and messages[2]["text"] == ""
    assert messages[3]["file"] == {"name": "notes.txt", "size": 3000}

    _, out, _ = await admin(server.data_dir, "export", "--room", "biology", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [int(r["mid"]) for r in rows] == mids
    assert rows[1]["text"] == "mitosis, then «meiosis»" and rows[3]["file_size"] == "3000"

    page = tmp_path / "biology.html"
    _, _, err = await admin(
        server.data_dir, "export", "--room", "biology", "--format", "html", "-o", str(page)
    )
    assert "4 messages written" in err
    assert page.stat().st_mode & 0o777 == 0o600  # a new file, its owner's alone
    html = page.read_text()
    assert html.startswith("<!doctype html>") and "@media print" in html
    assert "Cells &lt;b&gt;divide&lt;/b&gt; &amp; grow" in html and "<b>divide" not in html
    assert "notes.txt (3.0 KB)" in html and "(deleted)" in html

    _, out, _ = await admin(server.data_dir, "export", "--room", "biology", "--format", "txt")
    body = out.splitlines()[2:]
    assert len(body) == 4 and "alice: Cells <b>divide</b> & grow" in body[0]
    assert "question 3" not in out and "not in the room" not in out
    _, out, _ = await admin(server.data_dir, "export", "--user", "bob", "--since", "2000-01-01")
    assert "not in the room's transcript" in out and "Cells" not in out


async def test_an_action_reads_as_one_in_the_transcripts_for_people(server: RunningServer) -> None:
    """`/me waves` is `* alice waves` in the txt and html transcripts, as in the TUI
    (protocol.md's actions); json and csv keep the text as stored."""
    alice = await server.login("alice")
    await alice.broadcast("/me waves at <everyone>")
    await alice.broadcast("/me")  # nothing done: plain text
    _, out, _ = await admin(server.data_dir, "export", "--room", "lobby")
    assert [line.split(") ", 1)[1] for line in out.splitlines()[2:]] == [
        "* alice waves at <everyone>",
        "alice: /me",
    ]
    _, out, _ = await admin(server.data_dir, "export", "--room", "lobby", "--format", "html")
    assert '<td class="text">* alice waves at &lt;everyone&gt;</td>' in out
    _, out, _ = await admin(server.data_dir, "export", "--room", "lobby", "--format", "json")
    assert json.loads(out)["messages"][0]["text"] == "/me waves at <everyone>"


async def test_names_not_utf8_are_a_usage_error(server: RunningServer) -> None:
    """A byte that is not UTF-8 in a name (0xff, kept by Python as U+DCFF) was a
    traceback from SQLite; it is one line, exit 2."""
    for args in [("export", "--room", "a\udcffb"), ("set-role", "a\udcffb", "moderator")]:
        code, _, err = await admin(server.data_dir, *args, ok=False)
        assert code == 2 and err.strip().endswith("not UTF-8 text: 'a\\udcffb'"), err


async def test_what_students_wrote_cannot_act_on_the_teachers_terminal(
    server: RunningServer,
) -> None:
    """An escape sequence in a message (colours, the window's title) or a C1 control in a
    display name shows as its escape in the txt transcript, the listings, and any format
    printed to a terminal; a file or a pipe of json or csv keeps the text as stored."""
    bob = await server.login("bob")
    evil = "red \x1b[31mtext\x1b]0;pwned\x07"
    await bob.broadcast(evil)
    await bob.request("profile_set", display_name="Bob \x9b31m")
    _, out, _ = await admin(server.data_dir, "export", "--room", "lobby")
    assert out.splitlines()[-1].endswith("bob: red \\x1b[31mtext\\x1b]0;pwned\\x07")
    _, out, _ = await admin(server.data_dir, "export", "--room", "lobby", "--format", "csv")
    assert evil in out  # data, for a program
    _, out, _ = await admin(server.data_dir, "list-users")
    assert "Bob \\x9b31m" in out and "\x9b" not in out
    leader, follower = os.openpty()  # the teacher's terminal
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatroom.server.admin.cli", "--data-dir", str(server.data_dir),
        "export", "--room", "lobby", "--format", "csv", stdout=follower,
    )  # fmt: skip
    os.close(follower)
    assert await asyncio.wait_for(process.wait(), 60) == 0
    shown = b""
    with contextlib.suppress(OSError):  # (EIO once the writer has gone)
        while chunk := os.read(leader, 65536):
            shown += chunk
    os.close(leader)
    assert b"\x1b" not in shown and b"red \\x1b[31mtext" in shown


async def test_rooms_are_listed_with_owner_members_messages_and_access(
    server: RunningServer,
) -> None:
    alice = await server.login("alice", features=["rooms"])
    await alice.request("room_create", room="plans", topic="who does what", public=False)
    await alice.request("room_create", room="games")
    await alice.broadcast("first", room="games")
    await alice.broadcast("second", room="games")
    _, out, _ = await admin(server.data_dir, "rooms")
    assert [line.split() for line in out.splitlines()] == [
        ["ROOM", "OWNER", "MEMBERS", "MESSAGES", "ACCESS", "TOPIC"],
        ["games", "alice", "1", "2", "public"],
        ["lobby", "1", "0", "public"],
        ["plans", "alice", "1", "0", "invite-only", "who", "does", "what"],
    ]


async def test_a_backup_during_a_flood_restores_every_acknowledged_message(
    make_server: Any, tmp_path: Path
) -> None:
    server: RunningServer = await make_server(**FAST)
    senders = [await server.login(f"sender{n}") for n in range(4)]
    before: set[int] = set()
    for n in range(200):
        before.add((await senders[n % 4].broadcast(f"early {n}")).mid)
    acked: set[int] = set(before)
    stop = asyncio.Event()

    async def flood(client: Any, n: int) -> None:
        count = 0
        while not stop.is_set():
            acked.add((await client.broadcast(f"flood {n}.{count}")).mid)
            count += 1

    floods = [asyncio.create_task(flood(client, n)) for n, client in enumerate(senders)]
    backup = tmp_path / "backup"
    _, out, _ = await admin(server.data_dir, "backup", str(backup))
    stop.set()
    await asyncio.gather(*floods)
    assert "backed up" in out
    assert backup.stat().st_mode & 0o777 == 0o700  # every message is in it
    assert (backup / "files").stat().st_mode & 0o777 == 0o700
    during = len(acked) - len(before)
    assert during > 0, "the flood sent nothing while the backup ran"
    restored = tmp_path / "restored"
    await admin(restored, "restore", str(backup))
    assert restored.stat().st_mode & 0o777 == 0o700
    assert (restored / "files").stat().st_mode & 0o777 == 0o700
    copy = RunningServer(restored, server.limits)
    await copy.start()
    try:
        reader = await copy.login("sender0")
        served: set[int] = set()
        before_mid = None
        while True:
            query: dict[str, Any] = {"room": "lobby", "limit": 200}
            if before_mid is not None:
                query["before"] = before_mid
            page = await reader.request("history", **query)
            served.update(m["mid"] for m in page["messages"])
            if not page["more"]:
                break
            before_mid = page["messages"][0]["mid"]
        assert before <= served, "a message acknowledged before the backup is missing"
        assert served <= acked, "the backup holds a message that was never acknowledged"
    finally:
        for client in copy.clients:
            await client.close()
        await copy.stop()


async def test_backups_started_at_once_into_one_folder_leave_one_backup(
    server: RunningServer, tmp_path: Path
) -> None:
    """Each backup checks that its folder is empty, then claims it; six started at once
    into one new folder: one makes the backup, the others are told in one line."""
    await server.register("pupil1")
    folder = tmp_path / "backup"
    backups = [await spawn_admin(server.data_dir, "backup", str(folder)) for _ in range(6)]
    ended = await asyncio.wait_for(asyncio.gather(*(b.communicate() for b in backups)), 60)
    refused = f"chatroom-admin: error: {folder} is not an empty folder: give a new one\n"
    assert sorted(b.returncode for b in backups) == [0] + [2] * 5, ended
    assert sorted(err.decode() for _, err in ended) == [""] + [refused] * 5
    assert await listed_users(folder) >= {"pupil1"}


async def stored_file(server: RunningServer, size: int) -> Path:
    """Where the server keeps a file just sent, made `size` bytes long (a backup copies
    what is there)."""
    alice = await server.login("alice")
    data = b"notes"
    reply = await alice.request(
        "file_put", name="notes.txt", size=len(data), sha256=hashlib.sha256(data).hexdigest()
    )
    await alice.request("file_chunk", fid=reply["fid"], offset=0, data=data)
    stored = server.data_dir / "files" / str(reply["fid"])
    with stored.open("r+b") as file:
        file.truncate(size)
    return stored


async def test_a_backup_killed_half_way_is_refused_by_restore(
    server: RunningServer, tmp_path: Path
) -> None:
    """The backup's database gets its name once its files are copied: a backup killed
    while copying them (its database whole, a file half there) was restored as if whole."""
    stored = await stored_file(server, 256 << 20)
    folder = tmp_path / "backup"
    backup = await spawn_admin(server.data_dir, "backup", str(folder))
    async with asyncio.timeout(60):
        while not (folder / "files" / stored.name).exists():  # copying it now
            assert backup.returncode is None, "the backup ended before it could be killed"
            await asyncio.sleep(0.001)
    backup.send_signal(signal.SIGKILL)
    assert await asyncio.wait_for(backup.wait(), 60) == -signal.SIGKILL
    code, _, err = await admin(tmp_path / "data", "restore", str(folder), ok=False)
    says = f"{folder} holds a backup that did not finish: make a new one"
    assert (code, err) == (2, f"chatroom-admin: error: {says}\n")
    assert not (tmp_path / "data" / "chatroom.db").exists()


async def test_a_backup_that_fails_leaves_its_folder_empty(
    server: RunningServer, tmp_path: Path
) -> None:
    """A file the backup cannot copy: one line, nothing left in the folder, and the same
    folder takes the backup once the file is mended."""
    stored = await stored_file(server, 5)
    stored.unlink()
    stored.mkdir()  # not a file any more: copying it fails
    folder = tmp_path / "backup"
    code, _, err = await admin(server.data_dir, "backup", str(folder), ok=False)
    assert code == 2 and len(err.splitlines()) == 1
    assert f"cannot back up {server.data_dir} to {folder}: is a directory" in err
    assert list(folder.iterdir()) == []
    stored.rmdir()
    stored.write_bytes(b"notes")
    _, out, _ = await admin(server.data_dir, "backup", str(folder))
    assert "backed up" in out and "1 file " in out
    assert (folder / "files" / stored.name).read_bytes() == b"notes"
    assert await listed_users(folder) >= {"alice"}


async def test_a_restore_that_fails_leaves_the_data_as_it_was(tmp_path: Path) -> None:
    """The backup is copied and checked beside the data first: a damaged one changes
    nothing (the data used to be moved aside and the damaged copy put in its place, a
    server then refusing to start), and what a killed restore left is cleared."""
    data_dir, roster = tmp_path / "data", tmp_path / "class.csv"
    write_roster(roster, ["pupil1", "pupil2"])
    await admin(data_dir, "create-users", str(roster), "--bcrypt-cost", "4")
    database = (data_dir / "chatroom.db").read_bytes()
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "chatroom.db").write_bytes(b"not a database, " * 512)
    (data_dir / ".restoring").mkdir()  # as a restore killed half-way leaves it
    code, _, err = await admin(data_dir, "restore", str(damaged), "--replace", ok=False)
    assert (code, err) == (2, f"chatroom-admin: error: cannot restore {damaged} into "
                              f"{data_dir}: file is not a database\n")  # fmt: skip
    assert (data_dir / "chatroom.db").read_bytes() == database
    assert sorted(p.name for p in data_dir.iterdir()) == ["chatroom.db", "lock"]
    assert {"pupil1", "pupil2"} <= await listed_users(data_dir)
    # A sound backup goes in, and the data it replaces is kept aside.
    await admin(data_dir, "backup", str(tmp_path / "sound"))
    _, out, _ = await admin(data_dir, "restore", str(tmp_path / "sound"), "--replace")
    (aside,) = data_dir.glob("replaced-*")
    assert f"what was there is in {aside}" in out and (aside / "chatroom.db").exists()
    assert not (data_dir / ".restoring").exists()


async def test_restores_in_the_same_second_or_at_once_each_keep_what_they_replace(
    tmp_path: Path,
) -> None:
    """A second `restore --replace` in the same second was refused ("file exists": the
    folder for what it replaced was named for the second) and said the first one's folder
    held its data. Two at once: one has the data dir, the other is told so, or they take
    turns; either way every replaced database is kept, and the data is the backup's."""
    data_dir, roster = tmp_path / "data", tmp_path / "class.csv"
    write_roster(roster, ["pupil1"])
    await admin(data_dir, "create-users", str(roster), "--bcrypt-cost", "4")
    backup = tmp_path / "backup"
    await admin(data_dir, "backup", str(backup))
    (backup / "files" / "1").write_bytes(os.urandom(64 << 20))  # a restore takes a while
    now = time.time()  # each second this restore may run in is taken already
    taken = {time.strftime("replaced-%Y%m%d-%H%M%S", time.localtime(now + s)) for s in range(60)}
    for name in taken:
        (data_dir / name).mkdir()
    _, out, _ = await admin(data_dir, "restore", str(backup), "--replace")
    (aside,) = (p for p in data_dir.glob("replaced-*") if p.name not in taken)
    assert aside.name.rsplit("-", 1)[0] in taken and aside.name.endswith("-2")
    assert out.endswith(f"what was there is in {aside}\n") and (aside / "chatroom.db").exists()
    assert not any(any((data_dir / name).iterdir()) for name in taken)

    restores = [await spawn_admin(data_dir, "restore", str(backup), "--replace") for _ in "ab"]
    ended = await asyncio.wait_for(asyncio.gather(*(r.communicate() for r in restores)), 60)
    codes = [r.returncode for r in restores]
    in_use = f"chatroom-admin: error: data directory {data_dir} is in use by another "
    for code, (_, err) in zip(codes, ended, strict=True):
        assert code == 0 or (code == 2 and err.decode().startswith(in_use)), err.decode()
        assert len(err.splitlines()) == code // 2
    kept = [p for p in data_dir.glob("replaced-*") if p.name not in taken]
    assert codes.count(0) >= 1 and len(kept) == 1 + codes.count(0)
    assert all((p / "chatroom.db").exists() for p in kept)
    assert not (data_dir / ".restoring").exists()
    assert (data_dir / "files" / "1").stat().st_size == 64 << 20
    assert await listed_users(data_dir) >= {"pupil1"}


async def test_restore_refuses_a_running_servers_data_dir(
    server: RunningServer, tmp_path: Path
) -> None:
    await server.login("alice")
    await admin(server.data_dir, "backup", str(tmp_path / "b"))
    code, _, err = await admin(
        server.data_dir, "restore", str(tmp_path / "b"), "--replace", ok=False
    )
    in_use = f"{server.data_dir} is in use by chatroom-server (pid {os.getpid()})"
    assert code == 2 and in_use in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["list-users"], "there is no chatroom database"),
        (["export", "--room", "lobby", "--format", "pdf"], "invalid choice: 'pdf'"),
        (["export", "--room", "lobby", "--user", "x"], "not allowed with argument"),
        (["set-role", "alice", "king"], "invalid choice: 'king'"),
        (["reset-password", "alice", "--password", "short"], "at least 8 characters"),
        (["create-users", "missing.csv"], "cannot read missing.csv: no such file or directory"),
        (["create-users", "latin1.csv"], "latin1.csv is not UTF-8 text (byte 0xe9 at 37): save it"),
        (["restore", "nowhere"], "holds no chatroom backup"),
        (["audit", "--limit", "0"], "argument --limit: must be a whole number from 1 to"),
        (["stats", "--days", "0"], "argument --days: must be a whole number from 1 to 36500"),
        # Each was a traceback (an int too large for SQLite, a time_t overflow):
        (["audit", "--limit", str(2**64)], "argument --limit: must be a whole number from 1"),
        (["ban", "alice", "--seconds", str(2**64)], "--seconds: must be a whole number from 1"),
        (["ban", "alice", "--seconds", "-5"], "argument --seconds: must be a whole number from"),
        (["backup", "/etc/hostname"], "/etc/hostname is not an empty folder: give a new one"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
async def test_mistakes_are_one_line_and_exit_code_2(
    server: RunningServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    data_dir = server.data_dir if args and args[0] != "list-users" else tmp_path / "empty"
    monkeypatch.chdir(tmp_path)  # where the relative names above are
    # A spreadsheet's CSV in Windows-1252: "jérôme" is not UTF-8.
    Path("latin1.csv").write_bytes(b"username,password,role,display_name\nj\xe9r\xf4me,,user,\n")
    await server.login("alice")
    code, _, err = await admin(data_dir, *args, ok=False)
    assert code == 2 and len(err.splitlines()) == 1 and message in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "args", [["list-users"], ["stats"], ["rooms"], ["export", "--room", "lobby"],
             ["set-role", "alice", "admin"], ["reset-password", "alice"]],
)  # fmt: skip
async def test_a_damaged_database_is_one_line_and_exit_code_2(
    tmp_path: Path, args: list[str]
) -> None:
    """The reports read the file themselves, the changes through the store: either way,
    a database that is not one any more is a line saying so, not a traceback."""
    (tmp_path / "chatroom.db").write_bytes(b"not a database, " * 512)
    code, _, err = await admin(tmp_path, *args, ok=False)
    assert (code, err) == (2, f"chatroom-admin: error: cannot use the database in {tmp_path}: "
                              "file is not a database; restore it from a backup\n")  # fmt: skip


async def test_a_data_dir_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    roster = tmp_path / "class.csv"
    write_roster(roster, ["pupil1"])
    for data_dir, says in [
        (roster, f"data directory {roster} is a file, not a directory"),
        (roster / "data", f"cannot make data directory {roster / 'data'}: not a directory"),
    ]:
        code, _, err = await admin(data_dir, "create-users", str(roster), ok=False)
        assert (code, err) == (2, f"chatroom-admin: error: {says}\n")


async def test_unknown_names_are_one_line(server: RunningServer) -> None:
    await server.login("alice")
    for args in (["set-role", "nobody", "admin"], ["export", "--user", "nobody"]):
        code, _, err = await admin(server.data_dir, *args, ok=False)
        assert code == 2 and "there is no user 'nobody'" in err
    code, _, err = await admin(server.data_dir, "export", "--room", "nowhere", ok=False)
    assert code == 2 and "there is no room 'nowhere'" in err


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
async def test_every_subcommand_has_help(tmp_path: Path, subcommand: str) -> None:
    _, out, _ = await admin(tmp_path, subcommand, "--help")
    assert out.startswith(f"usage: chatroom-admin {subcommand}")
