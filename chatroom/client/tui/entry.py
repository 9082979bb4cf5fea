"""The input line of the chat screen: what terminal chat people expect of it.

- Up and Down recall what was sent, per conversation (irssi, WeeChat); the line being
  typed is kept and comes back below the newest.
- What is typed and not sent stays with its conversation (WeeChat's buffers, and most chat
  apps): each tab shows its own unsent line, so none is sent where it was not meant to go.
- Tab completes: `/com` to a command, a name at the start of the line to `name: `, a name
  later in it to `name `; Tab again cycles through the other matches.
- A paste of several lines stays one message: each line break shows as `↵` and is sent
  as a line break, and the screen is told how many lines it holds.
"""

from collections.abc import Callable
from dataclasses import dataclass

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input

from chatroom.client.tui.events import HelpWanted

LINE_BREAK = "↵"
"""How a line break of a pasted text shows in the one-line input."""
HISTORY_MAX = 200
"""Lines remembered per conversation."""


@dataclass(slots=True)
class _Completion:
    """Where a run of Tabs is: the word it replaces, its matches, the one shown."""

    start: int
    matches: list[str]
    index: int
    shown: str
    """The line as the last Tab left it: any other change ends the run."""


class Entry(Input):
    BINDINGS = [
        Binding("up", "recall(-1)", "The line sent before", show=False),
        Binding("down", "recall(1)", "The line sent after", show=False),
        Binding("tab", "complete", "Complete a name or /command", show=False),
    ]

    class Pasted(Message):
        """Several lines were pasted: `lines` of them, now in the input as one message."""

        def __init__(self, lines: int) -> None:
            super().__init__()
            self.lines = lines

    def __init__(
        self,
        *,
        names: Callable[[], list[str]],
        commands: Callable[[], list[str]],
        placeholder: str = "",
        id: str | None = None,
    ) -> None:
        # Never select all on focus: the focus comes back after every click, and the
        # next key would replace the line.
        super().__init__(placeholder=placeholder, id=id, select_on_focus=False)
        self.names = names
        """Who may be completed: people, and rooms."""
        self.commands = commands
        self.conversation = ""
        """The conversation on screen (its pane id), whose history Up and Down walk."""
        self._history: dict[str, list[str]] = {}
        self._position: int | None = None
        """Which remembered line is shown (an index into the history), if any."""
        self._draft = ""
        """What was typed before Up was pressed, shown again below the newest line."""
        self._unsent: dict[str, str] = {}
        """Conversation -> what was typed there and not sent, while another is on screen."""
        self._completion: _Completion | None = None

    @property
    def message(self) -> str:
        """The line as it is to be sent: a pasted line break is a line break again."""
        return self.value.replace(LINE_BREAK, "\n")

    # -- history ---------------------------------------------------------------------

    def remember(self, line: str) -> None:
        """`line` was sent (or run) from the conversation on screen; clear the input."""
        self.remember_only(line)
        self._position = None
        self.clear()

    def give_back(self, line: str, conversation: str | None = None, title: str = "") -> str:
        """Put `line` (what could not be sent) back in the input of `conversation`, called
        `title` (the one on screen if None), if that is empty, else in its history; says
        where."""
        shown = line.replace("\n", LINE_BREAK)
        if conversation is None or conversation == self.conversation:
            if self.value:
                self.remember_only(line)
                return "Up brings it back"
            self._show(shown)  # the cursor at its end, to go on typing
            return "it is back in the input"
        if self._unsent.get(conversation):
            self.remember_only(line, conversation)
            return f"Up brings it back in {title}"
        self._unsent[conversation] = shown
        return f"it is back in the input of {title}"

    def remember_only(self, line: str, conversation: str | None = None) -> None:
        """Keep `line` in the history of `conversation` (else the one on screen) without
        touching what is being typed."""
        history = self._history.setdefault(conversation or self.conversation, [])
        if not history or history[-1] != line:
            history.append(line)
            del history[:-HISTORY_MAX]

    def action_recall(self, step: int) -> None:
        history = self._history.get(self.conversation, [])
        if not history:
            return
        if self._position is None:
            if step > 0:
                return
            self._draft = self.value
            position = len(history) - 1
        else:
            position = self._position + step
        if position < 0:
            return
        if position >= len(history):
            self._position = None
            self._show(self._draft)
            return
        self._position = position
        self._show(history[position])

    def _show(self, line: str) -> None:
        self.value = line
        self.cursor_position = len(line)

    def switch_to(self, conversation: str) -> None:
        """Another conversation is on screen: its own history, from its newest line, and
        what was typed there and not sent. What is typed stays with its conversation: a
        line half written to bob does not follow into the group's tab, to go to everyone."""
        if conversation != self.conversation:
            if self.value:
                self._unsent[self.conversation] = self.value
            self._show(self._unsent.pop(conversation, ""))
        self.conversation = conversation
        self._position = None

    # -- completion ------------------------------------------------------------------

    def action_complete(self) -> None:
        run = self._completion
        if run is None or run.shown != self.value:
            run = self._start_completion()
            if run is None:
                return
        else:
            run.index = (run.index + 1) % len(run.matches)
        end = self.cursor_position
        line = self.value[: run.start] + run.matches[run.index] + self.value[end:]
        self.value = line
        self.cursor_position = run.start + len(run.matches[run.index])
        run.shown = line
        self._completion = run

    def _start_completion(self) -> _Completion | None:
        before = self.value[: self.cursor_position]
        start = len(before) - len(before.split(" ")[-1])
        word = before[start:]
        if start == 0 and word.startswith("/"):
            choices = [f"{command} " for command in self.commands()]
        elif word:
            suffix = ": " if start == 0 else " "
            choices = [f"{name}{suffix}" for name in self.names()]
        else:
            return None
        folded = word.casefold()
        matches = sorted({c for c in choices if c.casefold().startswith(folded)}, key=str.casefold)
        if not matches:
            self.app.bell()
            return None
        return _Completion(start, matches, 0, "")

    async def _on_key(self, event: events.Key) -> None:
        if event.character == "?" and not self.value:  # on an empty line: the help
            event.stop()
            event.prevent_default()
            self.post_message(HelpWanted())
            return
        await super()._on_key(event)

    # -- pasting ---------------------------------------------------------------------

    def _on_paste(self, event: events.Paste) -> None:
        """Keep every line of a paste (Input keeps only the first), and say how many."""
        event.stop()
        event.prevent_default()  # Input's own handler, which would paste the first line again
        lines = event.text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        while len(lines) > 1 and not lines[-1]:
            lines.pop()  # the line break at the end of a copied block
        text = LINE_BREAK.join(lines)
        if not text:
            return
        selection = self.selection
        if selection.is_empty:
            self.insert_text_at_cursor(text)
        else:
            self.replace(text, *selection)
        if len(lines) > 1:
            self.post_message(self.Pasted(len(lines)))
