"""The chatroom server: accepts connections, runs one session per socket, stores in SQLite.

Layers, outermost first: `app` (listen, accept, shut down) → `connection` (one socket's
read loop and writes) → `handlers` (one function per request type) → `store` (SQLite) and
`hub` (who is online, and fan-out of pushes to their connections).
"""
