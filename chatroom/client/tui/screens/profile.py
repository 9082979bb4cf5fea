"""Your profile and status: display name, bio, status and its text, read from the server
when the screen opens and saved with Save (or Enter); Esc goes back unchanged. Opened
from the sidebar (pick yourself among who is online), F3 or /profile."""

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Select, Static

from chatroom.client.api import explained
from chatroom.client.tui.people import People
from chatroom.client.tui.session import ChatSession
from chatroom.common.errors import ChatError
from chatroom.common.limits import BIO_MAX, DISPLAY_NAME_MAX, STATUS_TEXT_MAX

STATUSES = [
    ("● online", "online"),
    ("◐ away", "away"),
    ("⊘ busy", "busy"),
    ("○ invisible: others see you offline", "invisible"),
]


class ProfileScreen(ModalScreen[str | None]):
    """Saving also tells `people` the user's new status."""

    BINDINGS = [Binding("escape", "close", "Back")]

    def __init__(self, session: ChatSession, people: People) -> None:
        super().__init__()
        self.session = session
        self.people = people
        self.loaded = False
        """Whether the fields show what the server has (a save before would undo it)."""

    def compose(self) -> ComposeResult:
        with Vertical(id="profile", classes="form"):
            yield Static(f"Your profile: {self.session.me}", classes="form-title")
            yield Input(placeholder="Display name", id="display-name", max_length=DISPLAY_NAME_MAX)
            yield Input(placeholder="About you (bio)", id="bio", max_length=BIO_MAX)
            yield Select(STATUSES, id="status", allow_blank=False, value="online")
            yield Input(placeholder="Status text", id="status-text", max_length=STATUS_TEXT_MAX)
            yield Static("", classes="form-error", markup=False)
            yield Button("Save", variant="primary", classes="form-submit")

    def on_mount(self) -> None:
        self.query_one("#display-name", Input).focus()
        self.load()

    @work(exclusive=True)
    async def load(self) -> None:
        try:
            me = await self.session.request("profile_get", username=self.session.me)
        except ChatError as error:
            self.show_error(f"Cannot read your profile: {explained(error)}")
            return
        self.query_one("#display-name", Input).value = me["display_name"]
        self.query_one("#bio", Input).value = me["bio"]
        self.query_one("#status", Select).value = me["status"]
        self.query_one("#status-text", Input).value = me["status_text"]
        self.loaded = True

    def show_error(self, message: str) -> None:
        self.query_one(".form-error", Static).update(message)

    def on_input_submitted(self) -> None:
        self.save()

    def on_button_pressed(self) -> None:
        self.save()

    @work(exclusive=True)
    async def save(self) -> None:
        display_name = self.query_one("#display-name", Input).value.strip()
        bio = self.query_one("#bio", Input).value.strip()
        status = str(self.query_one("#status", Select).value)
        text = self.query_one("#status-text", Input).value.strip()
        try:
            await self.session.request("profile_set", display_name=display_name, bio=bio)
            await self.session.request("status_set", status=status, status_text=text)
        except ChatError as error:
            self.show_error(f"Not saved: {explained(error)}")
            return
        self.people.set_mine(status, text)
        named = f"shown as {display_name}" if display_name else "no display name"
        self.dismiss(f"Profile saved: {named}; {status}{f' ({text})' if text else ''}.")

    def action_close(self) -> None:
        self.dismiss(None)
