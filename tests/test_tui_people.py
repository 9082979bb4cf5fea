"""The TUI's people and moderation features, driven through Pilot against a real server:
statuses in the sidebar, contact requests, the profile screen, blocking, moderation, a
new password."""

import asyncio
import time

from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static

from chatroom.client.tui.app import ChatApp
from chatroom.client.tui.screens.chat import ChatScreen
from chatroom.client.tui.screens.password import PasswordScreen
from chatroom.client.tui.screens.profile import ProfileScreen
from chatroom.common.messages import (
    ContactPush,
    DeletedPush,
    MessagePush,
    ModeratedPush,
    PresencePush,
)
from tests.conftest import PASSWORD, WAIT, RunningServer, next_push
from tests.test_tui import chatting, log_in, log_text, make_app, send, text_of, until

NEW = "a new passphrase"


def sidebar_row(app: object, list_id: str, name: str) -> str:
    users = app.screen.query_one(list_id, OptionList)  # type: ignore[attr-defined]
    for option in users.options:
        if option.id == name:
            return str(option.prompt)
    return ""


def form_error(app: object) -> str:
    return str(app.screen.query_one(".form-error", Static).render())  # type: ignore[attr-defined]


async def test_statuses_show_next_to_names_and_follow_presence(server: RunningServer) -> None:
    await server.register("alice")
    bob = await server.login("bob")
    carol = await server.login("carol")
    await carol.request("status_set", status="away", status_text="lunch")  # before the login
    app = make_app(server.port)
    async with app.run_test(size=(100, 30)) as pilot:
        await log_in(pilot, "alice")
        await until(pilot, lambda: "● bob" in sidebar_row(app, "#users", "bob"), "bob online")
        assert sidebar_row(app, "#users", "carol") == "◐ carol lunch"
        await bob.request("status_set", status="busy", status_text="in a meeting")
        await until(
            pilot,
            lambda: sidebar_row(app, "#users", "bob") == "⊘ bob in a meeting",
            "bob's status",
        )
        await send(pilot, "/status away lunch")
        await until(pilot, lambda: "◐ alice (you)" in sidebar_row(app, "#users", "alice"), "mine")
        assert await next_push(bob, PresencePush, username="alice", status="away")


async def test_a_contact_request_is_shown_and_accepted_from_the_tui(
    server: RunningServer,
) -> None:
    await server.register("alice")
    bob = await server.login("bob")
    app = make_app(server.port)
    async with app.run_test(size=(100, 30)) as pilot:
        await log_in(pilot, "alice")
        await bob.request("contact_add", username="alice")
        await until(pilot, lambda: "bob asks to be your contact" in log_text(app), "the request")
        assert sidebar_row(app, "#contacts", "bob") == "? bob"
        await send(pilot, "/accept bob")
        assert await next_push(bob, ContactPush) == ContactPush("alice", "accepted")
        await until(pilot, lambda: sidebar_row(app, "#contacts", "bob") == "● bob", "contact")
        title = app.screen.query_one("#contacts-title", Static)
        assert title.display and text_of(title) == "Contacts (1)"


async def test_the_profile_screen_saves_a_display_name_and_status(server: RunningServer) -> None:
    await server.register("alice")
    app = make_app(server.port)
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "alice")
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, ProfileScreen), "the profile screen")
        screen = app.screen
        await until(pilot, lambda: screen.loaded, "the profile from the server")
        field = screen.query_one("#display-name", Input)
        field.value = "Alice A."
        screen.query_one("#status-text", Input).value = "reading"
        field.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ChatScreen), "back in the chat")
        reader = await server.login("reader")
        profile = await reader.request("profile_get", username="alice")
        assert profile["display_name"] == "Alice A." and profile["status_text"] == "reading"
        saved = "Profile saved: shown as Alice A.; online (reading)."
        await until(pilot, lambda: saved in log_text(app), "the line that says so")
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, ProfileScreen), "the screen again")
        await pilot.press("escape")  # closed, not saved: nothing said
        await until(pilot, lambda: isinstance(app.screen, ChatScreen), "back again")
        assert log_text(app).count("Profile saved") == 1


