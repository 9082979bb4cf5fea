"""Messages as plain text, one line each, for `chatroom history` and `chatroom search`.

Made for pipes, like `git log --oneline`: `2026-11-23 14:02 #lobby alice: hello`. A line
break or escape sequence inside a message is shown as its escape (see `visible`), so one
message is always exactly one line and cannot paint over the terminal.
"""

import time
from contextlib import aclosing

from chatroom.client.connection import ChatClient
from chatroom.common.actions import action_of
from chatroom.common.limits import PAGE_MAX
from chatroom.common.messages import FilePush, MessagePush
from chatroom.common.visible import visible

TIME_FORMAT = "%Y-%m-%d %H:%M"
"""Local time to the minute: sortable, and short enough to leave room for the text."""


def line(push: MessagePush | FilePush, text: str | None = None) -> str:
    """One message as a line: when, where (`#room`, or `@recipient` for a private one),
    who, and what (`text` instead of the message's own, such as a search snippet); an
    action (`/me waves`) as `* alice waves`."""
    when = time.strftime(TIME_FORMAT, time.localtime(push.ts))
    where = visible(f"#{push.room}" if push.room is not None else f"@{push.to}")
    if text is None and isinstance(push, MessagePush):
        if push.deleted:
            text = "(deleted)"
        elif (action := action_of(push.text)) is not None:
            return f"{when} {where} * {visible(push.sender)} {visible(action)}"
    if text is None:
        text = _file_text(push) if isinstance(push, FilePush) else push.text
    return f"{when} {where} {visible(push.sender)}: {visible(text)}"


def _file_text(push: FilePush) -> str:
    return f"[file {push.fid}] {push.name} ({push.size} bytes)"


async def recent(
    client: ChatClient,
    room: str | None,
    with_user: str | None,
    count: int | None,
) -> list[MessagePush | FilePush]:
    """The newest `count` messages of a conversation (all of them for None), oldest first.

    Pages come newest first, so they are kept and put in order at the end; no more pages
    are asked for than `count` needs.
    """
    size = PAGE_MAX if count is None else min(count, PAGE_MAX)
    pages: list[list[MessagePush | FilePush]] = []
    got = 0
    async with aclosing(client.history(room, with_user=with_user, limit=size)) as walk:
        async for page in walk:
            pages.append(page)
            got += len(page)
            if count is not None and got >= count:
                break
    messages = [message for page in reversed(pages) for message in page]
    return messages if count is None else messages[len(messages) - count :]
