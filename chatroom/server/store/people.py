"""The people half of the SQLite store: passwords, profiles, statuses, the directory,
contacts."""

import time
from typing import Any

from chatroom.server.store.base import Arrival, Profile, Standing, UserRecord
from chatroom.server.store.database import Database
from chatroom.server.store.moderation import audited
from chatroom.server.store.refusals import has_blocked
from chatroom.server.store.writer import Writer

_PROFILE_COLUMNS = "username, display_name, bio, status, status_text, role"
_USER_AND_BAN = """FROM users AS u LEFT JOIN sanctions AS s
                     ON s.username = u.username AND s.conv = 0 AND s.kind = 'ban'
                        AND (s.until IS NULL OR s.until > :now)
                   WHERE u.username = :me"""
"""The user `:me`, and their ban from the server at `:now` (`s.username` is NULL if none)."""

CONTACT = "contact"
REQUESTED = "requested"


class SqlPeople:
    """Profiles and statuses, on the store's connections (a part of `SqlStore`)."""

    _writer: Writer
    _lookups: Database
    _users: dict[str, UserRecord]

    async def set_password(
        self, username: str, password_hash: bytes, by: str, action: str, was: bytes | None = None
    ) -> bool:
        async def update(db: Database) -> bool:
            sql = "UPDATE users SET password_hash = ? WHERE username = ?"
            params: tuple[Any, ...] = (password_hash, username)
            if was is not None:  # unless another change came first
                sql, params = f"{sql} AND password_hash = ?", (*params, was)
            cursor = await db.execute(sql, params)
            if cursor.rowcount == 0:
                return False
            await db.execute("DELETE FROM resume_tokens WHERE username = ?", (username,))
            await audited(db, by, action, username)
            return True

        changed = await self._writer.write(update)
        self._users.clear()
        return changed

    async def arrival(self, username: str, now: float) -> Arrival | None:
        # One statement, one trip to the database thread: every login and resume asks.
        rows = await self._lookups.execute_fetchall(
            f"""SELECT {_PROFILE_COLUMNS.replace("username", "u.username")},
                       s.username IS NOT NULL, s.until, u.acked_upto,
                       (SELECT group_concat(c.username, char(31)) FROM contacts AS c
                        WHERE c.contact = u.username AND c.accepted = 0)
                {_USER_AND_BAN}""",
            {"me": username, "now": now},
        )
        for row in rows:
            *profile, banned, until, acked_upto, waiting = row
            asking = sorted(waiting.split("\x1f")) if waiting else []
            return Arrival(Profile(*profile), bool(banned), until, asking, acked_upto)
        return None

    async def standing(self, username: str, token_hash: str, now: float) -> Standing | None:
        rows = await self._lookups.execute_fetchall(
            f"""SELECT u.password_hash,
                       EXISTS (SELECT 1 FROM resume_tokens AS t
                               WHERE t.token_hash = :token AND t.username = u.username
                                 AND t.expires_at > :now),
                       s.username IS NOT NULL, s.until
                {_USER_AND_BAN}""",
            {"me": username, "token": token_hash, "now": now},
        )
        return next(
            (Standing(hashed, bool(t), bool(b), until) for hashed, t, b, until in rows), None
        )

    async def profile(self, username: str) -> Profile | None:
        rows = await self._lookups.execute_fetchall(
            f"SELECT {_PROFILE_COLUMNS} FROM users WHERE username = ?", (username,)
        )
        return next((Profile(*row) for row in rows), None)

    async def set_profile(
        self, username: str, display_name: str | None, bio: str | None
    ) -> Profile:
        async def update(db: Database) -> Profile:
            await db.execute(
                """UPDATE users SET display_name = COALESCE(?, display_name),
                                    bio = COALESCE(?, bio)
                   WHERE username = ?""",
                (display_name, bio, username),
            )
            rows = await db.execute_fetchall(
                f"SELECT {_PROFILE_COLUMNS} FROM users WHERE username = ?", (username,)
            )
            return Profile(*next(iter(rows)))

        return await self._writer.write(update)

    async def set_status(self, username: str, status: str, text: str) -> None:
        async def update(db: Database) -> None:
            await db.execute(
                "UPDATE users SET status = ?, status_text = ? WHERE username = ?",
                (status, text, username),
            )

        await self._writer.write(update)

    async def directory(self, query: str, after: str, limit: int) -> list[Profile]:
        rows = await self._lookups.execute_fetchall(
            f"""SELECT {_PROFILE_COLUMNS} FROM users
                WHERE username > :after
                  AND (:query = '' OR instr(lower(username), lower(:query)) > 0
                       OR instr(lower(display_name), lower(:query)) > 0)
                ORDER BY username LIMIT :limit""",
            {"after": after, "query": query, "limit": limit},
        )
        return [Profile(*row) for row in rows]

    # -- contacts -----------------------------------------------------------------------

    async def contact_add(self, username: str, other: str) -> tuple[str, bool]:
        async def add(db: Database) -> tuple[str, bool]:
            if await has_blocked(db, other, username):
                return REQUESTED, False  # dropped, and not said so
            rows = await db.execute_fetchall(
                """SELECT username, accepted FROM contacts
                   WHERE (username = :me AND contact = :other)
                      OR (username = :other AND contact = :me)""",
                {"me": username, "other": other},
            )
            asked_by = {asker: bool(accepted) for asker, accepted in rows}
            if any(asked_by.values()):
                return CONTACT, False
            if other in asked_by:  # they asked first: asking back is accepting
                await db.execute(
                    "UPDATE contacts SET accepted = 1 WHERE username = ? AND contact = ?",
                    (other, username),
                )
                return CONTACT, True
            if username in asked_by:
                return REQUESTED, False
            await db.execute(
                "INSERT INTO contacts (username, contact, created_at) VALUES (?, ?, ?)",
                (username, other, time.time()),
            )
            return REQUESTED, True

        return await self._writer.write(add)

    async def contact_answer(self, username: str, other: str, accept: bool) -> bool:
        async def answer(db: Database) -> bool:
            where = "WHERE username = ? AND contact = ? AND accepted = 0"
            sql = "UPDATE contacts SET accepted = 1 " if accept else "DELETE FROM contacts "
            cursor = await db.execute(sql + where, (other, username))
            return cursor.rowcount > 0

        return await self._writer.write(answer)

    async def contact_remove(self, username: str, other: str) -> bool:
        async def remove(db: Database) -> bool:
            cursor = await db.execute(
                """DELETE FROM contacts
                   WHERE (username = :me AND contact = :other)
                      OR (username = :other AND contact = :me AND accepted = 1)""",
                {"me": username, "other": other},
            )
            return cursor.rowcount > 0

        return await self._writer.write(remove)

    async def are_contacts(self, username: str, other: str) -> bool:
        rows = await self._lookups.execute_fetchall(
            """SELECT 1 FROM contacts WHERE accepted = 1
                 AND ((username = :me AND contact = :other)
                      OR (username = :other AND contact = :me))""",
            {"me": username, "other": other},
        )
        return bool(rows)

    async def contacts(self, username: str) -> list[tuple[str, str]]:
        rows = await self._lookups.execute_fetchall(
            """SELECT contact, CASE WHEN accepted = 1 THEN 'contact' ELSE 'asked' END
               FROM contacts WHERE username = :me
               UNION ALL
               SELECT username, CASE WHEN accepted = 1 THEN 'contact' ELSE 'asking' END
               FROM contacts WHERE contact = :me
               ORDER BY 1""",
            {"me": username},
        )
        return [(name, state) for name, state in rows]

    # -- resume tokens ----------------------------------------------------------------

    async def add_resume_token(self, token_hash: str, username: str, expires_at: float) -> None:
        # A random 256-bit key: no constraint refuses it, so it goes in with the others.
        columns = ("token_hash", "username", "expires_at")
        await self._writer.insert("resume_tokens", columns, (token_hash, username, expires_at))

    async def forget_resume_tokens(self, expired_by: float) -> None:
        async def delete(db: Database) -> None:
            await db.execute("DELETE FROM resume_tokens WHERE expires_at < ?", (expired_by,))

        await self._writer.write(delete)

    async def find_resume_token(self, token_hash: str) -> str | None:
        rows = await self._lookups.execute_fetchall(
            "SELECT username FROM resume_tokens WHERE token_hash = ? AND expires_at > ?",
            (token_hash, time.time()),
        )
        return next((username for (username,) in rows), None)

    async def revoke_resume_token(self, token_hash: str) -> None:
        async def delete(db: Database) -> None:
            await db.execute("DELETE FROM resume_tokens WHERE token_hash = ?", (token_hash,))

        await self._writer.write(delete)
