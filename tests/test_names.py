"""Username rules: which names are valid, and which count as the same user."""

import pytest

from chatroom.common.errors import ChatError, ErrorCode
from chatroom.common.names import normalize_username, username_key


@pytest.mark.parametrize("name", ["bob", "Zoë", "名前です", "a.b-c_d", "x" * 32, "用户1"])
def test_valid_usernames(name: str) -> None:
    assert normalize_username(name) == name


@pytest.mark.parametrize("name", ["ab", "x" * 33, "bob smith", "bob/..", "bo\x00b", "", "a@b"])
def test_invalid_usernames(name: str) -> None:
    with pytest.raises(ChatError) as caught:
        normalize_username(name)
    assert caught.value.code == ErrorCode.INVALID_USERNAME


def test_compatibility_forms_normalise_to_the_same_name() -> None:
    assert normalize_username("\uff42\uff4f\uff42") == "bob"  # fullwidth b, o, b


def test_names_differing_only_in_case_are_the_same_user() -> None:
    assert username_key("Alice") == username_key("ALICE") == username_key("alice")
    assert username_key("Straße") == username_key("STRASSE")
