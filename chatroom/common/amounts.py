"""How a count is said to a person, by the client and by the server's tools alike."""


def amount(count: int, thing: str) -> str:
    """`1 message`, `2 messages`, `1,000 members`: a count and what it counts (`thing`,
    in the singular, takes an s for any other count)."""
    return f"{count:,} {thing}{'s' * (count != 1)}"
