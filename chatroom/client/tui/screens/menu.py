"""The first screen, as in the classic exercise: 1 Login, 2 Register, 3 Quit."""

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from chatroom.client.api import describe_os_error
from chatroom.client.tui.events import LoginWanted, QuitWanted, RegisterWanted
from chatroom.client.tui.link import ServerLink
from chatroom.common.errors import ChatError
from chatroom.common.visible import visible


class MenuScreen(Screen[None]):
    BINDINGS = [
        Binding("1", "login", "Login"),
        Binding("2", "register", "Register"),
        Binding("3", "quit", "Quit"),
        Binding("r", "retry", "Retry connection"),
    ]

    def __init__(self, link: ServerLink) -> None:
        super().__init__()
        self.link = link
        self.username = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="menu"):
            yield Static("Welcome to chatroom", id="menu-title")
            yield Static(f"server {self.link.address}", id="menu-server", markup=False)
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
        address = self.link.address
        self.notice(f"Connecting to {address}...")
        try:
            await self.link.connection()
        except OSError as error:
            self.notice(
                f"Cannot reach {address}: {describe_os_error(error)}. Press R to retry.",
                error=True,
            )
        except ChatError as error:  # `hello` answered with an error, unreadable, or not at all
            self.notice(f"{address}: {visible(error.message)}. Press R to retry.", error=True)
        else:
            self.notice(f"Connected to {self.link.servers.current}.")

    async def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        await self.run_action(event.option.id or "")

    def action_login(self) -> None:
        self.post_message(LoginWanted(self.username))

    def action_register(self) -> None:
        self.post_message(RegisterWanted())

    def registered(self, username: str | None) -> None:
        """The register form's result: remember the name for the login form."""
        if username:
            self.username = username
            self.notice(f"Registered {username}. Press 1 to log in.")

    def action_quit(self) -> None:
        self.post_message(QuitWanted())

    def action_retry(self) -> None:
        self.check_server()
