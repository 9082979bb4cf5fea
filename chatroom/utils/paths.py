"""Where chatroom keeps its files."""

import os
from pathlib import Path

import platformdirs

DATA_DIR_VARIABLE = "CHATROOM_DATA_DIR"


def default_downloads_dir() -> Path:
    """A `chatroom` folder in the user's downloads folder."""
    return Path(platformdirs.user_downloads_dir()) / "chatroom"


def default_data_dir() -> Path:
    """`$CHATROOM_DATA_DIR` if set, else the platform's user data folder for chatroom."""
    configured = os.environ.get(DATA_DIR_VARIABLE)
    if configured:
        return Path(configured)
    return Path(platformdirs.user_data_dir("chatroom", appauthor=False))
