"""`chatroom send`, `chatroom send-file` and `chatroom get-file`: messages and file transfer
from the command line."""

import asyncio
import os
import sys
from pathlib import Path

from chatroom.client.api import ChatClient
from chatroom.common.messages import FilePush, MessagePush
from tests.conftest import PASSWORD, WAIT, MinimalServer, RunningServer, next_push


async def chatroom(
    *args: str, password: str = PASSWORD, piped: bytes | None = None
) -> tuple[int, str, str]:
    """Run `chatroom ARGS` with `piped` on its standard input (else none): exit code,
    standard output and standard error."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chatroom.client",
        *args,
        stdin=asyncio.subprocess.DEVNULL if piped is None else asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=os.environ | {"CHATROOM_PASSWORD": password},
    )
    out, err = await asyncio.wait_for(process.communicate(piped), WAIT * 2)
    return process.returncode, out.decode(), err.decode()


async def test_send_file_then_get_file(server: RunningServer, tmp_path: Path) -> None:
    await server.register("alice")
    bob = await server.login("bob")
    source = tmp_path / "slides.pdf"
    source.write_bytes(os.urandom(300_000))
    port = str(server.port)

    code, out, err = await chatroom(
        "--port", port, "send-file", "--user", "alice", "--to", "bob", str(source)
    )
    assert code == 0, err
    push = await next_push(bob, FilePush)
    assert out.strip().splitlines()[-1] == f"sent slides.pdf to bob as file {push.fid}"

    dest = tmp_path / "in"
    code, out, err = await chatroom(
        "--port", port, "get-file", "--user", "bob", "--dest", str(dest), str(push.fid)
    )
    assert code == 0, err
    assert out.strip().splitlines()[-1] == f"saved {dest / 'slides.pdf'}"
    assert (dest / "slides.pdf").read_bytes() == source.read_bytes()


async def test_send_file_into_a_room(server: RunningServer, tmp_path: Path) -> None:
    alice = await server.login("alice", features=["rooms"])
    await alice.request("room_create", room="art")
    bob = await server.login("bob", features=["rooms"])
    await bob.request("room_join", room="art")
    source = tmp_path / "sketch.png"
    source.write_bytes(os.urandom(1000))
    port = str(server.port)
    code, out, err = await chatroom(
        "--port", port, "send-file", "--user", "alice", "--room", "art", str(source)
    )
    assert code == 0, err
    push = await next_push(bob, FilePush)
    assert (push.name, push.room, push.to) == ("sketch.png", "art", None)
    assert out.strip().splitlines()[-1] == f"sent sketch.png to #art as file {push.fid}"
    code, _, err = await chatroom(
        "--port", port, "send-file", "--user", "bob", "--room", "nowhere", str(source)
    )
    assert (code, err.strip()) == (1, "chatroom: no_such_room: there is no room 'nowhere'")
    code, _, err = await chatroom(
        "--port", port, "send-file", "--to", "bob", "--room", "art", str(source)
    )
    assert code == 2 and "not allowed with argument" in err


async def test_send_a_message_from_the_command_line_or_a_pipe(server: RunningServer) -> None:
    alice = await server.login("alice", features=["rooms"])
    await alice.request("room_create", room="ops")
    bob = await server.login("bob", features=["rooms"])
    await bob.request("room_join", room="ops")
    port = str(server.port)
    code, out, err = await chatroom("--port", port, "send", "--user", "bob", "hello", "all")
    assert code == 0, err
    said = await next_push(alice, MessagePush, sender="bob")
    assert (said.text, said.room, said.to) == ("hello all", "lobby", None)
    assert out.strip() == f"sent to the group as message {said.mid}"
    code, out, err = await chatroom(
        "--port", port, "send", "--user", "bob", "--room", "ops", piped=b"deploy done\nall green\n"
    )  # as from a script: `make deploy | chatroom send --room ops`
    assert code == 0, err
    said = await next_push(alice, MessagePush, room="ops")
    assert said.text == "deploy done\nall green"  # the last line break is the pipe's
    assert out.strip() == f"sent to #ops as message {said.mid}"
    code, out, _ = await chatroom("--port", port, "send", "--user", "bob", "--to", "alice", "hi")
    said = await next_push(alice, MessagePush, to="alice")
    assert (code, said.sender, said.text) == (0, "bob", "hi")
    assert out.strip() == f"sent to alice as message {said.mid}"
    failures = [
        (("send", "--user", "bob"), 2, "chatroom: send: the message is empty"),
        (("send", "--room", "ops", "hi", "--to", "alice"), 2, "not allowed with argument"),
        (("send", "--user", "bob", "--room", "nowhere", "hi"), 1, "there is no room 'nowhere'"),
        (("send", "--user", "bob", "--to", "nobody", "hi"), 1, "there is no user 'nobody'"),
        (("send", "--user", "bob", "x" * 5000), 1, "chatroom: text_too_long:"),
    ]
    for args, status, expected in failures:
        code, _, err = await chatroom("--port", port, *args)
        assert code == status and len(err.strip().splitlines()) == 1 and expected in err, err
    code, _, err = await chatroom("--port", port, "send", piped=b"who am I?")
    assert code == 2 and "give --user" in err


async def test_arguments_not_utf8_are_one_line_and_a_pipe_of_them_is_sent(
    server: RunningServer,
) -> None:
    """Bytes that are not UTF-8 in an argument (Python keeps 0xff as the lone surrogate
    U+DCFF) were a traceback when sent; in a pipe they are data, sent as U+FFFD."""
    bob = await server.login("bob")
    await server.register("alice")
    port, bad = str(server.port), "a\udcffb"
    for args in [
        ("search", "--user", "alice", bad),
        ("history", "--user", bad),
        ("send", "--user", "alice", "--room", bad, "hi"),
        ("send", "--user", "alice", bad),
    ]:
        code, _, err = await chatroom("--port", port, *args)
        assert code == 2 and err.strip().endswith("not UTF-8 text: 'a\\udcffb'"), err
    code, _, err = await chatroom("--port", port, "history", "--user", "alice", password=bad)
    assert (code, err.strip()) == (2, "chatroom: the password is not UTF-8 text")  # not shown
    code, _, err = await chatroom("--port", port, "send", "--user", "alice", piped=b"caf\xe9!\n")
    assert code == 0, err
    assert (await next_push(bob, MessagePush, sender="alice")).text == "caf\ufffd!"
    most = server.limits.max_text
    code, _, err = await chatroom(
        "--port", port, "send", "--user", "alice", piped=b"x" * (most + 1)
    )  # refused before it is sent: a frame that large, the server hangs up on
    said = f"the message has {most + 1:,} characters; the server takes {most:,}"
    assert (code, err.strip()) == (1, f"chatroom: text_too_long: {said}")


async def test_file_commands_fail_in_one_line(server: RunningServer, tmp_path: Path) -> None:
    await server.register("alice")
    port = str(server.port)
    cases = [
        (("send-file", "--user", "alice", str(tmp_path / "missing.txt")), "is not a file"),
        (
            ("get-file", "--user", "alice", "12345"),
            "chatroom: no_such_file: there is no file 12345",
        ),
    ]
    for args, expected in cases:
        code, _, err = await chatroom("--port", port, *args)
        assert code == 1
        assert len(err.strip().splitlines()) == 1 and expected in err, err
    code, _, err = await chatroom(
        "--port", port, "get-file", "--user", "alice", "1", password="nope"
    )
    assert (code, err.strip()) == (1, "chatroom: bad_credentials: wrong username or password")
    code, _, err = await chatroom("--port", "1", "get-file", "--user", "alice", "1")
    assert (code, err.strip()) == (1, "chatroom: 127.0.0.1:1: connection refused")
    # A folder here that cannot be used is this machine's problem, not the server's.
    notes = tmp_path / "notes.txt"
    notes.write_text("the notes")
    code, out, err = await chatroom("--port", port, "send-file", "--user", "alice", str(notes))
    assert code == 0, err
    fid = out.split()[-1]
    code, _, err = await chatroom("--port", port, "get-file", "--user", "alice", fid,
                                  "--dest", str(notes))  # fmt: skip
    assert (code, err.splitlines()[-1]) == (1, f"chatroom: cannot save into {notes}: file exists")


async def test_connection_flags_may_follow_the_command(
    server: RunningServer, tmp_path: Path
) -> None:
    await server.register("alice")
    bob = await server.login("bob")
    source = tmp_path / "note.txt"
    source.write_text("after the command")
    code, _, err = await chatroom(
        "send-file", "--user", "alice", "--to", "bob", "--port", str(server.port), str(source)
    )
    assert code == 0, err
    assert (await next_push(bob, FilePush)).name == "note.txt"
    code, _, err = await chatroom(
        "--port", "1", "history", "--port", str(server.port), "--user", "bob"
    )
    assert code == 0, err  # the flag after the command wins


async def test_the_user_is_the_flag_else_the_variable_else_the_apps_last_login(
    server: RunningServer, tmp_path: Path
) -> None:
    for name in ("alice", "carol", "dave"):
        await server.register(name)
    bob = await server.login("bob")
    settings = tmp_path / "settings.toml"
    settings.write_text('username = "alice"\n')  # the app logged in as alice last
    port = str(server.port)

    async def sent_as(*args: str, variable: str | None = None) -> str:
        environ = os.environ | {"CHATROOM_SETTINGS": str(settings), "CHATROOM_PASSWORD": PASSWORD}
        environ.pop("CHATROOM_USER", None)
        if variable is not None:
            environ["CHATROOM_USER"] = variable
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "chatroom.client", "--port", port, *args, "send", "--to", "bob",
            "hi", stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=environ,
            stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        _, err = await asyncio.wait_for(process.communicate(), WAIT * 2)
        assert process.returncode == 0, err
        return (await next_push(bob, MessagePush)).sender

    assert await sent_as() == "alice"
    assert await sent_as(variable="carol") == "carol"
    assert await sent_as("--user", "dave", variable="carol") == "dave"  # before the command
    code, _, err = await chatroom("--user", "nobody", "history", "--port", port, "--user", "bob")
    assert code == 0, err  # the flag after the command wins


async def test_several_servers_are_tried_in_turn(server: RunningServer) -> None:
    await server.register("alice")
    code, _, err = await chatroom(
        "--host", f"127.0.0.1:1,127.0.0.1:{server.port}", "history", "--user", "alice"
    )
    assert code == 0, err  # the first refused, the second answered
    code, _, err = await chatroom("--host", "127.0.0.1:1,127.0.0.1:2", "history", "--user", "a")
    assert (code, err.strip()) == (1, "chatroom: 127.0.0.1:1, 127.0.0.1:2: connection refused")
    code, _, err = await chatroom("--host", "a:1,b:port", "history")
    assert code == 2
    expected = "'b:port': give HOST or HOST:PORT, the port from 1 to 65535"
    assert err.strip().splitlines()[-1] == f"chatroom: error: argument --host: {expected}"
    code, _, err = await chatroom("get-file", "--user", "a", str(2**64))
    said = f"argument FID: must be a whole number from 1 to {2**63 - 1}, not {2**64}"
    assert (code, err) == (2, f"chatroom get-file: error: {said}\n")
    code, _, err = await chatroom("--port", "70000", "history")  # not wrapped to 4464
    assert (code, err) == (
        2,
        "chatroom: error: argument --port: must be a whole number from 1 to 65535, not 70000\n",
    )


async def test_help_shows_where_the_client_connects_by_default() -> None:
    code, out, _ = await chatroom("--help")
    assert code == 0
    flat = " ".join(out.split())  # argparse wraps the help to the terminal's width
    assert "else 127.0.0.1)" in flat and "else 8888)" in flat


async def test_the_settings_file_says_which_server(server: RunningServer, tmp_path: Path) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text(f'port = {server.port}\nshout = "yes"\n')
    await server.register("bob")
    os.environ["CHATROOM_SETTINGS"] = str(settings)
    try:
        code, _, err = await chatroom("history", "--user", "bob")
    finally:
        del os.environ["CHATROOM_SETTINGS"]
    assert code == 0, err  # the port came from the file
    assert err.strip() == f"chatroom: {settings}: unknown shout"  # and what it got wrong


async def test_the_client_traces_its_frames_and_the_app_needs_a_file(
    server: RunningServer, tmp_path: Path
) -> None:
    await server.register("alice")
    code, _, err = await chatroom(
        "--port", str(server.port), "--trace", "-", "history", "--user", "alice"
    )
    assert code == 0, err
    frames = [line for line in err.splitlines() if " B | " in line]
    assert [line.split(" ")[2] for line in frames][:2] == ["->", "<-"]  # hello, its reply
    assert any('"type": "login"' in line and '"password": "***"' in line for line in frames)
    assert PASSWORD not in err
    code, _, err = await chatroom("--trace", "-")
    assert (code, err.strip()) == (
        2,
        "chatroom: --trace -: the terminal app uses the terminal: give a file",
    )


async def asked(*args: str, stdin: int | bytes, password: str = "") -> tuple[int, str, str]:
    """Run `chatroom ARGS` in a session of its own (no terminal to ask, unless `stdin` is
    one) with $CHATROOM_PASSWORD set to `password`: exit code, standard output and error."""
    environ = {k: v for k, v in os.environ.items() if k != "CHATROOM_USER"}
    environ["CHATROOM_SETTINGS"] = os.devnull  # no username remembered by the app
    piped = stdin if isinstance(stdin, bytes) else None
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chatroom.client",
        *args,
        stdin=asyncio.subprocess.PIPE if piped is not None else stdin,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environ | {"CHATROOM_PASSWORD": password},
        start_new_session=True,
    )
    out, err = await asyncio.wait_for(process.communicate(piped), WAIT * 2)
    return process.returncode, out.decode(), err.decode()


async def test_a_missing_username_or_password_is_asked_for_or_said_in_one_line(
    server: RunningServer,
) -> None:
    await server.register("alice")
    await server.login("bob")
    port = str(server.port)
    # Nobody to ask, and nothing on standard input: said, in one line each.
    code, out, err = await asked("--port", port, "history", stdin=asyncio.subprocess.DEVNULL)
    assert (code, out, err) == (
        2,
        "",
        "chatroom: no username: give --user (or set $CHATROOM_USER)\n",
    )
    code, out, err = await asked(
        "--port", port, "history", "--user", "alice", stdin=asyncio.subprocess.DEVNULL
    )
    expected = "chatroom: no password for alice: set $CHATROOM_PASSWORD, or type it at a terminal\n"
    assert (code, out, err) == (2, "", expected)
    # Without a terminal (cron), standard input gives them: no prompt, no warning.
    code, out, err = await asked(
        "--port", port, "send", "--to", "bob", "hi", stdin=b"alice\n" + PASSWORD.encode() + b"\n"
    )
    assert (code, err) == (0, "") and out.startswith("sent to bob as message ")
    # At a terminal, the prompt is on standard error: the output may be going to a file.
    main, terminal = os.openpty()
    try:
        os.write(main, b"alice\n")
        code, out, err = await asked(
            "--port", port, "history", "--with", "bob", stdin=terminal, password=PASSWORD
        )
    finally:
        os.close(main)
        os.close(terminal)
    assert (code, err) == (0, "Username: ")
    assert out.endswith("alice: hi\n") and "Username" not in out


async def test_what_a_first_version_server_cannot_do_is_said_and_nothing_is_sent(
    minimal_server: MinimalServer,
) -> None:
    """The lessons' minimal server knows no rooms: it took `send --room games` as a
    message to everyone, and the command said "sent to #games". History and search it
    answered with its own `unknown_type`. Each is now said before logging in, and nothing
    is sent."""
    port = str(await minimal_server())
    bob = await ChatClient.connect("127.0.0.1", int(port))
    for name in ("alice", "bob"):
        await bob.register(name, PASSWORD)
    await bob.login("bob", PASSWORD)
    for command, lacks in [
        (["send", "--room", "games", "for the room only"], "rooms"),
        (["history"], "history"),
        (["search", "room"], "search"),
    ]:
        code, out, err = await chatroom("--port", port, "--user", "alice", *command)
        why = f"the server has no {lacks} (it speaks the protocol's first version)"
        assert (code, out, err.strip()) == (1, "", f"chatroom: {why}")
    code, out, _ = await chatroom("--port", port, "--user", "alice", "send", "to everyone")
    assert (code, out.strip()) == (0, "sent to the group as message 1")
    push = await next_push(bob, MessagePush)
    assert (push.sender, push.text) == ("alice", "to everyone")  # the first to arrive
    await bob.close()


async def test_get_file_downloads_from_the_lessons_server(
    minimal_server: MinimalServer, tmp_path: Path
) -> None:
    """The lessons' minimal server had no `file_info` (docs/protocol.md section 6), so
    `get-file` ended at the server's unknown_type; conformance level 4 now asks for it."""
    port = str(await minimal_server())
    bob = await ChatClient.connect("127.0.0.1", int(port))
    for name in ("alice", "bob"):
        await bob.register(name, PASSWORD)
    await bob.login("bob", PASSWORD)
    notes = tmp_path / "notes.bin"
    notes.write_bytes(os.urandom(150_000))
    sent = await bob.send_file(notes, "alice")
    await bob.close()
    fid, folder = str(sent.fid), str(tmp_path / "got")
    code, out, err = await chatroom(
        "--port", port, "--user", "alice", "get-file", fid, "--dest", folder
    )
    assert code == 0, err
    assert out.strip().splitlines()[-1] == f"saved {tmp_path / 'got' / 'notes.bin'}"
    assert (tmp_path / "got" / "notes.bin").read_bytes() == notes.read_bytes()
