"""`chatroom-admin`: accounts, roles, bans, transcripts, backups and figures, worked on a
server's data directory whether the server is running or not.

Changes go through the store, as the server's own do (the audit log included), and
SQLite lets both write to one database. A running server reads roles, bans and
passwords from the database when it needs them, so they take effect there at once; a
user banned here while connected keeps that connection until they next log in (a
moderator's `ban` in the chat ends it at once).

Every failure a user can cause ends in one line on standard error and exit code 2.
"""

import argparse
import asyncio
import contextlib
import getpass
import os
import sqlite3
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import NoReturn, TextIO

from chatroom.common.amounts import amount
from chatroom.common.errors import ChatError
from chatroom.common.files import human_size
from chatroom.common.limits import BCRYPT_COST_MAX, BCRYPT_COST_MIN, PASSWORD_MIN, SANCTION_MAX
from chatroom.server.admin import reports
from chatroom.server.admin.backup import BackupError, backup, restore
from chatroom.server.admin.export import FORMATS
from chatroom.server.admin.reports import AdminError, when
from chatroom.server.admin.roster import ROLES, RosterError, Student, generate_password, read_roster
from chatroom.server.auth import PasswordHasher, bcrypt_workers
from chatroom.server.datadir import DataDirError, is_damage, make
from chatroom.server.store import SqlStore
from chatroom.server.store.moderation import BAN, RESET_PASSWORD
from chatroom.server.store.sql import DATABASE_NAME
from chatroom.utils.args import EXIT_USAGE, OneLineParser, count, os_reason, utf8_text, whole_number
from chatroom.utils.paths import DATA_DIR_VARIABLE, default_data_dir

PROG = "chatroom-admin"
DEFAULT_BCRYPT_COST = 12


def actor() -> str:
    """Who the audit log says did what this program does."""
    with contextlib.suppress(Exception):
        return f"{PROG} ({getpass.getuser()})"
    return PROG


# -- changing -------------------------------------------------------------------------------


async def opened(data_dir: Path, create: bool = False) -> SqlStore:
    if not create and not (data_dir / DATABASE_NAME).exists():
        raise AdminError(f"there is no chatroom database in {data_dir}")
    make(data_dir)
    return await SqlStore.open(data_dir)


async def user_of(store: SqlStore, username: str) -> str:
    user = await store.find_user(username, fresh=True)
    if user is None:
        raise AdminError(f"there is no user {username!r}")
    return user.username


async def create_users(args: argparse.Namespace) -> None:
    students = read_roster(args.roster)
    # Claimed before any account: a file that cannot be written would lose the passwords.
    handout = Handout(args.output, [s.username for s in students if s.generated])
    made: list[Student] = []
    try:
        await make_accounts(args, students, made, handout)
    finally:
        handout.close()
    print(f"{amount(len(made), 'user')} created, {len(students) - len(made):,} already there")


async def make_accounts(
    args: argparse.Namespace, students: list[Student], made: list[Student], handout: "Handout"
) -> None:
    """Create the roster's new accounts, each added to `made` (and its generated password
    handed out) as soon as it is, and set every student's role and display name."""
    hasher = PasswordHasher(args.bcrypt_cost, new_at_once=bcrypt_workers())
    store = await opened(args.data_dir, create=True)
    try:
        new = [s for s in students if await store.find_user(s.username, fresh=True) is None]
        # Hashed on every core at once: bcrypt is most of the time a roster takes.
        hashed = await asyncio.gather(*(hasher.hash(s.password) for s in new))
        hashes = dict(zip(new, hashed, strict=True))
        for student in students:
            name = student.username
            if student in hashes:
                try:
                    await store.create_user(name, hashes[student])
                except ChatError as exc:  # a look-alike of someone registered
                    print(f"{name}: {exc.message}", file=sys.stderr)
                    continue
                made.append(student)
                if student.generated:
                    handout.add(name, student.password)
            else:
                name = await user_of(store, name)
            await store.set_role(name, student.role, actor())
            profile = await store.profile(name)
            if profile is not None and profile.display_name != student.display_name:
                await store.set_profile(name, student.display_name, None)
    finally:
        await store.close()
        await hasher.close()


