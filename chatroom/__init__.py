"""chatroom: a terminal chat system built on a small, documented binary protocol."""

__version__ = "0.1.0"
