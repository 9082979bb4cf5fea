"""File names as people see them: what a sender's name is reduced to before it is shown.

The server never builds a path from this name (files are stored under their fid); the
client uses it, once more sanitised, as the name of a download inside its folder.
"""

import unicodedata

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.limits import FILE_NAME_MAX

FALLBACK_NAME = "file"


def display_name(raw: str) -> str:
    """`raw` without directories, control characters or excess length; never empty.

    `../../etc/passwd` becomes `passwd`; a name of only dots becomes `file`; a 300-character
    name is cut to FILE_NAME_MAX characters, keeping its extension.
    """
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(" " if unicodedata.category(c).startswith("C") else c for c in name)
    name = " ".join(name.split())
    if not name.strip("."):
        return FALLBACK_NAME
    if len(name) > FILE_NAME_MAX:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            name = stem[: FILE_NAME_MAX - len(extension) - 1] + "." + extension
        else:
            name = name[:FILE_NAME_MAX]
    return name


def human_size(size: float) -> str:
    """`1.5 MB`, `312 B`: a byte count for people."""
    units = ["B", "KB", "MB", "GB", "TB"]
    step = 0
    while size >= 1000 and step < len(units) - 1:
        size /= 1000
        step += 1
    return f"{size:.0f} B" if step == 0 else f"{size:.1f} {units[step]}"


def too_large(size: int, most: int) -> ChatError:
    """`file_too_large` for a file of `size` bytes where `most` is the limit: the server's
    refusal, and the client's own before it hashes a file the server would refuse."""
    return ChatError(
        ErrorCode.FILE_TOO_LARGE,
        f"{human_size(size)} is over the limit of {human_size(most)}",
        max_file_size=most,
    )
