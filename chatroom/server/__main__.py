"""`python -m chatroom.server`: the same as `chatroom-server`."""

from chatroom.utils.programs import server

if __name__ == "__main__":
    server()
