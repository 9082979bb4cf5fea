"""`password_set`: a user changes their own password, from a session, given the one in use."""

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.messages import MessagePush
from tests.conftest import PASSWORD, WAIT, RunningServer, next_push, refused
from tests.racing import sessions_racing

NEW = "a new passphrase"


async def logs_in(server: RunningServer, username: str, password: str) -> bool:
    """Whether `password` logs `username` in now (a wrong one counts as a failed login)."""
    client = await server.connect()
    try:
        await client.login(username, password)
        return True
    except ChatError as error:
        assert error.code == ErrorCode.BAD_CREDENTIALS, error
        return False
    finally:
        await client.close()


async def test_a_new_password_ends_the_other_sessions_and_every_old_token(
    server: RunningServer,
) -> None:
    changing = await server.login("alice")
    other = await server.login("alice")
    bob = await server.login("bob")
    old_token = (await (await server.connect()).login("alice", PASSWORD)).resume_token

    reply = await changing.request("password_set", password=PASSWORD, new_password=NEW)
    assert set(reply) == {"resume_token", "resume_expires"}
    await asyncio.wait_for(other.wait_closed(), WAIT)
    assert other.closed_reason == "password_changed"
    assert await changing.request("ping") == {}  # the session that changed it goes on
    await changing.broadcast("still here")
    assert (await next_push(bob, MessagePush)).text == "still here"

    assert not await logs_in(server, "alice", PASSWORD)
    assert await logs_in(server, "alice", NEW)
    assert await refused(await server.connect(), "resume", token=old_token) == "invalid_token"
    resumed = await server.connect()
    assert (await resumed.resume(reply["resume_token"])).username == "alice"
    assert await server.rows("SELECT actor, action, target FROM audit") == [
        ("alice", "password_set", "alice")
    ]


async def test_a_wrong_password_changes_nothing_and_counts_as_a_failed_login(
    make_server: Callable[..., Awaitable[RunningServer]],
) -> None:
    server: RunningServer = await make_server(login_attempts=2)
    alice = await server.login("alice")
    for _ in range(3):  # two free failures, and one that locks the name for a second
        with pytest.raises(ChatError) as wrong:
            await alice.request("password_set", password="not the password", new_password=NEW)
        assert (wrong.value.code, wrong.value.message) == ("bad_credentials", "wrong password")
    # Locked out, as after three failed logins: guessing from a session is no quicker.
    assert await refused(alice, "password_set", password=PASSWORD, new_password=NEW) == (
        "too_many_attempts"
    )
    other = await server.connect()
    assert await refused(other, "login", username="alice", password=PASSWORD) == (
        "too_many_attempts"
    )
    assert await alice.request("ping") == {}  # the session stays


async def test_what_password_set_refuses(server: RunningServer) -> None:
    alice = await server.login("alice")
    assert await refused(alice, "password_set", password=PASSWORD, new_password="short") == (
        "weak_password"
    )
    assert await refused(alice, "password_set", password=PASSWORD) == "bad_request"
    assert await refused(alice, "password_set", password=1, new_password=NEW) == "bad_request"
    stranger = await server.connect()
    assert await refused(stranger, "password_set", password=PASSWORD, new_password=NEW) == (
        "not_logged_in"
    )
    assert await logs_in(server, "alice", PASSWORD)


async def test_of_changes_made_at_once_one_is_made_and_its_session_alone_stays(
    make_server: Callable[..., Awaitable[RunningServer]],
) -> None:
    """Each change checks the password in use, then sets the new one only if the password
    is still the one it checked: six sessions changing it at once, from the same old
    password, leave one new password and one session."""
    server: RunningServer = await make_server(login_attempts=100)
    sessions = [await server.login("alice") for _ in range(6)]

    async def change(n: int) -> str:
        try:
            await sessions[n].request("password_set", password=PASSWORD, new_password=f"{NEW} {n}")
            return "ok"
        except ChatError as error:
            return error.code
        except ConnectionError:
            return "closed"

    outcomes = await asyncio.gather(*(change(n) for n in range(6)))
    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) <= {"ok", "bad_credentials", "too_many_attempts", "closed"}
    made = outcomes.index("ok")
    for n, session in enumerate(sessions):
        if n != made:
            await asyncio.wait_for(session.wait_closed(), WAIT)
            assert session.closed_reason == "password_changed"
    assert await sessions[made].request("ping") == {}
    assert [await logs_in(server, "alice", f"{NEW} {n}") for n in range(6)] == [
        n == made for n in range(6)
    ]


async def test_a_change_whose_client_hangs_up_is_made_and_the_new_password_logs_in(
    server: RunningServer,
) -> None:
    """A request the server has read is carried out, whoever is left to answer."""
    raw = await server.raw_login("alice")
    before = await server.rows("SELECT password_hash FROM users WHERE username = 'alice'")
    change = {"password": PASSWORD, "new_password": NEW}
    await raw.send({"type": "password_set", "id": 2, "data": change})
    raw.close()  # gone before the answer
    async with asyncio.timeout(WAIT):
        while before == await server.rows(
            "SELECT password_hash FROM users WHERE username = 'alice'"
        ):
            await asyncio.sleep(0.01)
    assert await logs_in(server, "alice", NEW)  # back, with the new password
    assert not await logs_in(server, "alice", PASSWORD)


async def test_logins_racing_a_change_keep_no_session_and_no_token_of_the_old_password(
    make_server: Callable[..., Awaitable[RunningServer]],
) -> None:
    """Logins with the old password (and resumes with a token of before), checked just
    before the change is stored, finished just after it: the session they open and the
    token they are given must not outlive the change, or someone who knew the password
    keeps a way in."""
    server: RunningServer = await make_server(login_attempts=10**6)
    owner = await server.login("alice")
    change = {"password": PASSWORD, "new_password": NEW}
    in_with_old = await sessions_racing(
        server, "alice", lambda: owner.request("password_set", **change)
    )
    for client, _ in in_with_old:
        await asyncio.wait_for(client.wait_closed(), WAIT)
        assert client.closed_reason == "password_changed"
    for _, token in in_with_old:
        assert await refused(await server.connect(), "resume", token=token) == "invalid_token"
