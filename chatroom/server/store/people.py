"""The people half of the SQLite store: profiles, statuses and the directory."""

import aiosqlite

from chatroom.server.store.base import Profile
from chatroom.server.store.writer import Writer

_PROFILE_COLUMNS = "username, display_name, bio, status, status_text, role"


class SqlitePeople:
    """Profiles and statuses, on the store's connections (a part of `SqliteStore`)."""

    _writer: Writer
    _lookups: aiosqlite.Connection

    async def profile(self, username: str) -> Profile | None:
        rows = await self._lookups.execute_fetchall(
            f"SELECT {_PROFILE_COLUMNS} FROM users WHERE username = ?", (username,)
        )
        return next((Profile(*row) for row in rows), None)

    async def set_profile(
        self, username: str, display_name: str | None, bio: str | None
    ) -> Profile:
        async def update(db: aiosqlite.Connection) -> Profile:
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
        async def update(db: aiosqlite.Connection) -> None:
            await db.execute(
                "UPDATE users SET status = ?, status_text = ? WHERE username = ?",
                (status, text, username),
            )

        await self._writer.write(update)

    async def directory(self, query: str, after: str, limit: int) -> list[Profile]:
        rows = await self._lookups.execute_fetchall(
            f"""SELECT {_PROFILE_COLUMNS} FROM users
                WHERE username > :after
                  AND (:query = '' OR instr(lower(username), lower(:query))
                       OR instr(lower(display_name), lower(:query)))
                ORDER BY username LIMIT :limit""",
            {"after": after, "query": query, "limit": limit},
        )
        return [Profile(*row) for row in rows]
