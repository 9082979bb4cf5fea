"""The requirements, one module per level; importing this package registers them all,
in the order they are checked (`chatroom.conformance.requirements.REQUIREMENTS`)."""

from chatroom.conformance.checks import (  # noqa: F401  (each module registers its own)
    additions,
    chat,
    files,
    mail,
    robustness,
    sessions,
)
from chatroom.conformance.requirements import REQUIREMENTS

__all__ = ["REQUIREMENTS"]