async def test_a_blocked_users_room_messages_are_hidden(server: RunningServer) -> None:
    await server.register("alice")
    mallory = await server.login("mallory")
    carol = await server.login("carol")
    app = make_app(server.port)
    async with app.run_test(size=(100, 30)) as pilot:
        await log_in(pilot, "alice")
        await send(pilot, "/block mallory")
        await until(pilot, lambda: "Blocked mallory." in log_text(app), "the block")
        await mallory.broadcast("spam spam spam")
        await carol.broadcast("a real message")
        await until(pilot, lambda: "a real message" in log_text(app), "carol's message")
        assert "spam" not in log_text(app)
        dropped = await mallory.request("private", to="alice", text="psst")
        assert dropped["mid"] == 0


async def test_moderation_from_the_tui_and_what_the_pupil_sees(server: RunningServer) -> None:
    await server.register("teacher")
    assert server.server is not None
    await server.server.services.store.set_role("teacher", "moderator", by="test")
    pupil = await server.login("pupil")
    app = make_app(server.port)
    async with app.run_test(size=(100, 30)) as pilot:
        await log_in(pilot, "teacher")
        await send(pilot, "/mute pupil 60 too loud")
        told = await next_push(pupil, ModeratedPush)
        assert (told.action, told.reason) == ("mute", "too loud")
        await until(pilot, lambda: "Muted pupil." in log_text(app), "the reply")
        await send(pilot, "/announce quiz tomorrow")
        heard = await next_push(pupil, MessagePush, announcement=True)
        assert heard.text == "quiz tomorrow"
        await send(pilot, "/mute pupil")
        await until(pilot, lambda: "Usage: /mute NAME SECONDS" in log_text(app), "the usage")
        assert app.screen.query_one("#entry", Input).value == "/mute pupil"  # kept


async def test_a_deleted_message_goes_from_the_log_and_delete_alone_takes_the_last(
    server: RunningServer,
) -> None:
    """A message deleted while on screen shows as deleted where it was (no one keeps
    reading it); `/delete` alone deletes the user's own newest message in the tab."""
    bob = await server.login("bob")
    await server.register("alice")
    app = make_app(server.port)
    async with chatting(app, size=(100, 30)) as (pilot, screen):
        sent = await bob.request("broadcast", text="my password is hunter2")
        await until(pilot, lambda: "hunter2" in log_text(app), "bob's message")
        await bob.request("delete", mid=sent["mid"])
        await until(pilot, lambda: "bob deleted their message" in log_text(app), "the news")
        assert "hunter2" not in log_text(app)
        assert "bob deleted a message" in log_text(app)  # in its place
        await send(pilot, "first of mine")
        await send(pilot, "tpyo")
        typo = await next_push(bob, MessagePush, text="tpyo")
        await send(pilot, "/delete")
        gone = await next_push(bob, DeletedPush)
        assert (gone.mid, gone.by) == (typo.mid, "alice")
        await until(pilot, lambda: "Your last message here is deleted." in log_text(app), "ok")
        assert "tpyo" not in log_text(app) and "first of mine" in log_text(app)
        assert "alice deleted a message" in log_text(app)  # in its place
        await send(pilot, "/delete")  # the one before, now
        assert (await next_push(bob, DeletedPush)).by == "alice"
        await until(pilot, lambda: "first of mine" not in log_text(app), "the second")
        await send(pilot, "/delete")
        await until(pilot, lambda: "Nothing you sent is shown here" in log_text(app), "none")
        assert screen.tabs.active == "room"
        assert screen.query_one(Input).value == "/delete"  # kept, for a MID to be added
        assert "alice deleted their message" not in log_text(app)  # the reply said so


