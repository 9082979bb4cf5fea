"""Uploads and downloads under way: a progress bar for each, above the input line, and
the workers that run them."""

import time
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar

from chatroom.client.api import why_failed
from chatroom.client.tui.conversation import ConversationLog
from chatroom.client.tui.events import FileUploaded
from chatroom.client.tui.session import ChatSession
from chatroom.common.errors import ChatError
from chatroom.common.messages import FilePush


class TransferBar(Horizontal):
    def __init__(self, label: str, total: int) -> None:
        super().__init__(classes="transfer")
        self.label = label
        self.total = total

    def compose(self) -> ComposeResult:
        yield Label(self.label, classes="transfer-label", markup=False)
        yield ProgressBar(total=max(self.total, 1), show_eta=False)

    def advance_to(self, done: int, total: int) -> None:
        """A `Progress` callback for the client library."""
        self.query_one(ProgressBar).update(total=max(total, 1), progress=max(done, 0) or 0)


class Transfers(Vertical):
    """The transfers under way; each reports in the conversation it was started from."""

    def __init__(self, session: ChatSession, downloads: Path) -> None:
        super().__init__(id="transfers")
        self.session = session
        self.downloads = downloads
        """Where received files are saved."""
        self.received: list[int] = []
        """Fids of files received, oldest first; Ctrl+S saves the newest not yet saved."""
        self.told: dict[int, FilePush] = {}
        """Each file's `file` push, by fid: what a download needs to know of it, so that
        it need not ask `file_info` first."""

    def _bar(self, label: str, total: int) -> TransferBar:
        bar = TransferBar(label, total)
        self.mount(bar)
        return bar

    @work(group="transfers")
    async def send_file(
        self, path: Path, to: str | None, room: str | None, log: ConversationLog
    ) -> None:
        """Upload a file to `to`, or into `room` (both None: the group), resuming after
        each reconnection until it is sent or refused; `log` is told what went wrong."""
        if not path.is_file():
            log.write_notice(f"Not sent: {path} is not a file.", style="red")
            return
        bar = self._bar(f"↑ {path.name}", path.stat().st_size)
        try:
            sent = await self.session.upload(path, to, room, bar.advance_to)
        except (ChatError, OSError) as error:
            why = why_failed(error)
            log.write_notice(f"{path.name} not sent: {why}. /send again resumes.", style="red")
        else:
            me, name, size = self.session.me, path.name, sent.size
            self.post_message(
                FileUploaded(
                    FilePush(sent.fid, sent.mid, me, to, name, size, "", room, time.time())
                )
            )
        finally:
            await bar.remove()

    def told_of(self, push: FilePush) -> None:
        """A file came for the user: Ctrl+S saves the newest, as its push describes it."""
        self.received.append(push.fid)
        self.told[push.fid] = push

    def save_newest(self, log: ConversationLog) -> None:
        """Save the newest file received and not saved yet (Ctrl+S)."""
        if not self.received:
            log.write_notice("No received file waits to be saved.", style="red")
        else:
            self.save_file(self.received[-1], log)

    @work(group="transfers")
    async def save_file(self, fid: int, log: ConversationLog) -> None:
        bar = self._bar(f"↓ file {fid}", 0)
        try:
            path = await self.session.download(
                self.told.get(fid, fid), self.downloads, bar.advance_to
            )
        except (ChatError, OSError) as error:
            log.write_notice(f"File {fid} not saved: {why_failed(error)}", style="red")
        else:
            if fid in self.received:
                self.received.remove(fid)
            log.write_notice(f"Saved {path}", style="green")
        finally:
            await bar.remove()
