"""The client's settings file: read, written, and a broken one never stops the client."""

import os
import random
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from chatroom.client.settings import Settings, load, remember_username, save


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


def test_a_file_saved_by_many_at_once_is_always_read_whole(tmp_path: Path) -> None:
    """Two apps (or an app and a command) use the file at once: each reads the old file or
    the new one, never an empty or a half-written one."""
    path = tmp_path / "settings.toml"
    names = [f"user{n}" + "x" * (n * 7) for n in range(6)]  # of different lengths
    save(Settings(username=names[0]), path)
    read: list[tuple[Settings, str | None]] = []

    def write(name: str) -> None:
        for _ in range(300):
            save(Settings(username=name, theme="nord"), path)

    def watch() -> None:
        for _ in range(1500):
            read.append(load(path))

    with ThreadPoolExecutor(len(names) + 2) as pool:
        for future in [pool.submit(write, name) for name in names] + [
            pool.submit(watch) for _ in range(2)
        ]:
            future.result()
    assert len(read) == 3000
    assert all(problem is None and settings.username in names for settings, problem in read)
    assert [p.name for p in tmp_path.iterdir()] == ["settings.toml"]  # no scratch left


def test_the_username_is_remembered_and_the_rest_of_the_file_kept(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "chatroom.toml"
    save(Settings(port=9000), real)
    real.chmod(0o600)
    path = tmp_path / "settings.toml"
    path.symlink_to(real)
    path.write_text(real.read_text().replace('theme = ""', 'theme = "nord"'))  # by hand
    assert remember_username(path, "alice")
    assert load(path) == (Settings(port=9000, username="alice", theme="nord"), None)
    assert path.is_symlink() and stat.S_IMODE(real.stat().st_mode) == 0o600
    broken = 'port = "eighty"\ntheem = "nord"\n'  # being edited: left as it is
    real.write_text(broken)
    assert not remember_username(path, "bob")
    assert real.read_text() == broken


def test_a_settings_path_that_is_not_a_file_is_written_into_not_replaced(tmp_path: Path) -> None:
    """`CHATROOM_SETTINGS=/dev/null` (no settings kept) must leave /dev/null a device: a
    rename over it replaced it with a file. A pipe stands in for it here."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    reader = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)  # the other end, there at once
    try:
        save(Settings(username="alice"), pipe)
        written = os.read(reader, 65536)
    finally:
        os.close(reader)
    assert b'username = "alice"' in written
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]


def test_a_save_cut_off_by_a_kill_leaves_a_whole_file(tmp_path: Path) -> None:
    """The app killed while saving (a closed terminal): the file is the old one or the
    new one, never empty or cut short. Twenty kills, each in the middle of saving."""
    path = tmp_path / "settings.toml"
    saving = (
        "import sys; from pathlib import Path\n"
        "from chatroom.client.settings import Settings, save\n"
        "def name(n): return f'user{n % 7}' * 20\n"
        "save(Settings(username=name(0)), Path(sys.argv[1]))\n"
        "print(flush=True)\n"
        "for n in range(10**9): save(Settings(username=name(n)), Path(sys.argv[1]))\n"
    )
    for _ in range(20):
        process = subprocess.Popen(
            [sys.executable, "-c", saving, str(path)], stdout=subprocess.PIPE
        )
        assert process.stdout is not None and process.stdout.readline() == b"\n"  # saving now
        time.sleep(random.uniform(0, 0.02))  # a moment to kill it in, not a wait for anything
        process.kill()
        process.wait(10)
        settings, problem = load(path)
        assert problem is None and settings.username.startswith("user"), path.read_text()
