"""A server that gets the fields of its frames wrong, as a student's written in an
afternoon will: the client library says what is wrong in one line and carries on, and
the TUI shows that line; nothing ends in a traceback. The frames come from a real server
on loopback, rewritten on their way by the relay as a careless server would send them."""

import asyncio
import contextlib
import json
import os
import struct
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import msgpack
import pytest
from textual.widgets import Input, Static

from chatroom.client import connection
from chatroom.client.api import ChatClient
from chatroom.client.connection import FRAME_MOST, ConnectionClosed
from chatroom.client.replies import ServerLimits
from chatroom.client.tui.app import ChatApp
from chatroom.client.tui.screens.menu import MenuScreen
from chatroom.common.errors import ChatError
from chatroom.common.messages import MessagePush
from chatroom.common.readable import Unreadable, UnreadablePush
from chatroom.common.trace import TO_SERVER
from tests.conftest import PASSWORD, WAIT, MinimalServer, RunningServer, next_push
from tests.relay import Relay
from tests.test_client_cli import chatroom
from tests.test_tui import chatting, log_text, make_app, send, text_of, until

FIRST_VERSION_REQUESTS = {
    *("hello", "register", "login", "resume", "users", "broadcast", "private", "ack", "ping"),
    *("logout", "file_put", "file_chunk", "file_get", "file_info"),
}
"""The requests of docs/protocol.md's sections 4 to 6: what a first-version server knows."""


@contextlib.asynccontextmanager
async def behind(
    server: RunningServer, mangle: Callable[[dict[str, Any]], list[Any]]
) -> AsyncIterator[Relay]:
    """`server` behind a relay that sends, in place of each of its frames, what `mangle`
    makes of it: a careless server."""
    async with Relay(server.port) as relay:
        relay.mangle = mangle
        yield relay


def is_hello_reply(envelope: dict[str, Any]) -> bool:
    """Whether `envelope` is our server's answer to `hello` (the reply with `limits`)."""
    data = envelope.get("data")
    return isinstance(data, dict) and "limits" in data


def careless_messages(envelope: dict[str, Any]) -> list[Any]:
    """A `message` push as a careless server sends it, its mistake named by its text."""
    data = envelope.get("data") or {}
    if envelope.get("type") != "message":
        return [envelope]
    match data.get("text"):
        case "no ts":
            return [{"type": "message", "data": {k: v for k, v in data.items() if k != "ts"}}]
        case "a number":
            return [{"type": "message", "data": data | {"text": 7}}]
        case "a flag for a mid":
            return [{"type": "message", "data": data | {"mid": True}}]
        case "not a map":
            return [{"type": "message", "data": "oops"}]
    return [envelope]


async def test_a_push_it_cannot_read_is_handed_on_as_such_and_the_next_ones_arrive(
    server: RunningServer,
) -> None:
    sender = await server.login("sender")
    await server.register("reader")
    async with behind(server, careless_messages) as relay:
        reader = await ChatClient.connect("127.0.0.1", relay.port)
        await reader.login("reader", PASSWORD)
        for text in ("no ts", "a number", "a flag for a mid", "not a map", "fine"):
            await sender.broadcast(text)
        async with asyncio.timeout(WAIT):
            unreadable = [await next_push(reader, UnreadablePush) for _ in range(4)]
            assert [push.reason for push in unreadable] == [
                "a message push has no 'ts'",
                "a message push has 'text' 7, not str",
                "a message push has 'mid' True, not int",
                "a message push is 'oops', not a map",
            ]
            assert (await next_push(reader, MessagePush)).text == "fine"
            await reader.ping()  # the connection goes on
        await reader.close()


def careless_replies(envelope: dict[str, Any]) -> list[Any]:
    """Replies as a careless server sends them: the login's list of who is online as a
    number, the limits' idle timeout as a word, `users` answered with a list for a map,
    and an `ok` whose id is a list, for no request."""
    data = envelope.get("data")
    if isinstance(data, dict) and "resume_token" in data:
        return [envelope | {"data": data | {"online": 5}}]
    if is_hello_reply(envelope):
        return [envelope | {"data": data | {"limits": data["limits"] | {"idle_timeout": "soon"}}}]
    if isinstance(data, dict) and "online" in data:  # the reply to `users`
        return [envelope | {"id": [envelope["id"]]}, envelope | {"data": ["alice"]}]
    return [envelope]


