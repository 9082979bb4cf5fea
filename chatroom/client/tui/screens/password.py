"""A new password: the one in use, then the new one twice; errors inline; Esc goes back
unchanged. Opened with /password. Once it is changed the server logs out the user's
other sessions, and this one logs in again with the new password (and token)."""

from textual import work
from textual.app import ComposeResult
from textual.widgets import Input

from chatroom.client.tui.screens.forms import FormScreen
from chatroom.client.tui.session import ChatSession
from chatroom.common.errors import ChatError
from chatroom.common.limits import PASSWORD_MIN


class PasswordScreen(FormScreen):
    """Dismissed with True once the password is changed, None if the user went back."""

    TITLE_TEXT = "A new password"
    SUBMIT_LABEL = "Change"

    def __init__(self, session: ChatSession) -> None:
        super().__init__(session.link)
        self.session = session

    def fields(self) -> ComposeResult:
        yield Input(placeholder="The password you have now", password=True, id="password")
        yield Input(
            placeholder=f"New password (at least {PASSWORD_MIN} characters)",
            password=True,
            id="new",
        )
        yield Input(placeholder="New password again", password=True, id="confirm")

    def submit(self) -> None:
        if self.confirmed("#new", "#confirm"):
            self.change(self.value("#password"), self.value("#new"))

    @work(exclusive=True)
    async def change(self, password: str, new_password: str) -> None:
        self.show_error("")
        try:
            await self.session.change_password(password, new_password)
        except (ChatError, OSError) as error:
            self.show_error(self.explain(error))
            self.query_one("#password", Input).clear()
            self.query_one("#password", Input).focus()
            return
        self.dismiss(True)
