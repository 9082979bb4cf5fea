"""`python -m chatroom.server`: the same as `chatroom-server`."""

from chatroom.server.cli import main

main()
