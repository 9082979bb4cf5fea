"""Usernames: which are valid, and when two of them are the same user.

A username is NFKC-normalised, then checked: 3 to 32 characters, each a letter of any
script, a digit, or one of `_ - .`. Two usernames are the same user when their casefolded
forms match, so `Alice` and `ALICE` cannot both register.
"""

import re
import unicodedata

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.limits import USERNAME_MAX, USERNAME_MIN, USERNAME_PUNCTUATION

_PLAIN = re.compile(
    rf"[A-Za-z0-9{re.escape(USERNAME_PUNCTUATION)}]{{{USERNAME_MIN},{USERNAME_MAX}}}"
)
"""Plain ASCII names, the common case: valid as they are, no normalisation needed."""


def _allowed(char: str) -> bool:
    return char.isalpha() or char.isdecimal() or char in USERNAME_PUNCTUATION


def normalize_username(raw: str) -> str:
    """The canonical form of `raw`; raises `invalid_username` if it breaks the rules."""
    if _PLAIN.fullmatch(raw):
        return raw
    name = unicodedata.normalize("NFKC", raw)
    if not USERNAME_MIN <= len(name) <= USERNAME_MAX:
        raise ChatError(
            ErrorCode.INVALID_USERNAME,
            f"a username has {USERNAME_MIN} to {USERNAME_MAX} characters",
        )
    if not all(_allowed(char) for char in name):
        raise ChatError(
            ErrorCode.INVALID_USERNAME,
            f"a username has only letters, digits and {' '.join(USERNAME_PUNCTUATION)}",
        )
    return name


def username_key(name: str) -> str:
    """The form two usernames are compared in: NFKC, then casefolded."""
    return unicodedata.normalize("NFKC", name).casefold()
