"""Who you are: hello, register, login, resume, logout, and a new password."""

import logging

import chatroom
from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.limits import PROTOCOL_VERSION
from chatroom.common.messages import ByeReason, ContactPush
from chatroom.common.names import username_key
from chatroom.server.auth import new_resume_token, resume_token_hash
from chatroom.server.fields import Fields
from chatroom.server.handlers.peer import Peer, Reply
from chatroom.server.services import Services
from chatroom.server.store.base import Arrival, UserRecord
from chatroom.server.store.moderation import PASSWORD_SET

log = logging.getLogger("chatroom.server")


FEATURES = ["rooms", "history", "search", "read", "carbons", "files", "pull", "compress"]
"""What this server does beyond the first version of the protocol (see docs/protocol.md).
A client names in `hello` those it wants: the ones that change what the server sends
(rooms, read, carbons, pull, compress) are off for a client that does not."""


_CHOICES: dict[frozenset[str], frozenset[str]] = {}
"""Each set of features clients have chosen, once (at most 2⁸), shared by every session
that chose it: a frozenset is 216 bytes, and thousands of sessions choose the same."""


async def hello(server: Services, peer: Peer, data: Fields) -> Reply:
    version = data.integer("version")
    if version != PROTOCOL_VERSION:
        raise ChatError(
            ErrorCode.UNSUPPORTED_VERSION,
            f"this server speaks protocol version {PROTOCOL_VERSION}, not {version}",
        )
    asked = frozenset(data.strings("features")) & frozenset(FEATURES)
    if peer.user is None:  # chosen before login: what the session is sent depends on them
        peer.features = _CHOICES.setdefault(asked, asked)
    return {
        "version": PROTOCOL_VERSION,
        "server": f"chatroom/{chatroom.__version__}",
        "limits": server.limits.as_data(),
        "features": FEATURES,
        "enabled": sorted(peer.features),
        "dm_policy": server.dm_policy,
    }


async def register(server: Services, peer: Peer, data: Fields) -> Reply:
    peer.require_logged_out()
    username = data.username("username")
    password = data.new_password("password")
    # Checked before hashing so a taken name costs no bcrypt time; create_user checks again.
    if await server.store.find_user(username) is not None:
        raise ChatError(ErrorCode.USERNAME_TAKEN, f"{username!r} is taken")
    server.registrations.take(peer.address, "registrations from your address")
    await server.shared.take_registration(peer.address)
    await server.store.create_user(username, await server.passwords.hash(password))
    log.info("register %s from %s", username, peer.peer)
    return {"username": username}


async def login(server: Services, peer: Peer, data: Fields) -> Reply:
    peer.require_logged_out()
    user = await checked(server, peer, data.string("username"), data.string("password"))
    changes = server.statuses.changes
    arrival = await arriving(server, user.username)
    token = await _new_resume_token(server, peer, user.username)
    reply = await _enter(server, peer, arrival, changes) | token
    await _still_admitted(server, peer, user)
    return reply


async def password_set(server: Services, peer: Peer, data: Fields) -> Reply:
    """A new password, given the one in use (checked, and counted when wrong, as at a
    login). The user's other sessions are closed and their resume tokens revoked; this
    session gets a new one."""
    password = data.string("password")
    new_password = data.new_password("new_password")
    user = await checked(server, peer, peer.username, password, "wrong password")
    new_hash = await server.passwords.hash(new_password)
    # Only if no other change came since the check: of two at once, one is made.
    name, was = user.username, user.password_hash
    if not await server.store.set_password(name, new_hash, name, PASSWORD_SET, was=was):
        raise ChatError(ErrorCode.BAD_CREDENTIALS, "your password was changed meanwhile")
    server.hub.send_away(user.username, ByeReason.PASSWORD_CHANGED, keep=peer)
    log.info("password changed by %s from %s", user.username, peer.peer)
    return await _new_resume_token(server, peer, user.username)


async def checked(
    server: Services,
    peer: Peer,
    username: str,
    password: str,
    wrong: str = "wrong username or password",
) -> UserRecord:
    """The user `username`, if `password` is theirs: `bad_credentials` (saying `wrong`)
    if not, each failure counted towards a lockout of the name and of the address, and
    `too_many_attempts` while locked out."""
    name_key, address_key = f"user:{username_key(username)}", peer.address_key
    # Counted from here, before bcrypt: a lockout, or too many attempts at once, costs
    # nothing.
    with server.throttle.attempt(name_key, address_key) as attempt:
        await server.shared.check_lockout((name_key, address_key))
        # Fresh from the database: `chatroom-admin reset-password` may have changed it.
        user = await server.store.find_user(username, fresh=True)
        hashed = user.password_hash if user else None
        if not await server.passwords.verify(password, hashed) or user is None:
            # The other nodes' lockout first, so that it ends before this node's: a
            # client that waits out the `retry_after` it is given finds neither left.
            await server.shared.login_failed((name_key, address_key))
            attempt.failed()
            raise ChatError(ErrorCode.BAD_CREDENTIALS, wrong)
        attempt.succeeded(name_key)
        await server.shared.login_succeeded(name_key)
    return user


