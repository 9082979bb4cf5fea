"""The first screen, as in the classic exercise: 1 Login, 2 Register, 3 Quit."""

from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from chatroom.client.api import describe_os_error
from chatroom.client.tui.screens.login import LoggedIn, LoginScreen
from chatroom.client.tui.screens.register import RegisterScreen

if TYPE_CHECKING:
    from chatroom.client.tui.app import ChatApp


class MenuScreen(Screen[None]):
    app: "ChatApp"
    BINDINGS = [
        Binding("1", "login", "Login"),
        Binding("2", "register", "Register"),
        Binding("3", "quit", "Quit"),
        Binding("r", "retry", "Retry connection"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.username = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="menu"):
            yield Static("Welcome to chatroom", id="menu-title")
            yield Static(f"server {self.app.host}:{self.app.port}", id="menu-server", markup=False)
            yield OptionList(
                Option("1  Login", id="login"),
                Option("2  Register", id="register"),
                Option("3  Quit", id="quit"),
                id="menu-options",
            )
            yield Static("Choose (1-3): ", id="menu-prompt")
            yield Static("", id="menu-notice", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.check_server()

    def notice(self, text: str, error: bool = False) -> None:
        notice = self.query_one("#menu-notice", Static)
        notice.update(text)
        notice.set_class(error, "error")

    @work(exclusive=True)
    async def check_server(self) -> None:
        """Connect now, so an unreachable server is reported before anyone types."""
        app = self.app
        self.notice(f"Connecting to {app.host}:{app.port}...")
        try:
            await app.connection()
        except OSError as error:
            self.notice(
                f"Cannot reach {app.host}:{app.port}: {describe_os_error(error)}. "
                "Press R to retry.",
                error=True,
            )
        else:
            self.notice(f"Connected to {app.host}:{app.port}.")

    async def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        await self.run_action(event.option.id or "")

    def action_login(self) -> None:
        self.app.push_screen(LoginScreen(self.username), self.logged_in)

    def logged_in(self, login: LoggedIn | None) -> None:
        if login is not None:
            self.app.start_chat(login)

    def action_register(self) -> None:
        self.app.push_screen(RegisterScreen(), self.registered)

    def registered(self, username: str | None) -> None:
        if username:
            self.username = username
            self.notice(f"Registered {username}. Press 1 to log in.")

    async def action_quit(self) -> None:
        await self.app.action_quit_chat()

    def action_retry(self) -> None:
        self.check_server()
