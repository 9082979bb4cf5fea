"""`python -m chatroom.client`: the same as `chatroom`."""

from chatroom.utils.programs import client

client()
