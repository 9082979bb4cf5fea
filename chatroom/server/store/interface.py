"""The storage interface the handlers use: `Store`.

A second backend (PostgreSQL, say) implements it and nothing in the handlers changes.
"""

from collections.abc import Sequence
from typing import Protocol

from chatroom.server.store.base import (
    Arrival,
    AuditEntry,
    Backlog,
    FileRecord,
    Page,
    Profile,
    ReadState,
    Room,
    Standing,
    StoredMessage,
    UserRecord,
)


class Store(Protocol):
    async def create_user(self, username: str, password_hash: bytes) -> None:
        """Add a user whose mailbox starts after every message stored so far.

        Raises `ChatError(username_taken)` if the casefolded name exists already.
        """

    async def find_user(self, username: str, fresh: bool = False) -> UserRecord | None:
        """The user whose name matches `username` casefolded, if any (`fresh`: read from
        the database, not from what was remembered of an earlier lookup)."""

    async def set_password(
        self, username: str, password_hash: bytes, by: str, action: str, was: bytes | None = None
    ) -> bool:
        """Change the user's password, end their resume tokens, and log it in the audit
        log as `action` by `by`, at once, if the user exists (and, given `was`, if their
        password's hash is still `was`); whether it changed."""

    async def add_message(
        self,
        sender: str,
        recipient: str | None,
        text: str,
        *,
        room: Room | None = None,
        cid: str | None = None,
        mailbox_limit: int,
    ) -> StoredMessage:
        """Store a message and commit before returning: the caller may acknowledge it.

        A message goes to `recipient` (private), or into `room` (neither: the lobby).
        With a `cid` the sender used before (within a day), nothing is stored: the
        original comes back with `duplicate` set. A private message to a recipient who
        already has `mailbox_limit` unread ones raises `ChatError(mailbox_full)`.
        """

    async def backlog(
        self, username: str, acked_upto: int, limit: int, all_rooms: bool = True
    ) -> Backlog:
        """Where the user's messages after mid `acked_upto` (`Arrival.acked_upto`) are:
        the newest `limit` of them (in private and in every room they are in, or only
        the lobby if not `all_rooms`)."""

    async def backlog_page(
        self, username: str, after: int, upto: int, limit: int, all_rooms: bool = True
    ) -> list[StoredMessage]:
        """The user's mailbox messages with `after` < mid <= `upto`, the first `limit` in
        mid order."""

    async def ack(self, username: str, upto: int) -> None:
        """Mark every message up to mid `upto` as seen by the user (never moves back)."""

    async def create_file(
        self,
        sender: str,
        recipient: str | None,
        name: str,
        size: int,
        sha256: str,
        *,
        room: Room | None = None,
        cid: str | None,
        quota: int,
        max_uploads: int,
        mailbox_limit: int,
    ) -> FileRecord:
        """Record an upload about to start, or find the one it repeats or resumes.

        The same `cid` as before, or the same content still incomplete, gives that
        file back (complete or not). A new upload first reserves its size against the
        sender's `quota` and one of their `max_uploads` unfinished uploads, atomically:
        `quota_exceeded`, `too_many_uploads`, or `mailbox_full` for the recipient.
        """

    async def find_file(self, fid: int) -> FileRecord | None: ...

    async def complete_file(self, fid: int) -> StoredMessage:
        """Store the message that announces the (fully received) file, and commit.

        Idempotent: for a file already complete, that message with `duplicate` set.
        Raises `no_such_file` if the upload expired meanwhile.
        """

    async def delete_file(self, fid: int) -> None:
        """Forget an unfinished upload (failed checksum, or expired); frees its quota."""

    async def stale_uploads(self, before: float) -> list[FileRecord]:
        """Unfinished uploads announced before `before` (unix time)."""

    async def forget_request_ids(self, before: float) -> None:
        """Forget the `cid`s of requests made before `before` (unix time)."""

    async def add_resume_token(self, token_hash: str, username: str, expires_at: float) -> None:
        """Keep the hash of a resume token for `username` until `expires_at` (unix time)."""

    async def find_resume_token(self, token_hash: str) -> str | None:
        """The user whose unexpired token has this hash, if any."""

    async def revoke_resume_token(self, token_hash: str) -> None: ...

    async def forget_resume_tokens(self, expired_by: float) -> None:
        """Delete the tokens that expired before `expired_by` (unix time): housekeeping,
        since an expired token is never found anyway."""

    # -- people -------------------------------------------------------------------------

    async def arrival(self, username: str, now: float) -> Arrival | None:
        """What a login or resume of `username` needs (None if there is no such user):
        their profile, whether they are banned from the server at `now`, and the
        contact requests waiting for them."""

    async def standing(self, username: str, token_hash: str, now: float) -> Standing | None:
        """`username`'s password, whether the resume token with this hash is theirs and
        unexpired, and whether they are banned from the server, at `now` (one read)."""

    async def profile(self, username: str) -> Profile | None:
        """The profile of the user registered as `username` (the exact name)."""

    async def set_profile(
        self, username: str, display_name: str | None, bio: str | None
    ) -> Profile:
        """Change what is given (None: leave it) of `username`'s profile."""

    async def set_status(self, username: str, status: str, text: str) -> None:
        """Keep the status `username` chose, for their next sessions too."""

    async def directory(self, query: str, after: str, limit: int) -> list[Profile]:
        """Registered users by name after `after`, those whose name or display name
        holds `query` (ASCII letters in any case), the first `limit`."""

    async def contact_add(self, username: str, other: str) -> tuple[str, bool]:
        """`username` asks `other` to be a contact: the pair's state after it
        (`requested`, or `contact` if `other` had asked already or they are contacts),
        and whether anything changed. Nothing changes if `other` has blocked them."""

    async def contact_answer(self, username: str, other: str, accept: bool) -> bool:
        """Accept (or decline) `other`'s request to `username`; whether there was one."""

    async def contact_remove(self, username: str, other: str) -> bool:
        """End the pair's contact, or take back `username`'s request; whether there
        was either."""

    async def contacts(self, username: str) -> list[tuple[str, str]]:
        """Everyone `username` is linked to, by name, with how: `contact`, `asked`
        (`username` asked them) or `asking` (they asked `username`)."""

    async def are_contacts(self, username: str, other: str) -> bool: ...

    # -- blocks and moderation ------------------------------------------------------------

    def is_blocked(self, username: str, by: str) -> bool:
        """Whether `by` has blocked `username`."""

    def blocked(self, username: str) -> list[str]:
        """Whom `username` has blocked, by name."""

    async def block(self, username: str, other: str) -> bool:
        """`username` blocks `other` (ending any contact or request between them);
        whether they had not already."""

    async def unblock(self, username: str, other: str) -> bool: ...

    async def role(self, username: str) -> str:
        """`user`, `moderator` or `admin`."""

    async def set_role(self, username: str, role: str, by: str) -> bool:
        """Give `username` a server role (logged as done by `by`); whether it changed."""

    async def room_role(self, room: Room, username: str) -> str | None:
        """`owner`, `moderator` or `member` of the room; None if not a member."""

    async def set_room_role(self, room: Room, username: str, role: str, by: str) -> bool: ...

    def sanctioned_until(
        self, username: str, conv: int, kind: str, now: float
    ) -> tuple[bool, float | None]:
        """Whether `username` is muted (in `conv` or everywhere) or banned (from room
        `conv`) at `now`, and until when (None: until lifted)."""

    async def sanction(
        self,
        username: str,
        room: Room | None,
        kind: str,
        until: float | None,
        by: str,
        detail: str = "",
    ) -> None:
        """Mute or ban `username` in `room` (None: everywhere) until `until`, and log it."""

    async def lift(self, username: str, room: Room | None, kind: str, by: str) -> bool:
        """End a mute or ban, and log it; whether there was one."""

    async def note(
        self, actor: str, action: str, target: str = "", room: str = "", detail: str = ""
    ) -> None:
        """Log an action that changes nothing stored (a kick)."""

    async def audit_log(self, before: int, limit: int) -> list[AuditEntry]:
        """The newest `limit` logged actions before id `before`, newest first."""

    async def audit_after(self, after: int, actions: Sequence[str]) -> list[AuditEntry]:
        """Logged `actions` after id `after`, oldest first (at most 1,000)."""

    async def message(self, mid: int) -> StoredMessage | None: ...

    async def delete_message(self, message: StoredMessage, by: str) -> tuple[bool, int | None]:
        """Replace a message by a tombstone (and log it): whether it was not deleted
        already, and the fid of the file it announced, whose bytes may go."""

    async def announce(self, sender: str, text: str, lobby: int) -> StoredMessage:
        """Store an announcement (in the lobby, which everyone is in) and log it."""

    # -- conversations ------------------------------------------------------------------

    def find_room(self, name: str) -> Room | None:
        """The room called `name` (any case or look-alike spelling finds it)."""

    def lobby(self) -> Room: ...

    def all_rooms(self) -> list[Room]:
        """Every room, by name."""

    async def create_room(
        self, name: str, owner: str, topic: str, public: bool, *, room_limit: int, owned_limit: int
    ) -> Room:
        """Create a room owned (and joined) by `owner`: `room_taken`, `too_many_rooms`."""

    async def join_room(self, room: Room, username: str, *, room_limit: int, now: float) -> bool:
        """Make `username` a member, with nothing unread; whether they were not one yet.
        Raises `too_many_rooms` past `room_limit`, and `banned` if a ban from the room
        holds at `now` (read in the same write as the join)."""

    async def leave_room(self, room: Room, username: str) -> bool:
        """Whether `username` was a member (and no longer is)."""

    async def invite(self, room: Room, username: str, by: str) -> bool:
        """`by` invites `username` into `room`; whether it was stored (not if `username`
        has blocked `by`)."""

    async def is_invited(self, room: Room, username: str) -> bool: ...

    async def set_topic(self, room: Room, topic: str) -> Room: ...

    async def memberships(self) -> dict[int, set[str]]:
        """The members of every room but the lobby (whose members are all users)."""

    def user_count(self) -> int:
        """How many users there are (the lobby's members)."""

    async def room_members(self, room: Room, limit: int) -> list[str]:
        """The first `limit` members of the room, by name."""

    async def pair(self, a: str, b: str, create: bool = True) -> int | None:
        """The private conversation of `a` and `b` (made if new and `create`)."""

    async def history(self, conv: int, before: int, limit: int) -> Page:
        """The `limit` messages of `conv` before mid `before`, oldest first."""

    async def newest_mid(self) -> int:
        """The newest mid committed (0 before the first message)."""

    async def since(self, after: int, limit: int) -> list[StoredMessage]:
        """Every message with mid > `after`, in any conversation: the first `limit`, in
        mid order (what a node that lost touch with the others sends again)."""

    async def files(self, conv: int, before: int, limit: int) -> Page:
        """The messages that announced the `limit` files of `conv` before mid `before`."""

    async def search(
        self, username: str, text: str, conv: int | None, limit: int
    ) -> list[tuple[StoredMessage, str]]:
        """Messages with every word of `text` that `username` may read (in `conv` only,
        if given), newest first, each with a snippet."""

    async def read_states(self, username: str) -> list[ReadState]:
        """How far `username` has read each of their conversations."""

    async def mark_read(self, username: str, conv: int, upto: int) -> ReadState | None:
        """Move the read marker forward to the conversation's newest message up to mid
        `upto` (never back); None if not a member."""

    async def close(self) -> None:
        """Finish pending writes and release the database."""
