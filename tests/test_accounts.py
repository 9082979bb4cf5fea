"""Registering and logging in, over a real socket."""

import pytest

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.limits import PROTOCOL_VERSION
from tests.conftest import PASSWORD, RunningServer


async def test_hello_reports_version_and_limits(server: RunningServer) -> None:
    client = await server.connect()
    reply = await client.hello()
    assert reply["version"] == PROTOCOL_VERSION
    assert reply["server"].startswith("chatroom/")
    assert reply["limits"]["max_frame"] == server.limits.max_frame
    assert reply["limits"]["max_text"] == server.limits.max_text


async def test_hello_with_another_version_is_refused(server: RunningServer) -> None:
    client = await server.connect()
    with pytest.raises(ChatError) as caught:
        await client.request("hello", version=99, client="test")
    assert caught.value.code == ErrorCode.UNSUPPORTED_VERSION


async def test_register_then_login_returns_the_registered_spelling(server: RunningServer) -> None:
    client = await server.connect()
    assert await client.register("Alice", PASSWORD) == "Alice"
    reply = await client.login("alice", PASSWORD)
    assert reply.username == "Alice"
    assert reply.online == ["Alice"]


async def test_usernames_are_unique_ignoring_case(server: RunningServer) -> None:
    client = await server.connect()
    await client.register("Alice", PASSWORD)
    with pytest.raises(ChatError) as caught:
        await client.register("ALICE", PASSWORD)
    assert caught.value.code == ErrorCode.USERNAME_TAKEN


@pytest.mark.parametrize(
    "look_alike",
    ["\u0430lice", "al\u0456ce", "\u0251lice"],  # Cyrillic a, Cyrillic i, Latin alpha
)
async def test_a_name_that_looks_like_a_registered_one_is_taken(
    server: RunningServer, look_alike: str
) -> None:
    client = await server.connect()
    await client.register("alice", PASSWORD)
    with pytest.raises(ChatError) as caught:
        await client.register(look_alike, PASSWORD)
    assert caught.value.code == ErrorCode.USERNAME_TAKEN
    assert await client.register("alicia", PASSWORD) == "alicia"


@pytest.mark.parametrize(
    ("username", "password", "code"),
    [
        ("al", PASSWORD, ErrorCode.INVALID_USERNAME),
        ("bob smith", PASSWORD, ErrorCode.INVALID_USERNAME),
        ("x" * 33, PASSWORD, ErrorCode.INVALID_USERNAME),
        ("bob", "short", ErrorCode.WEAK_PASSWORD),
        ("bob", "1234567", ErrorCode.WEAK_PASSWORD),
    ],
)
async def test_register_refuses_bad_names_and_weak_passwords(
    server: RunningServer, username: str, password: str, code: ErrorCode
) -> None:
    client = await server.connect()
    with pytest.raises(ChatError) as caught:
        await client.register(username, password)
    assert caught.value.code == code
    await client.ping()


async def test_names_in_any_script_can_register(server: RunningServer) -> None:
    client = await server.connect()
    assert await client.register("Zoë_δ.名前", PASSWORD) == "Zoë_δ.名前"
    assert (await client.login("zoë_Δ.名前", PASSWORD)).username == "Zoë_δ.名前"


async def test_long_passwords_are_not_truncated(server: RunningServer) -> None:
    long_password = "p" * 100  # bcrypt alone would only look at the first 72 bytes
    await server.register("carol", long_password)
    client = await server.connect()
    with pytest.raises(ChatError) as caught:
        await client.login("carol", "p" * 72 + "q" * 28)
    assert caught.value.code == ErrorCode.BAD_CREDENTIALS
    assert (await client.login("carol", long_password)).username == "carol"


@pytest.mark.parametrize(
    ("username", "password"), [("dave", "wrong password"), ("nobody", PASSWORD)]
)
async def test_wrong_credentials_are_refused_alike(
    server: RunningServer, username: str, password: str
) -> None:
    await server.register("dave")
    client = await server.connect()
    with pytest.raises(ChatError) as caught:
        await client.login(username, password)
    assert caught.value.code == ErrorCode.BAD_CREDENTIALS
    assert caught.value.message == "wrong username or password"


async def test_passwords_are_stored_only_as_bcrypt_hashes(server: RunningServer) -> None:
    await server.register("erin", "my secret password")
    files = b"".join(path.read_bytes() for path in server.data_dir.glob("chatroom.db*"))
    assert b"my secret password" not in files
    ((stored,),) = await server.rows("SELECT password_hash FROM users WHERE username = 'erin'")
    assert stored.startswith(b"$2b$04$")  # bcrypt, at the cost this server was given


async def test_requests_before_login_are_refused(server: RunningServer) -> None:
    client = await server.connect()
    for kind, data in [("users", {}), ("broadcast", {"text": "hi"}), ("ack", {"upto": 1})]:
        with pytest.raises(ChatError) as caught:
            await client.request(kind, **data)
        assert caught.value.code == ErrorCode.NOT_LOGGED_IN
    await client.ping()  # allowed before login


async def test_a_second_login_on_one_connection_is_refused(server: RunningServer) -> None:
    client = await server.login("frank")
    with pytest.raises(ChatError) as caught:
        await client.login("frank", PASSWORD)
    assert caught.value.code == ErrorCode.ALREADY_LOGGED_IN
    with pytest.raises(ChatError) as caught:
        await client.register("frank2", PASSWORD)
    assert caught.value.code == ErrorCode.ALREADY_LOGGED_IN


async def test_logout_replies_then_says_bye_and_closes(server: RunningServer) -> None:
    client = await server.login("gina")
    await client.logout()
    assert client.closed.is_set()
    assert client.closed_reason == "logout"


async def test_look_alike_names_cannot_impersonate(server: RunningServer) -> None:
    await server.register("alice")
    client = await server.connect()
    for look_alike in ("\uff41lice", "ALICE", "Alice"):  # fullwidth a; other cases
        with pytest.raises(ChatError) as caught:
            await client.register(look_alike, PASSWORD)
        assert caught.value.code == ErrorCode.USERNAME_TAKEN
    assert (await client.login("\uff41LICE", PASSWORD)).username == "alice"
