"""What each typed line asks the chat screen to do, parsed without a screen or a socket."""

from pathlib import Path

import pytest

from chatroom.client.replies import Member, Members
from chatroom.client.tui.commands import (
    HELP,
    PARSERS,
    DeleteNewest,
    ListUsers,
    Quit,
    RoomCommand,
    SaveFile,
    Say,
    SendFile,
    SendPrivate,
    ServerRequest,
    ShowHelp,
    Unknown,
    Usage,
    parse,
)
from chatroom.client.tui.rooms import members_line


def test_a_line_without_a_slash_is_said_to_the_conversation_as_typed() -> None:
    assert parse("  hello /msg  ") == Say("  hello /msg  ")


def test_msg_sends_the_rest_of_the_line_privately() -> None:
    assert parse("/msg bob hi") == SendPrivate(to="bob", text="hi")
    assert parse("/msg bob  at 5 ") == SendPrivate(to="bob", text=" at 5")


@pytest.mark.parametrize("line", ["/msg", "/msg bob", "/msg bob   ", "/msg  "])
def test_msg_without_a_name_or_text_explains_its_usage(line: str) -> None:
    assert parse(line) == Usage("Usage: /msg NAME TEXT")


def test_send_takes_a_path_and_an_optional_recipient() -> None:
    assert parse("/send plan.txt") == SendFile(path=Path("plan.txt"), to=None)
    assert parse("/send plan.txt bob") == SendFile(path=Path("plan.txt"), to="bob")
    assert parse("/send ~/plan.txt") == SendFile(path=Path("~/plan.txt").expanduser(), to=None)
    assert parse("/send") == Usage("Usage: /send PATH [NAME]")


def test_get_takes_a_file_number() -> None:
    assert parse("/get 42") == SaveFile(fid=42)
    for line in ["/get", "/get x", "/get -1", "/get 4 2", f"/get {2**63}"]:
        assert parse(line) == Usage("Usage: /get FID (the number shown with the file)")


def test_a_number_too_big_to_send_is_usage_not_a_crash() -> None:
    """msgpack carries no integer past 2**64 - 1 (the server none past 2**63 - 1): the
    app stopped with a traceback on `/delete 99999999999999999999`."""
    huge = "9" * 20
    assert isinstance(parse(f"/delete {huge}"), Usage)
    assert isinstance(parse(f"/ban pupil {huge} spam"), Usage)
    assert isinstance(parse(f"/mute pupil {huge}"), Usage)
    assert parse(f"/delete {2**63 - 1}") == ServerRequest(
        "delete", {"mid": 2**63 - 1}, f"Message {2**63 - 1} deleted."
    )


def test_delete_alone_is_the_users_last_message_and_a_bad_mid_is_usage() -> None:
    assert parse("/delete") == DeleteNewest()  # the chat screen finds which
    for line in ["/delete 0", "/delete x", "/delete -3", "/delete 4 2"]:
        assert isinstance(parse(line), Usage)


def test_commands_without_arguments() -> None:
    assert parse("/help") == ShowHelp()
    assert parse("/users") == ListUsers()
    assert parse("/quit") == Quit()


@pytest.mark.parametrize("line", ["/frobnicate", "/", "/MSG bob hi", "/help2"])
def test_an_unknown_command_is_a_value_naming_it(line: str) -> None:
    assert parse(line) == Unknown(line.split(" ")[0])


def test_every_command_is_in_the_help() -> None:
    for name in PARSERS:
        assert any(line.startswith(name + " ") for line in HELP), name


def test_create_private_makes_an_invite_only_room() -> None:
    assert parse("/create-private plans who does what") == RoomCommand(
        "room_create", "plans", "who does what", public=False
    )
    assert parse("/create plans").public is True  # type: ignore[union-attr]
    assert parse("/create-private") == Usage("Usage: /create-private ROOM [TOPIC]")


def test_members_are_counted_and_listed_online_first() -> None:
    assert parse("/members") == RoomCommand("room_members", None)
    assert parse("/members games") == RoomCommand("room_members", "games")
    alone = Members("solo", [Member("alice", True)], more=False)
    assert members_line(alone) == "#solo: 1 member; online: alice; offline: none"
    many = Members("big", [Member("bob", False), Member("alice", True)], more=True)
    assert members_line(many) == "#big: 2 members, and more; online: alice; offline: bob"
