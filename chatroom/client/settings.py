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

import os
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
            text = "true" if value else "false"
        elif isinstance(value, int):
            text = str(value)
        else:
            text = '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
        lines.append(f"{field.name} = {text}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
