"""Actions (`/me waves`): a convention among clients that protocol.md describes.

A text that starts with `/me ` is shown as `* alice waves`, as IRC's CTCP ACTION is; the
server stores and sends it as it is. Every place that shows messages to people (the TUI,
`chatroom history`, the transcripts of `chatroom-admin export`) reads it the same way.
"""

ACTION = "/me "
"""How an action is sent: as text starting with this."""


def action_of(text: str) -> str | None:
    """What the sender says they do (`waves` for `/me waves`); None if not an action."""
    return text[len(ACTION) :] if text.startswith(ACTION) and len(text) > len(ACTION) else None