class Handout:
    """Where generated passwords go: a new file (`-o`), or standard output as a table.

    Each is written, and on disk, as soon as its account is made, so that a run stopped
    half-way (killed, a power cut) still hands out every account it made; an account
    whose password nobody has can only be given a new one (`reset-password`).
    """

    def __init__(self, path: Path | None, names: list[str]) -> None:
        self.path = path
        self.count = 0
        self._file: TextIO | None = None
        self._width = max([len("USER"), *map(len, names)])
        """The user column's width on standard output: the widest name that may come."""
        if path is not None:
            try:  # new, readable by its owner only, and never over another file
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except OSError as exc:
                raise AdminError(f"cannot write {path}: {os_reason(exc)}") from None
            self._file = os.fdopen(fd, "w", encoding="utf-8", newline="")
            self._write("username,password")

    def add(self, name: str, password: str) -> None:
        if self._file is not None:
            self._write(f"{name},{password}")
        else:
            if self.count == 0:
                self._write(f"{'USER'.ljust(self._width)}  PASSWORD")
            self._write(f"{name.ljust(self._width)}  {password}")
        self.count += 1

    def close(self) -> None:
        """Close the file, or remove it if no password went into it."""
        if self._file is None or self.path is None:
            return
        self._file.close()
        if self.count == 0:
            self.path.unlink()
        else:
            print(f"the {self.count} generated passwords are in {self.path}")

    def _write(self, line: str) -> None:
        out = self._file or sys.stdout
        try:
            out.write(line + "\n")
            out.flush()
            if self._file is not None:
                os.fsync(self._file.fileno())
        except OSError as exc:
            where = self.path or "the passwords"
            raise AdminError(f"cannot write {where}: {os_reason(exc)}") from None


async def reset_password(args: argparse.Namespace) -> None:
    password = args.password or generate_password()
    if len(password) < PASSWORD_MIN:
        raise AdminError(f"a password has at least {PASSWORD_MIN} characters")
    hasher = PasswordHasher(args.bcrypt_cost)
    store = await opened(args.data_dir)
    try:
        name = await user_of(store, args.user)
        await store.set_password(name, await hasher.hash(password), actor(), RESET_PASSWORD)
    finally:
        await store.close()
        await hasher.close()
    shown = "" if args.password else f": {password}"
    print(f"the password of {name} is reset{shown} (a running server disconnects them)")


async def set_role(args: argparse.Namespace) -> None:
    store = await opened(args.data_dir)
    try:
        name = await user_of(store, args.user)
        changed = await store.set_role(name, args.role, actor())
    finally:
        await store.close()
    print(f"{name} is {'now' if changed else 'already'} {args.role}")


async def ban(args: argparse.Namespace) -> None:
    store = await opened(args.data_dir)
    try:
        name = await user_of(store, args.user)
        until = datetime.now().timestamp() + args.seconds if args.seconds else None
        await store.sanction(name, None, BAN, until, actor(), args.reason)
    finally:
        await store.close()
    end = f"until {when(until)}" if until else "until unbanned"
    print(f"{name} is banned {end}; a running server disconnects them within a second")


async def unban(args: argparse.Namespace) -> None:
    store = await opened(args.data_dir)
    try:
        name = await user_of(store, args.user)
        lifted = await store.lift(name, None, BAN, actor())
    finally:
        await store.close()
    print(f"{name} may log in again" if lifted else f"{name} was not banned")


def take_backup(args: argparse.Namespace) -> None:
    copied = backup(args.data_dir, args.dest)
    gone = f", {copied.missing} deleted meanwhile" if copied.missing else ""
    print(
        f"backed up {amount(copied.messages, 'message')} and {amount(copied.files, 'file')} "
        f"({human_size(copied.bytes)}{gone}) to {args.dest}"
    )


def restore_backup(args: argparse.Namespace) -> None:
    aside = restore(args.source, args.data_dir, args.replace)
    moved = f"; what was there is in {aside}" if aside else ""
    print(f"restored {args.source} into {args.data_dir}{moved}")


