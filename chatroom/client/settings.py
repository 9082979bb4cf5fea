"""The client's settings file: which server, who you are, and how the TUI behaves.

A small TOML file in the platform's config folder (`~/.config/chatroom/settings.toml`
on Linux), or wherever `$CHATROOM_SETTINGS` says. Every key is optional:

    host = "chat.example.org"   # the server (or nodes: "a:8888,b:8888"), without --host
    port = 8888                 # ... and --port
    username = "alice"          # filled in on the login form (the TUI keeps it up to date)
    bell = true                 # ring the terminal bell on a private message or a mention
    title = true                # count those in the terminal's title: "chatroom (2 for you)"
    theme = "nord"              # a Textual theme (textual-dark, nord, gruvbox, ...)

A file that cannot be read is reported in one line and the defaults stand; the client
still starts.
"""

import contextlib
import os
import stat
import tempfile
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

import platformdirs

from chatroom.common.limits import DEFAULT_HOST, DEFAULT_PORT
from chatroom.utils.args import PORT_MAX, failure_reason

SETTINGS_VARIABLE = "CHATROOM_SETTINGS"
KINDS = {str: "a string in quotes", int: "a whole number", bool: "true or false"}


@dataclass(slots=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    username: str = ""
    bell: bool = True
    title: bool = True
    theme: str = ""
    """A Textual theme's name; empty for Textual's own default."""


def settings_path() -> Path:
    """`$CHATROOM_SETTINGS` if set, else settings.toml in the platform's config folder."""
    configured = os.environ.get(SETTINGS_VARIABLE)
    if configured:
        return Path(configured)
    return Path(platformdirs.user_config_dir("chatroom", appauthor=False)) / "settings.toml"


def load(path: Path) -> tuple[Settings, str | None]:
    """The settings in `path` (defaults where it says nothing, or if there is no file),
    and a one-line problem if the file could not be used as it is."""
    settings = Settings()
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return settings, None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        return settings, f"{path}: {failure_reason(error)}; using the defaults"
    problems = []
    for field in fields(Settings):
        if field.name not in values:
            continue
        value, kind = values[field.name], type(getattr(settings, field.name))
        if type(value) is not kind:
            problems.append(f"{field.name} must be {KINDS[kind]}")
            continue
        if field.name == "port" and not 0 < value <= PORT_MAX:
            problems.append(f"port must be from 1 to {PORT_MAX}, not {value}")
            continue
        setattr(settings, field.name, value)
    unknown = sorted(values.keys() - {f.name for f in fields(Settings)})
    if unknown:
        problems.append(f"unknown {', '.join(unknown)}")
    return settings, f"{path}: {'; '.join(problems)}" if problems else None


def save(settings: Settings, path: Path) -> None:
    """Write `settings` to `path` as TOML (every key, so the file shows what can be set)."""
    lines = []
    for field in fields(Settings):
        value = getattr(settings, field.name)
        if isinstance(value, bool):
            shown = "true" if value else "false"
        elif isinstance(value, int):
            shown = str(value)
        else:
            shown = '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
        lines.append(f"{field.name} = {shown}")
    text = "\n".join(lines) + "\n"
    target = path.resolve()  # a link to the file (from a dotfiles folder) stays a link
    if target.exists() and not target.is_file():  # /dev/null, say: never replaced
        target.write_text(text, encoding="utf-8")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written beside it, then renamed over it: whoever reads the file meanwhile (a command,
    # another app) reads the old file or the new one, whole, never a part of one.
    handle, scratch = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(scratch, _mode(target))
        os.replace(scratch, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(scratch)
        raise


def _mode(path: Path) -> int:
    """The permissions `path` has (0o644 if it is not there yet), for its next version."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o644


def remember_username(path: Path, username: str) -> bool:
    """Make `username` the one the login form offers next time, keeping what else the file
    says now (the person, or another app, may have changed it since it was read). A file
    with a problem is left alone (False): writing it would drop what could not be read.
    Raises OSError if the file cannot be written."""
    settings, problem = load(path)
    if problem is not None:
        return False
    if settings.username != username:
        settings.username = username
        save(settings, path)
    return True
