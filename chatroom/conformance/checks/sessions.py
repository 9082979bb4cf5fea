"""Level 1: framing, the envelope, hello, register and login (docs/protocol.md 1 to 4)."""

from chatroom.conformance.probe import Unmet, shown
from chatroom.conformance.requirements import PASSWORD, Run, requirement


@requirement(
    1,
    "framing.reply",
    "§1 Framing",
    "a request gets a reply frame: a 4-byte big-endian length, then one msgpack map",
)
async def a_request_gets_a_reply_frame(run: Run) -> None:
    probe = await run.connect()
    reply = await probe.request("ping")
    if reply["type"] != "ok":
        raise Unmet("ok to 'ping' (allowed before login)", shown(reply))


@requirement(1, "envelope.id", "§2 The envelope", "a reply carries its request's id, as is")
async def a_reply_carries_the_id(run: Run) -> None:
    probe = await run.connect()
    for request_id in (7, 2**40 + 3):
        await probe.send({"type": "ping", "id": request_id, "data": {}})
        await probe.reply(request_id)


@requirement(
    1,
    "envelope.no_id",
    "§2 The envelope",
    "a request without an id is answered with id nil; a missing data means {}",
)
async def no_id_no_data(run: Run) -> None:
    probe = await run.connect()
    await probe.send({"type": "ping"})
    reply = await probe.reply(None)
    if reply["type"] != "ok":
        raise Unmet("ok to a 'ping' without id or data", shown(reply))


@requirement(1, "hello.ok", "§4 hello", "hello version 1 is answered with the version and limits")
async def hello(run: Run) -> None:
    probe = await run.connect()
    data = await probe.ok("hello", {"version": 1, "client": "chatroom-conformance"})
    if data.get("version") != 1 or not isinstance(data.get("limits"), dict):
        raise Unmet("ok with version 1 and a limits map", repr(data)[:160])


@requirement(1, "hello.version", "§4 hello", "hello with another version gets unsupported_version")
async def hello_other_version(run: Run) -> None:
    probe = await run.connect()
    await probe.refused("hello", {"version": 2}, "unsupported_version")


@requirement(1, "register.ok", "§4 register", "register creates an account and gives its name")
async def register(run: Run) -> None:
    await run.register("newcomer")


@requirement(1, "register.taken", "§4 register", "registering a taken name gets username_taken")
async def register_taken(run: Run) -> None:
    name = await run.account("alice")
    probe = await run.connect()
    await probe.refused("register", {"username": name, "password": PASSWORD}, "username_taken")


@requirement(
    1, "register.weak_password", "§4 register", "a password under 8 characters gets weak_password"
)
async def register_weak_password(run: Run) -> None:
    probe = await run.connect()
    data = {"username": run.name("weak"), "password": "7chars!"}
    await probe.refused("register", data, "weak_password")


@requirement(
    1,
    "register.invalid_username",
    "§4 register",
    "a name under 3 characters, or with a space, gets invalid_username",
)
async def register_invalid_username(run: Run) -> None:
    probe = await run.connect()
    for name in ("ab", "two words"):
        data = {"username": name, "password": PASSWORD}
        await probe.refused("register", data, "invalid_username", f" for {name!r}")


@requirement(
    1,
    "login.ok",
    "§4 login",
    "login answers the name as registered and an online list with the user in it",
)
async def login(run: Run) -> None:
    name = await run.account("alice")
    _, data = await run.login(name)
    online = data.get("online")
    if data.get("username") != name or not isinstance(online, list) or name not in online:
        raise Unmet(f"ok with username {name!r} and {name!r} in online", repr(data)[:160])
    if not isinstance(data.get("offline"), int):
        raise Unmet("`offline`: how many messages follow", repr(data.get("offline")))


@requirement(
    1,
    "login.bad_credentials",
    "§4 login",
    "a wrong password and an unknown user both get bad_credentials",
)
async def login_bad_credentials(run: Run) -> None:
    name = await run.account("alice")
    probe = await run.connect()
    wrong = {"username": name, "password": PASSWORD + "x"}
    await probe.refused("login", wrong, "bad_credentials", " for a wrong password")
    unknown = {"username": run.name("nobody"), "password": PASSWORD}
    await probe.refused("login", unknown, "bad_credentials", " for an unknown user")


@requirement(
    1,
    "login.already",
    "§10 Error codes",
    "login on a connection that is logged in gets already_logged_in",
)
async def login_twice(run: Run) -> None:
    name = await run.account("alice")
    probe, _ = await run.login(name)
    data = {"username": name, "password": PASSWORD}
    await probe.refused("login", data, "already_logged_in")


@requirement(
    1,
    "session.not_logged_in",
    "§3 A session",
    "before login, users and broadcast get not_logged_in",
)
async def not_logged_in(run: Run) -> None:
    probe = await run.connect()
    await probe.refused("users", {}, "not_logged_in")
    await probe.refused("broadcast", {"text": "hi"}, "not_logged_in")


@requirement(
    1,
    "request.unknown_type",
    "§10 Error codes",
    "an unknown type gets unknown_type, and the connection stays open",
)
async def unknown_type(run: Run) -> None:
    probe = await run.connect()
    await probe.refused("frobnicate", {}, "unknown_type")
    await probe.ok("ping")


@requirement(1, "logout", "§4 logout", "logout is answered ok, then bye 'logout', then closed")
async def logout(run: Run) -> None:
    probe = await run.user("alice")
    await probe.ok("logout")
    bye = await probe.push("bye")
    if bye.get("reason") != "logout":
        raise Unmet("bye with reason 'logout'", repr(bye))
    if not await probe.closed():
        raise Unmet("the server to close the connection", "it stayed open")
