"""Login: username and masked password; wrong credentials inline; Esc goes back."""

from dataclasses import dataclass

from textual import work
from textual.app import ComposeResult
from textual.widgets import Input

from chatroom.client.api import ChatClient, LoginReply
from chatroom.client.tui.link import ServerLink
from chatroom.client.tui.screens.forms import FormScreen
from chatroom.common.errors import ChatError
from chatroom.common.limits import USERNAME_MAX


@dataclass(slots=True, frozen=True)
class LoggedIn:
    """What a successful login hands to the app for the chat session (the password, to log
    in again after a reconnection if the resume token no longer works)."""

    client: ChatClient
    reply: LoginReply
    password: str


class LoginScreen(FormScreen):
    """Dismissed with `LoggedIn` on success, or None if the user went back."""

    TITLE_TEXT = "Login"
    SUBMIT_LABEL = "Login"

    def __init__(self, link: ServerLink, username: str = "") -> None:
        super().__init__(link)
        self.prefill = username

    def fields(self) -> ComposeResult:
        yield Input(self.prefill, placeholder="Username", id="username", max_length=USERNAME_MAX)
        yield Input(placeholder="Password", password=True, id="password")

    def submit(self) -> None:
        self.login(self.value("#username"), self.value("#password"))

    @work(exclusive=True)
    async def login(self, username: str, password: str) -> None:
        self.show_error("")
        try:
            client = await self.link.connection()
            reply = await client.login(username, password)
        except (ChatError, OSError) as error:
            self.show_error(self.explain(error))
            self.query_one("#password", Input).clear()
            self.query_one("#password", Input).focus()
            return
        self.query_one("#password", Input).clear()
        self.dismiss(LoggedIn(client, reply, password))
