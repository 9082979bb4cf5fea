"""What `chatroom-admin` changes in the database while the server runs, obeyed within a
second: a ban from the server, or a password reset, ends the user's sessions here.

`chatroom-admin` is another process, with no route to the server's sessions: the server
reads the audit log's new entries (one indexed read a second) and acts on those that
end sessions. A moderator's ban in the chat has ended them already; ending them again
changes nothing."""

import asyncio
import logging
from collections.abc import Callable, Iterable

from chatroom.common.messages import ByeReason
from chatroom.server.connection import Session
from chatroom.server.services import Services
from chatroom.server.store.base import AuditEntry
from chatroom.server.store.moderation import BAN, RESET_PASSWORD

log = logging.getLogger("chatroom.server")

INTERVAL = 1.0
"""Seconds between reads of the audit log."""


async def obey_admin_changes(
    services: Services, sessions: Callable[[], Iterable[Session]], interval: float = INTERVAL
) -> None:
    """Act on each audit entry written after this started, every `interval` seconds,
    until cancelled. `sessions`: this server's sessions now."""
    store = services.store
    after: int | None = None
    failing = False
    while True:
        try:
            if after is None:  # what came before this server started needs nothing
                newest = await store.audit_log(before=2**63 - 1, limit=1)
                after = newest[0].id if newest else 0
            for entry in await store.audit_after(after, (BAN, RESET_PASSWORD)):
                await _obey(services, sessions, entry)
                after = entry.id
            if failing:
                log.info("reading the audit log again")
            failing = False
        except Exception:  # the database unreachable, say: read again at the next turn
            if not failing:  # once, not a traceback a second while it lasts
                log.exception("reading the audit log failed; trying each second")
            failing = True
        await asyncio.sleep(interval)


async def _obey(
    services: Services, sessions: Callable[[], Iterable[Session]], entry: AuditEntry
) -> None:
    store, user = services.store, entry.target
    if entry.action == BAN and not entry.room:
        arrival = await store.arrival(user, services.wall_clock())
        still_banned = arrival is not None and arrival.banned  # not lifted since
        if still_banned and services.hub.send_away(user, ByeReason.BANNED):
            log.info("%s sent away: banned by %s", user, entry.actor)
    elif entry.action == RESET_PASSWORD:
        # Every token of before was revoked with the reset: a session whose token is
        # gone logged in with the old password; one logged in since has a good one.
        for session in [s for s in sessions() if s.user == user]:
            token = session.resume_token_hash
            if token is None or await store.find_resume_token(token) != user:
                session.say_bye(ByeReason.PASSWORD_CHANGED)
                log.info("%s sent away: password reset by %s", user, entry.actor)
