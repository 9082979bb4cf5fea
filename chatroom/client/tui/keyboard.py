"""What the terminal types that is not UTF-8: read as U+FFFD, not the end of the keyboard.

Textual's input thread decodes the terminal's bytes as strict UTF-8, and the first byte
that is not UTF-8 (a terminal set to Latin-1 typing "é", a paste cut in the middle of a
character) ends that thread: the app then takes no more keys, and whatever was being
typed is lost (Textual issue #6456, open in 8.2.8). Its drivers take their decoder from
`codecs.getincrementaldecoder` by that name; each is given one that puts U+FFFD in place
of such bytes instead. Remove this once Textual decodes with errors="replace" itself.
"""

import codecs
from collections.abc import Callable
from functools import partial
from typing import Any

from textual.drivers import linux_driver, linux_inline_driver


def replacing_decoder(encoding: str) -> Callable[..., codecs.IncrementalDecoder]:
    """`codecs.getincrementaldecoder(encoding)`, made with errors="replace"."""
    return partial(codecs.getincrementaldecoder(encoding), errors="replace")


def tolerate_invalid_utf8() -> None:
    """Make Textual's terminal drivers read bytes that are not UTF-8 as U+FFFD."""
    drivers: list[Any] = [linux_driver, linux_inline_driver]
    for driver in drivers:
        driver.getincrementaldecoder = replacing_decoder
