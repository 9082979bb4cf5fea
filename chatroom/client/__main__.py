"""`python -m chatroom.client`: the same as `chatroom`."""

from chatroom.client.cli import main

main()
