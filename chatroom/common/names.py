"""Usernames: which are valid, and when two of them are the same user.

A username is NFKC-normalised, then checked: 3 to 32 characters, each a letter of any
script, a digit, or one of `_ - .`. Two usernames are the same user when they differ only in
case or only in characters that look alike: once `alice` exists, neither `ALICE` nor `alice`
spelt with a Cyrillic a (U+0430) can register.
"""

import functools
import re
import unicodedata

import icu

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.limits import USERNAME_MAX, USERNAME_MIN, USERNAME_PUNCTUATION

_PLAIN = re.compile(
    rf"[A-Za-z0-9{re.escape(USERNAME_PUNCTUATION)}]{{{USERNAME_MIN},{USERNAME_MAX}}}"
)
"""Plain ASCII names, the common case: valid as they are, no normalisation needed."""

_SPOOF_CHECKER = icu.SpoofChecker()
"""ICU's implementation of Unicode's confusable detection (UTS #39), with its data."""


def _allowed(char: str) -> bool:
    return char.isalpha() or char.isdecimal() or char in USERNAME_PUNCTUATION


def normalize_username(raw: str) -> str:
    """The canonical form of `raw`; raises `invalid_username` if it breaks the rules."""
    return _normalize(raw, "username", ErrorCode.INVALID_USERNAME)


def normalize_room(raw: str) -> str:
    """The canonical form of a room name: the rules of usernames, or `invalid_room`."""
    return _normalize(raw, "room name", ErrorCode.INVALID_ROOM)


_MARKS = ", ".join(f"'{mark}'" for mark in USERNAME_PUNCTUATION[:-1]) + (
    f" and '{USERNAME_PUNCTUATION[-1]}'"
)
"""The marks a name may have besides letters and digits, quoted: a sentence may go on
after the last one ("... '-' and '.'; it is back in the input")."""


def _normalize(raw: str, what: str, code: ErrorCode) -> str:
    if _PLAIN.fullmatch(raw):
        return raw
    name = unicodedata.normalize("NFKC", raw)
    if not USERNAME_MIN <= len(name) <= USERNAME_MAX:
        raise ChatError(code, f"a {what} has {USERNAME_MIN} to {USERNAME_MAX} characters")
    if not all(_allowed(char) for char in name):
        raise ChatError(code, f"a {what} has only letters, digits, {_MARKS}")
    return name


@functools.lru_cache(maxsize=256)  # private messages look the same few names up
def username_key(name: str) -> str:
    """The form two usernames are compared in: the confusable skeleton of the casefolded name.

    The skeleton (UTS #39, section 4) replaces each character by the prototype Unicode
    lists for everything that looks like it: the Cyrillic a (U+0430), the Latin alpha
    (U+0251) and the fullwidth a (U+FF41) all become `a`. It is a key, not a name to show:
    `m` becomes `rn`, `1` becomes `l`.

    Casefolding first keeps the key blind to case, at a price: look-alikes that exist only
    among capitals are missed, such as `Bob` spelt with a Cyrillic capital ve (U+0412,
    whose small form looks like no Latin letter), or `lvan` for `Ivan` (capital I is small
    l's twin, but small i is not). A single key cannot catch those and still ignore case
    without also making `neil` and `nell` one user.

    The store keeps this key in a UNIQUE column, so a new version of ICU's data (the
    pyicu-wheels release) can change keys: recompute the stored ones when upgrading it.
    """
    folded = unicodedata.normalize("NFKC", name).casefold()
    skeleton: str = _SPOOF_CHECKER.getSkeleton(0, folded)  # ICU ignores the type (deprecated in 58)
    return skeleton
