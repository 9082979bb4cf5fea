"""`python -m chatroom.bench`: the same as `chatroom-bench`."""

from chatroom.bench.cli import main

main()
