"""What the login and register screens share: a titled form with an inline error line."""

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Static

from chatroom.client.api import describe_os_error, explained
from chatroom.client.tui.link import ServerLink
from chatroom.common.errors import ChatError


class FormScreen(Screen[Any]):
    """A centred form: fields, a submit button, an error line; Esc goes back."""

    BINDINGS = [Binding("escape", "back", "Back")]
    TITLE_TEXT = ""
    SUBMIT_LABEL = ""

    def __init__(self, link: ServerLink) -> None:
        super().__init__()
        self.link = link

    def fields(self) -> ComposeResult:
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        with Vertical(classes="form"):
            yield Static(self.TITLE_TEXT, classes="form-title")
            yield from self.fields()
            yield Static("", classes="form-error", markup=False)
            yield Button(self.SUBMIT_LABEL, variant="primary", classes="form-submit")
        yield Footer()

    def on_mount(self) -> None:
        for field in self.query(Input):
            if not field.value:
                field.focus()
                break

    def action_back(self) -> None:
        self.dismiss(None)

    def show_error(self, message: str) -> None:
        self.query_one(".form-error", Static).update(message)

    def value(self, selector: str) -> str:
        return self.query_one(selector, Input).value

    def confirmed(self, password: str, again: str) -> bool:
        """Whether the fields `password` and `again` match; if not, the form says so and
        `again` is cleared for another try."""
        if self.value(password) == self.value(again):
            return True
        self.show_error("The passwords do not match.")
        self.query_one(again, Input).clear()
        self.query_one(again, Input).focus()
        return False

    def on_input_changed(self, event: Input.Changed) -> None:
        """The user types again: an error about the last attempt (a server that could not
        be reached, say) no longer holds. (Not when a field is emptied: the form clears
        the password itself after a failure.)"""
        if event.value:
            self.show_error("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter moves to the next empty field, or submits when all are filled."""
        for field in self.query(Input):
            if not field.value:
                field.focus()
                return
        self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.submit()

    def submit(self) -> None:
        raise NotImplementedError

    def explain(self, error: Exception) -> str:
        """One line for the user about a failed request."""
        if isinstance(error, ChatError):
            said = explained(error)
            return said[:1].upper() + said[1:]
        return f"Cannot reach {self.link.address}: {describe_os_error(error)}"
