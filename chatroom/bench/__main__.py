"""`python -m chatroom.bench`: the same as `chatroom-bench`."""

from chatroom.utils.programs import bench

bench()
