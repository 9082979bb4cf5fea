"""`python -m chatroom.server`: the same as `chatroom-server`."""

from chatroom.server.cli import main

if __name__ == "__main__":
    main()