# -- the command line -------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=PROG,
        description="Run a chatroom server's class: accounts, roles, bans, transcripts, "
        "backups. Works whether the server is running or not.",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"the server's data directory (default: ${DATA_DIR_VARIABLE}, else the user "
        "data dir, as chatroom-server)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Callable[[argparse.Namespace], object], help: str) -> OneLineParser:
        sub: OneLineParser = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(run=run)
        return sub

    def bcrypt_cost(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--bcrypt-cost",
            type=int,
            choices=range(BCRYPT_COST_MIN, BCRYPT_COST_MAX + 1),
            default=DEFAULT_BCRYPT_COST,
            metavar="N",
            help=f"bcrypt work factor, {BCRYPT_COST_MIN} to {BCRYPT_COST_MAX} (default: 12)",
        )

    sub = command("create-users", create_users, "create the accounts of a roster CSV file")
    sub.add_argument("roster", type=Path, help="CSV: username,password,role,display_name")
    sub.add_argument("-o", "--output", type=Path, help="write generated passwords to this new file")
    bcrypt_cost(sub)
    sub = command("reset-password", reset_password, "set a user's password (made if not given)")
    sub.add_argument("user", type=utf8_text)
    sub.add_argument(
        "--password", type=utf8_text, help="the new password (default: generate and print one)"
    )
    bcrypt_cost(sub)
    sub = command("set-role", set_role, "make a user an admin, a moderator, or a user again")
    sub.add_argument("user", type=utf8_text)
    sub.add_argument("role", choices=ROLES)
    sub = command("ban", ban, "ban a user from the server")
    sub.add_argument("user", type=utf8_text)
    sub.add_argument(
        "--seconds",
        type=whole_number(1, SANCTION_MAX),
        help="for this long (default: until unbanned)",
    )
    sub.add_argument("--reason", type=utf8_text, default="", help="said in the audit log")
    sub = command("unban", unban, "lift a user's ban")
    sub.add_argument("user", type=utf8_text)
    command("list-users", reports.list_users, "list every user, with role and ban")
    command("rooms", reports.rooms, "list the rooms, with owner, members and messages")
    sub = command("audit", reports.audit, "print the audit log: action, who, whom, when")
    sub.add_argument("--limit", type=count, default=100, help="the newest N entries (default: 100)")
    sub = command("export", reports.export, "write a transcript of a room or of a user")
    which = sub.add_mutually_exclusive_group(required=True)
    which.add_argument("--room", type=utf8_text, help="everything said in this room")
    which.add_argument(
        "--user", type=utf8_text, help="what this user wrote, and their private messages"
    )
    sub.add_argument("--since", type=utf8_text, help="from this date on (YYYY-MM-DD, local time)")
    sub.add_argument("--format", choices=FORMATS, default="txt", help="default: txt")
    sub.add_argument("-o", "--output", type=Path, help="write to this file (default: stdout)")
    sub = command("backup", take_backup, "copy the database and files to a new folder")
    sub.add_argument("dest", type=Path)
    sub = command("restore", restore_backup, "put a backup in place (stop the server first)")
    sub.add_argument("source", type=Path)
    sub.add_argument("--replace", action="store_true", help="move the data there now aside")
    sub = command("stats", reports.stats, "users, messages per day, storage")
    sub.add_argument(
        "--days",
        type=whole_number(1, 36_500),
        default=14,
        help="days of messages per day (default: 14)",
    )
    return parser


def fail(message: str) -> NoReturn:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    sys.exit(EXIT_USAGE)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.data_dir = args.data_dir or default_data_dir()
    try:
        result = args.run(args)
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    except (AdminError, RosterError, BackupError, DataDirError) as exc:
        fail(str(exc))
    except ChatError as exc:
        fail(exc.message)
    except sqlite3.DatabaseError as exc:  # locked, read-only, damaged...
        advice = "; restore it from a backup" if is_damage(exc) else ""
        fail(f"cannot use the database in {args.data_dir}: {exc}{advice}")
    except BrokenPipeError:  # `| head`
        sys.stderr.close()


if __name__ == "__main__":
    main()