async def _new_resume_token(server: Services, peer: Peer, username: str) -> Reply:
    """A resume token for `username` on this session, stored; the reply's fields."""
    token, token_hash = new_resume_token()
    expires = server.wall_clock() + server.limits.resume_ttl
    await server.store.add_resume_token(token_hash, username, expires)
    peer.resume_token_hash = token_hash
    return {"resume_token": token, "resume_expires": expires}


async def resume(server: Services, peer: Peer, data: Fields) -> Reply:
    """Log in again with the token of an earlier login: no password, no bcrypt."""
    peer.require_logged_out()
    token_hash = resume_token_hash(data.string("token"))
    with server.throttle.attempt(None, peer.address_key) as attempt:
        await server.shared.check_lockout((peer.address_key,))
        username = await server.store.find_resume_token(token_hash)
        if username is None:
            await server.shared.login_failed((peer.address_key,))  # first: as for login
            attempt.failed()
            raise ChatError(ErrorCode.INVALID_TOKEN, "the resume token is unknown or expired")
    changes = server.statuses.changes
    arrival = await arriving(server, username)
    peer.resume_token_hash = token_hash
    reply = await _enter(server, peer, arrival, changes, "resume")
    await _still_admitted(server, peer)
    return reply


async def _still_admitted(server: Services, peer: Peer, user: UserRecord | None = None) -> None:
    """Looked at again once a login (of `user`, as checked) or a resume is in. A password
    change or a ban stored between its check and its session's joining found no session
    to send away (and a change, perhaps, no token to revoke): that session goes now, with
    the error its check would have given. (Once the session is in, a later change or ban
    finds it.)"""
    username, token_hash = peer.username, peer.resume_token_hash
    assert token_hash is not None  # a login's new token, or the one resumed with
    standing = await server.store.standing(username, token_hash, server.wall_clock())
    if standing is not None and standing.banned:
        if user is not None:  # the login's new token: never given out
            await server.store.revoke_resume_token(token_hash)
        peer.close_after_reply(ByeReason.BANNED)
        raise banned_from_server(standing.banned_until)
    if (
        standing is not None
        and standing.token_valid
        and (user is None or standing.password_hash == user.password_hash)
    ):
        return
    await server.store.revoke_resume_token(token_hash)
    peer.close_after_reply(ByeReason.PASSWORD_CHANGED)
    if user is not None:
        raise ChatError(ErrorCode.BAD_CREDENTIALS, "the password was changed meanwhile")
    raise ChatError(ErrorCode.INVALID_TOKEN, "the resume token was revoked meanwhile")


async def arriving(server: Services, username: str) -> Arrival:
    """What the login of `username` needs; `banned` (with `until`) if they are banned."""
    arrival = await server.store.arrival(username, server.wall_clock())
    if arrival is None:  # a resume token outliving its user: users are never deleted
        raise ChatError(ErrorCode.INVALID_TOKEN, "the resume token is unknown or expired")
    if arrival.banned:
        raise banned_from_server(arrival.banned_until)
    return arrival


def banned_from_server(until: float | None) -> ChatError:
    return ChatError(ErrorCode.BANNED, "you are banned from this server", until=until)


async def _enter(
    server: Services, peer: Peer, arrival: Arrival, changes: int, how: str = "login"
) -> Reply:
    """The rest of a login or resume (`arrival` read when the node had heard of
    `changes` status changes): join, queue the mailbox (unless the client pulls history
    instead), push the contact requests waiting, describe the user's conversations."""
    profile = arrival.profile
    username, status, status_text = profile.username, profile.status, profile.status_text
    if not server.hub.sessions_of(username):  # (else it shows theirs, kept to the store)
        server.hub.set_status(username, status, status_text)  # before they are announced
    backlog = await peer.log_in(username, arrival.acked_upto, how)
    if server.statuses.changes != changes:  # perhaps since `arrival` was read
        status, status_text = await server.statuses.show_stored(username)
    for asker in arrival.waiting:  # held until after the reply
        peer.send_frame(ContactPush(asker, "request").frame())
    states = await server.store.read_states(username)
    return {
        "username": username,
        "status": status,
        "status_text": status_text,
        **server.hub.online_now(),
        "offline": backlog.count,
        "skipped": backlog.skipped,
        "conversations": [state.as_data() for state in states],
    }


async def logout(server: Services, peer: Peer, data: Fields) -> Reply:
    if peer.resume_token_hash is not None:
        await server.store.revoke_resume_token(peer.resume_token_hash)
    peer.close_after_reply(ByeReason.LOGOUT)
    return {}
