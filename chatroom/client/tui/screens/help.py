"""The help screen (F1, or `?` on an empty input line): every key and every command."""

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from chatroom.client.tui.commands import HELP


def describe_keys(*binding_lists: list[BindingType]) -> list[str]:
    """`Ctrl+Q   Quit` for each binding with a description, from the bindings themselves
    so that the list is never out of date."""
    lines, seen = [], set()
    for bindings in binding_lists:
        for binding in bindings:
            if not isinstance(binding, Binding) or not binding.description:
                continue
            keys = " / ".join(_key_name(key) for key in binding.key.split(","))
            if keys not in seen:  # a key bound twice (app and screen) does one thing
                seen.add(keys)
                lines.append(f"{keys:<16} {binding.description}")
    return lines


def _key_name(key: str) -> str:
    """`ctrl+end` as `Ctrl+End`, `pageup` as `PageUp`."""
    *mods, name = key.split("+")
    name = {"pageup": "PageUp", "pagedown": "PageDown"}.get(name, name.title())
    return "+".join([*(mod.title() for mod in mods), name])


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "close", "Close")]

    def __init__(self, keys: list[str]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static("Keys  (Esc closes)", classes="help-title")
            yield Static("\n".join(self.keys), markup=False)
            yield Static("Commands", classes="help-title")
            yield Static("\n".join(HELP), markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
