"""docs/protocol.md is all a student has: every request, push, error code and feature the
server knows is described there."""

from pathlib import Path

import pytest

from chatroom.common.errors import ErrorCode
from chatroom.common.limits import Limits
from chatroom.common.messages import PushType, RequestType
from chatroom.server.handlers.accounts import FEATURES

DOC = (Path(__file__).parent.parent / "docs" / "protocol.md").read_text()
NAMES = (
    [f'"type": "{t.value}"' for t in [*RequestType, *PushType]]
    + [f"| `{c.value}` |" for c in ErrorCode]
    + [f"`{feature}`" for feature in FEATURES]
    + [f"`{key}`" for key in Limits().as_data()]
)


@pytest.mark.parametrize("name", NAMES)
def test_the_protocol_document_describes(name: str) -> None:
    assert name in DOC