async def test_a_reply_it_cannot_read_is_an_error_naming_the_field(
    server: RunningServer,
) -> None:
    await server.register("reader")
    async with behind(server, careless_replies) as relay:
        reader = await ChatClient.connect("127.0.0.1", relay.port)
        with pytest.raises(Unreadable) as hello:
            await reader.hello()
        assert (
            hello.value.message == "the hello reply's limits has 'idle_timeout' 'soon', not float"
        )
        with pytest.raises(Unreadable) as login:
            await reader.login("reader", PASSWORD)
        assert login.value.message == "the login reply has 'online' 5, not list[str]"
        assert login.value.code == "unreadable"
        await reader.request("logout")  # the server has it logged in, whatever it sent
        await reader.close()

        reader = await ChatClient.connect("127.0.0.1", relay.port)
        await reader.request("login", username="reader", password=PASSWORD)
        with pytest.raises(Unreadable) as users:
            await reader.users()
        assert users.value.message == "a reply's data is ['alice'], not a map"
        await reader.ping()
        await reader.close()


async def test_the_tui_shows_a_push_it_cannot_read_as_a_line_and_goes_on(
    server: RunningServer,
) -> None:
    await server.register("alice")
    sender = await server.login("sender")
    async with (
        behind(server, careless_messages) as relay,
        chatting(make_app(relay.port), "alice") as (pilot, _),
    ):
        await sender.broadcast("no ts")
        await sender.broadcast("fine")
        await until(pilot, lambda: "sender: fine" in log_text(pilot.app), "the next message")
        shown = " ".join(log_text(pilot.app).split())  # as one line, not wrapped at 80
    assert "Left out what the server sent: a message push has no 'ts'." in shown
    assert shown.index("no 'ts'") < shown.index("sender: fine")


def without_hello(envelope: dict[str, Any]) -> list[Any]:
    """A server of the first version, which has no `hello` (it is optional)."""
    if is_hello_reply(envelope):
        refusal = {"code": "unknown_type", "message": "unknown request type 'hello'"}
        return [{"type": "error", "id": envelope["id"], "data": refusal}]
    return [envelope]


async def test_a_server_without_hello_is_spoken_to_with_the_default_limits(
    server: RunningServer,
) -> None:
    """The TUI's menu said hello, and ended in a traceback when a server had none."""
    await server.register("alice")
    async with behind(server, without_hello) as relay:
        client = await ChatClient.connect("127.0.0.1", relay.port)
        assert await client.hello() == {}
        assert (client.limits, client.enabled) == (ServerLimits(), frozenset())
        await client.close()
        async with chatting(make_app(relay.port), "alice") as (pilot, screen):
            screen.query_one("#entry", Input).value = "hello, first version"
            await pilot.press("enter")
            await until(pilot, lambda: "alice: hello, first version" in log_text(pilot.app), "it")


async def test_the_menu_says_in_a_line_what_a_careless_hello_got_wrong(
    server: RunningServer,
) -> None:
    async with behind(server, careless_replies) as relay:
        app = make_app(relay.port)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MenuScreen), "the menu")
            notice = app.screen.query_one("#menu-notice", Static)
            await until(pilot, lambda: "Press R" in text_of(notice), "the notice")
            assert " ".join(text_of(notice).split()) == (
                f"127.0.0.1:{relay.port}: the hello reply's limits has "
                "'idle_timeout' 'soon', not float. Press R to retry."
            )


def without_a_hello_reply(envelope: dict[str, Any]) -> list[Any]:
    """A server that ignores a request it does not know: `hello`, say."""
    return [] if is_hello_reply(envelope) else [envelope]


