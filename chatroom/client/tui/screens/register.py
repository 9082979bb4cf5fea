"""Register: username, password and confirmation; errors inline; Esc goes back. A new
account is logged in at once."""

from textual import work
from textual.app import ComposeResult
from textual.widgets import Input

from chatroom.client.tui.screens.forms import FormScreen
from chatroom.client.tui.screens.login import LoggedIn
from chatroom.common.errors import ChatError
from chatroom.common.limits import PASSWORD_MIN, USERNAME_MAX, USERNAME_MIN


class RegisterScreen(FormScreen):
    """Dismissed with `LoggedIn` (registered and logged in), the registered username (if
    the login after it failed), or None if the user went back."""

    TITLE_TEXT = "Register"
    SUBMIT_LABEL = "Register"

    def fields(self) -> ComposeResult:
        yield Input(
            placeholder=f"Username ({USERNAME_MIN}-{USERNAME_MAX} letters, digits, _ - .)",
            id="username",
            max_length=USERNAME_MAX,
        )
        yield Input(
            placeholder=f"Password (at least {PASSWORD_MIN} characters)",
            password=True,
            id="password",
        )
        yield Input(placeholder="Password again", password=True, id="confirm")

    def submit(self) -> None:
        if self.confirmed("#password", "#confirm"):
            self.register(self.value("#username"), self.value("#password"))

    @work(exclusive=True)
    async def register(self, username: str, password: str) -> None:
        self.show_error("")
        try:
            client = await self.link.connection()
            registered = await client.register(username, password)
        except (ChatError, OSError) as error:
            self.show_error(self.explain(error))
            return
        try:  # and straight in: nobody registers to be sent back to the menu
            reply = await client.login(registered, password)
        except (ChatError, OSError):
            self.dismiss(registered)  # the menu says so, with the name ready to log in
            return
        self.dismiss(LoggedIn(client, reply, password))
