"""The client's settings file: read, written, and a broken one never stops the client."""

from pathlib import Path

from chatroom.client.settings import Settings, load, save


def test_a_missing_file_means_the_defaults(tmp_path: Path) -> None:
    assert load(tmp_path / "none.toml") == (Settings(), None)


def test_what_is_saved_is_read_back(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "settings.toml"
    settings = Settings(host="chat.example.org", port=9000, username='Zoë "z"', bell=False)
    save(settings, path)
    assert load(path) == (settings, None)


def test_a_broken_file_is_one_line_and_the_good_keys_still_count(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('port = "eighty"\nbell = false\ncolour = "red"\n')
    settings, problem = load(path)
    assert settings == Settings(bell=False)
    assert problem == f"{path}: port must be a whole number; unknown colour"
    path.write_text("port = = 1\n")
    settings, problem = load(path)
    assert settings == Settings() and problem is not None and "\n" not in problem


def test_a_port_out_of_range_is_a_problem_and_the_default_stands(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('port = 70000\nhost = "chat.example.org"\n')
    settings, problem = load(path)
    assert settings == Settings(host="chat.example.org")
    assert problem == f"{path}: port must be from 1 to 65535, not 70000"


def test_a_settings_file_that_cannot_be_read_is_said_in_words(tmp_path: Path) -> None:
    settings, problem = load(tmp_path)  # a folder where the file should be
    assert settings == Settings()
    assert problem == f"{tmp_path}: is a directory; using the defaults"
