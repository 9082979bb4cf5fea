"""What the chat screen knows of people: who is online with which status, contacts and
their requests, whom the user blocked, and how each push about them reads.

No widgets here: the screen feeds it pushes and draws what it says (the sidebar's
lists, a notice in the log).
"""

from dataclasses import dataclass, field

from textual.content import Content

from chatroom.client.replies import LoginReply
from chatroom.client.tui.session import ChatSession
from chatroom.common.errors import ChatError
from chatroom.common.messages import PresenceBatchPush, PresencePush
from chatroom.common.readable import reading
from chatroom.common.visible import visible

MARKS = {"online": ("●", "green"), "away": ("◐", "yellow"), "busy": ("⊘", "red")}
"""How a status shows next to a name."""


@dataclass
class People:
    me: str
    statuses: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Everyone others see online, with their status and its text."""
    contacts: dict[str, str] = field(default_factory=dict)
    """Contacts and requests, by name: `contact`, `asked` or `asking`."""
    blocked: set[str] = field(default_factory=set)
    """Whom the user blocked: their messages in rooms are not shown."""
    contacts_kept: bool = True
    """Whether the server keeps contacts (one of the protocol's first version does not)."""

    @property
    def online(self) -> set[str]:
        return set(self.statuses)

    def logged_in(self, reply: LoginReply) -> None:
        """Who is online as a login says, with their statuses (a server from before
        statuses in the reply: those known stay, others are `online` until a push says
        more), and the status the user chose."""
        known = self.statuses if reply.statuses is None else {}
        chosen = reply.statuses or {}
        self.statuses = {
            name: _shown(chosen[name]) if name in chosen else known.get(name, ("online", ""))
            for name in reply.online
        }
        self.set_mine(reply.status, reply.status_text)

    def gone(self) -> None:
        """The session ended for good: who is online is no longer known."""
        self.statuses.clear()

    def presence(self, push: PresencePush | PresenceBatchPush) -> None:
        if isinstance(push, PresencePush):
            if push.online:
                self.statuses[push.username] = (push.status or "online", push.status_text or "")
            else:
                self.statuses.pop(push.username, None)
            return
        for name in push.offline:
            self.statuses.pop(name, None)
        for name in push.online:
            self.statuses[name] = _shown((push.statuses or {}).get(name, {}))

    def set_mine(self, status: str, text: str) -> None:
        """The user's own status: shown in the list to them even while invisible (the
        server tells the others, not them)."""
        self.statuses[self.me] = (status, text)

    async def load(self, session: ChatSession) -> bool:
        """Contacts and blocks, from the server (after each login); whether the sidebar
        has news: they came, or the server keeps none (not if disconnected meanwhile)."""
        self.contacts_kept = session.link.people
        if not self.contacts_kept:
            return True
        try:
            listed = await session.request("contacts")
            blocked = await session.request("blocks")
            with reading("the contacts reply"):
                contacts = {str(c["username"]): str(c["state"]) for c in listed["contacts"]}
            with reading("the blocks reply"):
                blocks = {str(name) for name in blocked["blocked"]}
        except (ChatError, OSError):
            return False
        self.contacts, self.blocked = contacts, blocks
        return True

    def contact_news(self, username: str, event: str) -> str:
        """Keep a `contact` push's news; how it reads."""
        name = visible(username)
        if event == "request":
            self.contacts[username] = "asking"
            return f"{name} asks to be your contact: /accept {name} or /decline {name}"
        if event == "accepted":
            self.contacts[username] = "contact"
            return f"{name} is now your contact."
        self.contacts.pop(username, None)
        return (
            f"{name} declined your request."
            if event == "declined"
            else f"{name} ended the contact."
        )

    def label(self, name: str) -> Content:
        """A name in the list of who is online: its status mark, and text if any."""
        status, text = self.statuses.get(name, ("online", ""))
        mark, style = MARKS.get(status, ("●", "green"))
        you = " (you)" if name == self.me else ""
        star = " ★" if self.contacts.get(name) == "contact" else ""
        parts: list[tuple[str, str] | str] = [(mark + " ", style), visible(name) + you + star]
        if text:
            parts.append((f" {visible(text)}", "dim"))
        return Content.assemble(*parts)

    def contact_labels(self) -> list[tuple[str, Content]]:
        """The contacts list: requests waiting for an answer first, then contacts."""
        rows = []
        for name, state in sorted(self.contacts.items(), key=lambda c: (c[1] != "asking", c[0])):
            if state == "asking":
                rows.append((name, Content.assemble(("? ", "bold yellow"), visible(name))))
            elif state == "contact":
                online = name in self.statuses
                mark = ("● ", "green") if online else ("○ ", "dim")
                rows.append((name, Content.assemble(mark, visible(name))))
            else:
                rows.append((name, Content.assemble(("… ", "dim"), (visible(name), "dim"))))
        return rows


def profile_lines(profile: dict[str, object]) -> list[str]:
    """A `profile_get` reply, as lines for the log."""
    name = visible(str(profile["username"]))
    shown = visible(str(profile.get("display_name") or ""))
    status = str(profile.get("status", ""))
    text = visible(str(profile.get("status_text") or ""))
    lines = [
        f"{name}" + (f" ({shown})" if shown else "") + f": {status}" + (f", {text}" if text else "")
    ]
    if profile.get("bio"):
        lines.append(visible(str(profile["bio"])))
    if profile.get("role") not in (None, "user"):
        lines.append(f"Role: {profile['role']}")
    return lines


def _shown(entry: dict[str, str]) -> tuple[str, str]:
    """An entry of `statuses` (a login reply's, a `presence_batch`'s) as (status, text)."""
    return entry.get("status", "online"), entry.get("status_text", "")
