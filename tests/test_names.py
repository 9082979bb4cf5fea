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
    assert username_key("\uff41lice") == username_key("alice")  # fullwidth a


@pytest.mark.parametrize(
    "look_alike",
    [
        "\u0430lice",  # Cyrillic small a
        "al\u0456ce",  # Cyrillic small Byelorussian-Ukrainian i
        "\u0251lice",  # Latin small alpha
        "\u0410LICE",  # Cyrillic capital A, which casefolds to the Cyrillic small a
        "\U0001d41alice",  # mathematical bold small a (NFKC alone already folds it)
    ],
)
def test_names_that_look_alike_are_the_same_user(look_alike: str) -> None:
    assert username_key(look_alike) == username_key("alice")


@pytest.mark.parametrize(
    ("name", "other"),
    [
        ("alice", "bob"),
        ("alice", "alicia"),
        ("neil", "nell"),
        ("さくら", "ゆうき"),
        ("田中", "山田"),
        ("王芳", "李娜"),
        ("анна", "anna"),  # Cyrillic н does not look like n
    ],
)
def test_names_that_look_different_are_different_users(name: str, other: str) -> None:
    assert username_key(name) != username_key(other)
