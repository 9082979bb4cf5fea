"""A class roster as a CSV file: read and checked whole, then the accounts it names made.

The header is `username,password,role,display_name`. A password of `generate` makes one.
Importing is idempotent: a user who exists already keeps their password, and is given
the roster's role and display name if those changed; run it again after fixing a line,
or after adding students, and nothing is made twice.
"""

import csv
import secrets
from dataclasses import dataclass
from pathlib import Path

from chatroom.common.errors import ChatError
from chatroom.common.limits import DISPLAY_NAME_MAX, PASSWORD_MIN
from chatroom.common.names import normalize_username
from chatroom.utils.args import os_reason

COLUMNS = ["username", "password", "role", "display_name"]
ROLES = ("user", "moderator", "admin")
GENERATE = "generate"
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
"""Letters and digits that cannot be misread for one another (no l/1, o/0, i)."""
GENERATED_LENGTH = 12
"""About 59 bits from that alphabet: far beyond guessing through the login throttle."""


class RosterError(Exception):
    """What is wrong with a roster: every bad line, so all can be fixed at once."""


@dataclass(slots=True, frozen=True)
class Student:
    username: str
    password: str
    role: str
    display_name: str
    generated: bool
    """Whether the password was made here (and must be handed out)."""


def generate_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(GENERATED_LENGTH))


def read_roster(path: Path) -> list[Student]:
    """The students of the roster at `path`, or `RosterError` listing every bad line."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:  # Excel writes a BOM
            rows = list(csv.reader(file))
    except OSError as exc:
        raise RosterError(f"cannot read {path}: {os_reason(exc)}") from None
    except UnicodeDecodeError as exc:  # a spreadsheet's own CSV, in Windows-1252...
        byte = f"byte {exc.object[exc.start]:#04x} at {exc.start}"
        raise RosterError(f"{path} is not UTF-8 text ({byte}): save it as CSV UTF-8") from None
    except csv.Error as exc:
        raise RosterError(f"cannot read {path}: {exc}") from None
    if not rows or [c.strip().lower() for c in rows[0]] != COLUMNS:
        raise RosterError(f"{path}: the first line must be {','.join(COLUMNS)}")
    students, problems, seen = [], [], set()
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        try:
            student = _student(row)
        except ValueError as exc:
            problems.append(f"line {line}: {exc}")
            continue
        if student.username.casefold() in seen:
            problems.append(f"line {line}: {student.username} is on the roster twice")
            continue
        seen.add(student.username.casefold())
        students.append(student)
    if problems:
        raise RosterError(f"{path}: " + "; ".join(problems))
    return students


def _student(row: list[str]) -> Student:
    if len(row) != len(COLUMNS):
        raise ValueError(f"{len(row)} columns, not {len(COLUMNS)}")
    username, password, role, display_name = (cell.strip() for cell in row)
    try:
        username = normalize_username(username)
    except ChatError as exc:
        raise ValueError(exc.message) from None
    role = role.lower() or "user"
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if len(display_name) > DISPLAY_NAME_MAX:
        raise ValueError(f"the display name is over {DISPLAY_NAME_MAX} characters")
    generated = password.lower() == GENERATE
    if generated:
        password = generate_password()
    elif len(password) < PASSWORD_MIN:
        raise ValueError(f"the password has fewer than {PASSWORD_MIN} characters")
    return Student(username, password, role, display_name, generated)