async def test_a_server_that_ignores_hello_is_said_not_to_answer(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request a server does not know may go unanswered: the menu said "Connecting..."
    for ever, and the login form did nothing."""
    monkeypatch.setattr(connection, "HELLO_WAIT", 0.5)
    async with behind(server, without_a_hello_reply) as relay:
        client = await ChatClient.connect("127.0.0.1", relay.port)
        with pytest.raises(ChatError) as unanswered:
            await client.hello(wait=0.1)
        assert (unanswered.value.code, unanswered.value.message) == (
            "no_answer", "no answer to hello in 0.1 s"
        )  # fmt: skip
        await client.ping()  # the connection is as it was
        await client.close()
        app = make_app(relay.port)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MenuScreen), "the menu")
            notice = app.screen.query_one("#menu-notice", Static)
            await until(pilot, lambda: "Press R" in text_of(notice), "the notice")
            assert " ".join(text_of(notice).split()) == (
                f"127.0.0.1:{relay.port}: no answer to hello in 0.5 s. Press R to retry."
            )


async def test_a_length_written_the_wrong_way_round_closes_saying_so(
    server: RunningServer,
) -> None:
    """The client took frames of up to 4 GiB from a server, and waited for the rest of
    the one a little-endian length claimed, saying nothing."""
    claimed: list[int] = []

    def little_endian_hello(envelope: dict[str, Any]) -> list[Any]:
        if not is_hello_reply(envelope):
            return [envelope]
        body = msgpack.packb(envelope)
        claimed.append(int.from_bytes(struct.pack("<I", len(body)), "big"))
        return [struct.pack("<I", len(body)) + body]

    async with behind(server, little_endian_hello) as relay:
        client = await ChatClient.connect("127.0.0.1", relay.port)
        with pytest.raises(ConnectionClosed) as closed:
            await client.hello()
        assert claimed[0] > FRAME_MOST
        assert closed.value.reason == (
            f"frame_too_large: frame of {claimed[0]} bytes is over the limit of {FRAME_MOST}"
        )
        await client.close()


def with_every_id_0(envelope: dict[str, Any]) -> list[Any]:
    """A server that does not send back each request's `id`."""
    return [envelope | {"id": 0}] if "id" in envelope else [envelope]


async def test_a_server_that_does_not_send_back_the_id_is_told_so(
    server: RunningServer,
) -> None:
    async with behind(server, with_every_id_0) as relay:
        client = await ChatClient.connect("127.0.0.1", relay.port)
        with pytest.raises(ChatError) as unanswered:
            await client.hello(wait=3)  # the stray reply comes in milliseconds
        assert unanswered.value.message == (
            "no answer to hello in 3 s; a reply came with id 0, which no request had"
        )
        await client.close()


async def test_the_tui_chats_on_a_server_of_the_first_version(
    minimal_server: MinimalServer, tmp_path: Path
) -> None:
    """The lessons' minimal server keeps no history. The TUI asked
    it for each tab's history, was refused, and then showed no message at all: not the
    mail replayed at login, not what came live, not its own; and it saved no file. It
    sends such a server only the requests of the first version (a student reading the
    trace sees none refused): no `read`, `contacts` or `blocks`."""
    port = await minimal_server()
    bob = await ChatClient.connect("127.0.0.1", port)
    for name in ("alice", "bob"):
        await bob.register(name, PASSWORD)
    await bob.login("bob", PASSWORD)
    await bob.broadcast("while alice was away")
    await bob.private("alice", "a private word")
    notes = tmp_path / "notes.bin"
    notes.write_bytes(os.urandom(200_000))
    await bob.send_file(notes, "alice")
    trace: list[str] = []
    app = ChatApp("127.0.0.1", port, downloads=tmp_path / "downloads", trace=trace.append)
    async with chatting(app, "alice") as (pilot, screen):
        await until(pilot, lambda: "bob: while alice was away" in log_text(app), "mail")
        contacts = screen.query_one("#contacts-title", Static)
        await until(pilot, lambda: not contacts.display, "no contacts shown: none are kept")
        await bob.broadcast("live from bob")
        await until(pilot, lambda: "bob: live from bob" in log_text(app), "the push")
        await send(pilot, "hi from alice")
        await until(pilot, lambda: "alice: hi from alice" in log_text(app), "the echo")
        shown = log_text(app)
        screen.tabs.active = private = screen.tabs.private_pane("bob")
        await until(pilot, lambda: "bob: a private word" in log_text(app, private), "it")
        await until(pilot, lambda: "notes.bin" in log_text(app, private), "the file")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "Saved" in log_text(app, private), "the file saved")
    assert "History not loaded" not in shown
    assert (tmp_path / "downloads" / "notes.bin").read_bytes() == notes.read_bytes()
    frames = [(f" {TO_SERVER} " in line, json.loads(line.split(" | ", 2)[2])) for line in trace]
    asked = {frame["type"] for to_server, frame in frames if to_server}
    assert {"login", "broadcast", "ack", "file_get"} <= asked <= FIRST_VERSION_REQUESTS
    assert "error" not in {frame["type"] for to_server, frame in frames if not to_server}
    await bob.close()


def features_not_a_list(envelope: dict[str, Any]) -> list[Any]:
    """A hello reply whose `features` is a number."""
    if is_hello_reply(envelope):
        envelope["data"]["features"] = 5
    return [envelope]


async def test_a_command_says_in_a_line_that_the_hello_features_are_unreadable(
    server: RunningServer,
) -> None:
    """`history` looked for "history" in them: a number was a traceback."""
    await server.register("alice")
    async with behind(server, features_not_a_list) as relay:
        code, out, err = await chatroom("--port", str(relay.port), "--user", "alice", "history")
    assert (code, out) == (1, "")
    assert err.strip() == "chatroom: unreadable: the hello reply's features is 5, not a list"