async def test_a_private_message_deleted_shows_so_in_the_chat_with_its_author(
    server: RunningServer,
) -> None:
    """Deleted private messages are shown deleted in the chat with the other person:
    bob's in bob's tab, and alice's own (sent to bob) in bob's tab too."""
    bob = await server.login("bob")
    await server.register("alice")
    app = make_app(server.port)
    async with chatting(app, size=(100, 30)) as (pilot, screen):
        sent = await bob.request("private", to="alice", text="my pin is 4321")
        await until(pilot, lambda: "bob" in screen.partners.values(), "bob's tab")
        screen.tabs.active = dm = screen.tabs.private_pane("bob")
        await until(pilot, lambda: "4321" in log_text(app, dm), "bob's message")
        await send(pilot, "/msg bob mine is 8765")
        await until(pilot, lambda: "8765" in log_text(app, dm), "alice's message")
        await bob.request("delete", mid=sent["mid"])
        await until(pilot, lambda: "bob deleted their message" in log_text(app, dm), "news")
        assert "4321" not in log_text(app, dm) and "bob deleted a message" in log_text(app, dm)
        await send(pilot, "/delete")
        await until(pilot, lambda: "8765" not in log_text(app, dm), "alice's own, gone")
        assert "alice deleted a message" in log_text(app, dm)
        assert "bob deleted" not in log_text(app) and list(screen.partners.values()) == ["bob"]


async def test_a_refusal_says_until_when(server: RunningServer) -> None:
    """A muted user's message is refused with when the mute ends, as the push said."""
    teacher = await server.login("teacher")
    assert server.server is not None
    await server.server.services.store.set_role("teacher", "moderator", by="test")
    await server.register("alice")
    app = make_app(server.port)
    async with chatting(app, size=(100, 30)) as (pilot, _):
        muted = await teacher.request("mute", username="alice", seconds=600)
        until = time.strftime("%H:%M", time.localtime(muted["until"]))
        await until_seen(pilot, app, f"teacher muted you until {until}.")
        await send(pilot, "let me speak")
        await until_seen(pilot, app, f"a moderator silenced you (until {until}); it is back")


async def until_seen(pilot: Pilot, app: ChatApp, text: str) -> None:
    await until(pilot, lambda: text in log_text(app).replace("\n", " "), repr(text))


async def test_a_new_password_from_the_form_logs_the_other_sessions_out(
    server: RunningServer,
) -> None:
    await server.register("alice")
    other = await server.login("alice")
    app = make_app(server.port)
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "alice")
        chat = app.screen
        assert isinstance(chat, ChatScreen)
        await send(pilot, "/password")
        await until(pilot, lambda: isinstance(app.screen, PasswordScreen), "the form")
        form = app.screen
        for field, text in [("#password", "not it"), ("#new", NEW), ("#confirm", NEW)]:
            form.query_one(field, Input).value = text
        await pilot.click(".form-submit")
        await until(pilot, lambda: "Wrong password" in form_error(app), "the refusal")
        assert form.query_one("#password", Input).value == ""  # cleared for another try
        form.query_one("#password", Input).value = PASSWORD
        form.query_one("#confirm", Input).value = NEW + "?"
        await pilot.click(".form-submit")
        assert form_error(app) == "The passwords do not match."
        form.query_one("#confirm", Input).value = NEW
        await pilot.click(".form-submit")
        await until(pilot, lambda: "Password changed" in log_text(app), "the change")
        await asyncio.wait_for(other.wait_closed(), WAIT)
        assert other.closed_reason == "password_changed"
        # The session logs in again with the new token (with nothing else that works).
        chat.session.password = "no longer the password"
        port = server.port
        await server.stop()
        await until(pilot, lambda: "Disconnected" in log_text(app), "the server to stop")
        await server.restart_on(port)
        await until(pilot, lambda: "Reconnected." in log_text(app), "reconnection")
    again = await server.connect()
    assert (await again.login("alice", NEW)).username == "alice"


async def test_a_session_whose_password_was_changed_elsewhere_stops_and_says_why(
    server: RunningServer,
) -> None:
    await server.register("alice")
    app = make_app(server.port)
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "alice")
        elsewhere = await server.login("alice")
        await elsewhere.request("password_set", password=PASSWORD, new_password=NEW)
        said = "Cannot log in again: your password was changed; log in with the new one"
        await until(pilot, lambda: said in " ".join(log_text(app).split()), "the end")
        assert "Reconnected" not in log_text(app)
        # Who was online then is not shown as online now.
        assert text_of(app.screen.query_one("#sidebar-title")) == "Online (0)"
